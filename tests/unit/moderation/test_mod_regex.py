"""RE2 patterns: matched on the normalised text by default, invalid ones refused."""

from __future__ import annotations

import pytest

from shared.rules import RulesError, validate_rules
from tests.support.modhelp import Run, msg, only

RULES = only({"scam": {"kind": "regex", "patterns": [r"free\s*nitro", r"(日赚|月入)\s*\d{3,}"]}})


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("get FREE NITRO now", "FREE NITRO"),
        ("ｆｒｅｅ ｎｉｔｒｏ", "ｆｒｅｅ ｎｉｔｒｏ"),
        ("fr\u200bee nitro", "fr\u200bee nitro"),
        ("在家日賺 800元", "日賺 800"),  # traditional characters
    ],
)
def test_pattern_matches_normalised_text(text: str, span: str) -> None:
    out = Run(RULES).feed(msg(text))
    assert out and out[0].matched == span


@pytest.mark.parametrize("text", ["nitro is free? maybe", "日赚 12", "hello"])
def test_clean_text_does_not_match(text: str) -> None:
    assert Run(RULES).feed(msg(text)) == []


def test_original_mode_sees_the_raw_text() -> None:
    rules = only({"case": {"kind": "regex", "patterns": ["ABC"], "on": "original"}})
    assert Run(rules).feed(msg("xx ABC"))
    assert Run(rules).feed(msg("xx abc")) == []


def test_invalid_pattern_names_the_rule() -> None:
    raw = only({}).model_dump(mode="json")
    raw["detectors"] = {"my-re": {"kind": "regex", "patterns": ["ok", "(?<=a)b"]}}
    with pytest.raises(RulesError) as err:
        validate_rules(raw, "r.yaml")
    assert "detectors.my-re.patterns" in str(err.value)
    assert "patterns[1]" in str(err.value)
