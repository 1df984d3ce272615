"""Recorded against replayed decisions: reproduction rate and what a what-if would change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.moderation.replay_diff import compare
from shared.events import Decision

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def dec(
    n: int, action: str = "warn", rule: str = "abuse-words", user: str = "7", **kw: Any
) -> Decision:
    values: dict[str, Any] = {
        "decision_id": f"d-{n}-{rule}-{action}",
        "group_key": "telegram:-1001",
        "target_user_id": user,
        "action": action,
        "rule_id": rule,
        "ruleset_version": 3,
        "reason": "why",
        "cause_event_ids": [f"e{n}"],
        "decided_at": T0 + timedelta(minutes=n),
    }
    values.update(kw)
    return Decision(**values)


def test_the_same_decisions_are_reproduced_at_100_percent() -> None:
    recorded = [dec(1), dec(2, "remove_message"), dec(3, "mute", duration_s=3600)]
    result = compare(recorded, list(reversed(recorded)))
    assert result.reproduced_pct == 100.0
    assert result.identical == 3
    assert result.changes == []


def test_a_decision_only_the_replay_makes_is_listed_as_added() -> None:
    recorded = [dec(1)]
    extra = dec(2, rule="strict-words", user="8")
    result = compare(recorded, [dec(1), extra])
    assert result.reproduced_pct == 100.0
    assert [(c.kind, c.after) for c in result.changes] == [("added", extra)]
    assert result.by_rule() == {"strict-words": {"added": 1, "removed": 0, "changed": 0}}
    assert result.by_user() == {"telegram:8": {"added": 1, "removed": 0, "changed": 0}}


def test_a_decision_the_replay_does_not_make_is_removed_and_lowers_the_rate() -> None:
    result = compare([dec(1), dec(2)], [dec(1)])
    assert result.reproduced_pct == 50.0
    assert [(c.kind, c.before) for c in result.changes] == [("removed", dec(2))]


def test_another_action_for_the_same_cause_and_rule_is_a_change_not_add_and_remove() -> None:
    before = dec(1, "warn")
    after = dec(1, "mute", duration_s=3600)  # a new id: the action is part of it
    result = compare([before], [after], strict=False)
    assert len(result.changes) == 1
    change = result.changes[0]
    assert change.kind == "changed"
    assert (change.before, change.after) == (before, after)
    assert set(change.fields) == {"action", "duration_s"}
    assert result.added == [] and result.removed == []


def test_a_longer_mute_under_the_same_id_is_a_change() -> None:
    before = dec(1, "mute", duration_s=3600)
    after = dec(1, "mute", duration_s=86400)
    result = compare([before], [after])
    assert [c.kind for c in result.changes] == ["changed"]
    assert result.changes[0].fields == ("duration_s",)
    assert result.reproduced_pct == 0.0


def test_another_rule_set_version_counts_only_when_strict() -> None:
    before = dec(1)
    after = dec(1, ruleset_version=1)
    assert [c.fields for c in compare([before], [after]).changes] == [("ruleset_version",)]
    relaxed = compare([before], [after], strict=False)
    assert relaxed.changes == [] and relaxed.identical == 1


def test_a_decision_re_emitted_with_the_same_id_counts_once() -> None:
    result = compare([dec(1), dec(1)], [dec(1)])
    assert (result.recorded, result.identical, result.reproduced_pct) == (1, 1, 100.0)
