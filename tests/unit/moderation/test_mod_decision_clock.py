"""Decisions carry the clock and language of the rules that made them, so reporting dates
them in the group's zone even when it meets them before the group's rule change."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.moderation.engine import Engine, PartitionState
from shared.rules import default_ruleset
from tests.support.scenario import scripted_history


def test_every_decision_names_the_zone_and_language_in_force() -> None:
    engine = Engine(default_ruleset())
    state = PartitionState()
    seen = 0
    languages = set()
    for event in scripted_history():
        for d in engine.apply(state, event):
            rules = engine.rules_for(state, d.group_key)  # in force right after this event
            assert d.timezone is not None and ZoneInfo(d.timezone)
            assert (d.timezone, d.language) == (rules.rules.timezone, rules.language)
            languages.add(d.language)
            seen += 1
    assert seen > 10
    assert languages == {"zh-CN", "en"}  # the scripted rule change switches the language
