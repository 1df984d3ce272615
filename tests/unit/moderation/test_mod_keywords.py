"""Keywords: evasion is defeated, clean text passes, and the original span is reported."""

from __future__ import annotations

import pytest

from shared.normalise import MessageText, normalise
from tests.support.modhelp import Run, msg, only

RULES = only(
    {
        "bad": {
            "kind": "keywords",
            "keywords": ["badword", "bad phrase", "傻逼", "发广告", "shit"],
            "allow": ["禁止发广告"],
        }
    }
)


def matched(text: str) -> str | None:
    out = Run(RULES).feed(msg(text))
    return out[0].matched if out else None


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("this is a badword here", "badword"),
        ("ＢＡＤＷＯＲＤ!", "ＢＡＤＷＯＲＤ"),  # full-width letters
        ("bad\u200bword", "bad\u200bword"),  # zero-width space
        ("b\u200da\u2060d\ufeffword", "b\u200da\u2060d\ufeffword"),  # joiners, word joiner, BOM
        ("so b a d w o r d ok", "b a d w o r d"),  # spaced-out letters
        ("b.a.d.w.o.r.d", "b.a.d.w.o.r.d"),
        ("B-A-D-W-O-R-D", "B-A-D-W-O-R-D"),
        ("what a Bad   Phrase", "Bad   Phrase"),
        ("你真是個傻逼啊", "傻逼"),
        ("有人發廣告了", "發廣告"),  # traditional characters
        ("傻 逼", "傻 逼"),
        ("S h i t!", "S h i t"),
    ],
)
def test_keyword_found_through_evasion_with_original_span(text: str, span: str) -> None:
    assert matched(text) == span


@pytest.mark.parametrize(
    "text",
    [
        "a perfectly normal message",
        "badwords are not a word here? no: badwordy",  # whole words only
        "is hit the ball",  # "s hit" is not a spaced-out "shit"
        "bad word",  # whole tokens longer than two letters are not evasion
        "群规：禁止发广告",  # allow-listed phrase containing a keyword
        "這是正常的消息",
        "",
    ],
)
def test_clean_text_does_not_match(text: str) -> None:
    assert matched(text) is None


def test_keyword_outside_the_allowed_phrase_still_matches() -> None:
    assert matched("禁止发广告，但他还在发广告") == "发广告"


def test_keyword_hit_removes_the_message_and_warns() -> None:
    out = Run(RULES).feed(msg("badword", user="42"))
    assert [(d.action, d.rule_id, d.target_user_id) for d in out] == [
        ("remove_message", "bad", "42"),
        ("warn", "bad", "42"),
    ]
    assert "badword" in out[0].reason


def test_whole_words_off_matches_inside_words() -> None:
    rules = only({"kw": {"kind": "keywords", "keywords": ["ass"], "whole_words": False}})
    assert Run(rules).feed(msg("classic"))


def test_evasion_off_ignores_spaced_letters() -> None:
    rules = only({"kw": {"kind": "keywords", "keywords": ["badword"], "evasion": False}})
    assert Run(rules).feed(msg("b a d w o r d")) == []
    assert Run(rules).feed(msg("ＢＡＤＷＯＲＤ"))


def test_normalise_folds_width_case_zero_width_and_traditional() -> None:
    assert normalise("Ｈｅｌｌｏ\u200b 世界, 發廣告") == "hello 世界 发广告"


def test_views_map_back_to_original() -> None:
    text = MessageText("xx ｆｏｏ\u200bbar yy")
    start = text.base.index("foobar")
    assert text.original_from_base(start, start + 6) == "ｆｏｏ\u200bbar"
