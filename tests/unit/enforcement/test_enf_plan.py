"""The enforcer's pure core: which steps a decision becomes on each platform, what is
scheduled for later, and how the steps' results make one outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.enforcement.plan import (
    MUTE_CAP_S,
    RENEW_AHEAD_S,
    Plan,
    StepRecord,
    effective_mode,
    outcome_of,
    plan_decision,
    record_event_id,
    renewal_plan,
)
from shared.events import Decision

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY = 86_400


def decision(action: str, platform: str = "discord", **extra: Any) -> Decision:
    values: dict[str, Any] = {
        "decision_id": f"d-{action}",
        "group_key": f"{platform}:100",
        "target_user_id": "42",
        "action": action,
        "rule_id": "spam",
        "ruleset_version": 3,
        "reason": "links are not allowed",
        "cause_event_ids": ["e1"],
        "decided_at": datetime.fromtimestamp(NOW - 5, UTC),
        "language": "en",
        "enforcement": "live",
        "notify": False,
        "target_message_id": "m1",
        "channel_id": "c1" if platform == "discord" else None,
    }
    values.update(extra)
    return Decision(**values)


def plan(d: Decision, now: float = NOW) -> Plan:
    return plan_decision(d, mode=d.enforcement or "dry_run", now=now, max_age_s=DAY)


def kinds(p: Plan) -> list[str]:
    return [s.step.kind for s in p.steps]


@pytest.mark.parametrize(
    ("action", "steps"),
    [
        ("warn", ["notice_group"]),
        ("remove_message", ["delete_message"]),
        ("mute", ["mute"]),
        ("unmute", ["unmute"]),
        ("kick", ["kick"]),
        ("ban", ["ban"]),
        ("unban", ["unban"]),
        ("escalate", []),
    ],
)
def test_each_action_is_one_primary_step(action: str, steps: list[str]) -> None:
    p = plan(decision(action, duration_s=600 if action == "mute" else None))
    assert kinds(p) == steps
    assert [s.primary for s in p.steps] == [True] * len(steps)


def test_a_mute_ends_at_the_decisions_time_plus_its_duration_whenever_it_is_planned() -> None:
    """The same absolute expiry on every attempt: a repeat after a crash changes nothing."""
    d = decision("mute", duration_s=600)
    first, later = plan(d, NOW), plan(d, NOW + 120)
    assert first.steps[-1].step.until == later.steps[-1].step.until == int(NOW - 5) + 600


def test_notices_come_before_the_removal_and_a_group_notice_stands_in_for_a_closed_dm() -> None:
    p = plan(decision("remove_message", notify=True))
    assert kinds(p) == ["notice_private", "notice_group", "delete_message"]
    assert [s.when for s in p.steps] == ["always", "undeliverable", "always"]
    assert p.steps[1].step.reply, "the stand-in replies to the message before it goes"
    assert "spam" in p.steps[0].step.text and "links are not allowed" in p.steps[0].step.text


def test_a_mute_longer_than_discords_cap_is_applied_for_the_cap_and_renewed() -> None:
    d = decision("mute", duration_s=40 * DAY)
    p = plan(d)
    start = int(NOW - 5)
    assert p.steps[-1].step.until == start + MUTE_CAP_S["discord"]
    (renew,) = p.scheduled
    assert renew.phase == "renew" and renew.final_until == start + 40 * DAY
    assert renew.due_at == start + MUTE_CAP_S["discord"] - RENEW_AHEAD_S
    step, after = renewal_plan(renew, now=renew.due_at, platform="discord")
    assert step.until == start + 40 * DAY and after is None, "the second piece reaches the end"


def test_onebot_mutes_stay_under_its_documented_maximum() -> None:
    p = plan(decision("mute", platform="onebot", duration_s=90 * DAY))
    until = p.steps[-1].step.until
    assert until is not None and until - int(NOW - 5) <= 2_591_999
    assert [s.phase for s in p.scheduled] == ["renew"]


def test_a_timed_discord_ban_is_permanent_on_the_platform_and_lifted_by_the_scheduler() -> None:
    p = plan(decision("ban", duration_s=DAY))
    assert p.steps[-1].step.until is None
    (lift,) = p.scheduled
    assert (lift.phase, lift.step and lift.step.kind) == ("lift", "unban")
    assert lift.due_at == int(NOW - 5) + DAY


def test_a_timed_onebot_ban_is_partial_with_a_reminder_for_admins() -> None:
    p = plan(decision("ban", platform="onebot", duration_s=DAY))
    assert p.partial and "do not expire" in p.partial
    assert [(s.phase, s.step) for s in p.scheduled] == [("remind", None)]
    done = [StepRecord("ban", "POST /set_group_kick", result="done")]
    assert outcome_of(p, done)[0] == "partial"


def test_a_telegram_ban_carries_its_own_expiry() -> None:
    p = plan(decision("ban", platform="telegram", duration_s=DAY))
    assert p.steps[-1].step.until == int(NOW - 5) + DAY and not p.scheduled


@pytest.mark.parametrize("action", ["mute", "ban"])
def test_slack_cannot_mute_or_ban_but_still_tells_the_member(action: str) -> None:
    p = plan(decision(action, platform="slack", duration_s=600 if action == "mute" else None))
    assert p.unsupported and "Slack" in p.unsupported
    assert kinds(p)[0] == "notice_private"
    records = [StepRecord(k, "x", result="done") for k in kinds(p)]
    assert outcome_of(p, records) == ("unsupported", p.unsupported)


def test_revokes_cancel_what_was_scheduled_for_the_member() -> None:
    assert plan(decision("unmute")).cancels == ("renew",)
    assert set(plan(decision("unban")).cancels) == {"lift", "renew", "remind"}


def test_what_cannot_be_carried_out_is_refused_with_the_reason() -> None:
    stale = decision("kick", decided_at=datetime.fromtimestamp(NOW - 2 * DAY, UTC))
    assert "too late" in (plan(stale).refused or "")
    over = decision("mute", duration_s=60, decided_at=datetime.fromtimestamp(NOW - 600, UTC))
    assert "time was over" in (plan(over).refused or "")
    nothing = decision("remove_message", target_message_id=None)
    assert "no message" in (plan(nothing).refused or "")
    assert outcome_of(plan(nothing), [])[0] == "failed"


def test_dry_run_is_not_refused_for_age() -> None:
    """dry_run calls nothing, so an old decision is still described (the demo's history)."""
    old = decision("kick", enforcement="dry_run", decided_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert plan(old).refused is None


@pytest.mark.parametrize(
    ("results", "outcome"),
    [
        (["done"], "executed"),
        (["already"], "executed"),
        (["failed"], "failed"),
        (["unsupported"], "unsupported"),
        (["unknown"], "unknown"),
    ],
)
def test_the_primary_step_decides_the_outcome(results: list[str], outcome: str) -> None:
    p = plan(decision("kick"))
    records = [StepRecord("kick", "DELETE /guilds/100/members/42", result=r) for r in results]  # type: ignore[arg-type]
    assert outcome_of(p, records)[0] == outcome


def test_a_lost_notice_makes_the_outcome_unknown_and_a_failed_one_partial() -> None:
    p = plan(decision("kick", notify=True))
    lost = [
        StepRecord("notice_private", "x", result="unknown", error="lost"),
        StepRecord("notice_group", "x", result="skipped"),
        StepRecord("kick", "x", result="done"),
    ]
    assert outcome_of(p, lost) == ("unknown", "lost")
    failed = [
        StepRecord("notice_private", "x", result="failed", error="50007"),
        StepRecord("notice_group", "x", result="failed", error="50013"),
        StepRecord("kick", "x", result="done"),
    ]
    assert outcome_of(p, failed)[0] == "partial"


def test_modes_kill_switch_missing_credentials_and_old_decisions() -> None:
    live = decision("kick")
    assert effective_mode(live, force_dry_run=False, has_credentials=True) == ("live", [])
    mode, notes = effective_mode(live, force_dry_run=True, has_credentials=True)
    assert mode == "dry_run" and "kill switch" in notes[0]
    mode, notes = effective_mode(live, force_dry_run=False, has_credentials=False)
    assert mode == "dry_run" and "credentials" in notes[0]
    v1 = decision("kick", enforcement=None, schema_version=1)
    mode, notes = effective_mode(v1, force_dry_run=False, has_credentials=True)
    assert mode == "dry_run" and "before" in notes[0]


def test_record_ids_are_derived_from_the_decision() -> None:
    assert record_event_id("d-1") == "enforcement:d-1"
    assert record_event_id("d-1", "lift") == "enforcement:d-1:lift:0"


def test_a_sanction_without_an_end_is_not_refused_as_over() -> None:
    """duration_s 0 (or none) is a sanction with no end, as moderation reads it."""
    p = plan(decision("ban", platform="telegram", duration_s=0))
    assert p.refused is None and p.steps[-1].step.until is None


def test_an_endless_mute_is_renewed_for_as_long_as_no_revoke_comes() -> None:
    p = plan(decision("mute", duration_s=None))
    (renew,) = p.scheduled
    assert renew.final_until is None
    step, after = renewal_plan(renew, now=renew.due_at, platform="discord")
    assert step.until == int(renew.due_at) + MUTE_CAP_S["discord"]
    assert after is not None and after.final_until is None


def test_a_new_sanction_replaces_what_was_scheduled_for_the_earlier_ones() -> None:
    """A permanent ban after a timed one: the timed one's lift must not undo it."""
    assert set(plan(decision("ban")).cancels) == {"lift", "renew", "remind"}
    assert plan(decision("mute", duration_s=600)).cancels == ("renew",)
