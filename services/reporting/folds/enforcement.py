"""enforcement: per group and local month, what moderation decided and what the enforcer
made of it on the platform (decided vs executed vs failed ...), per day, rule and action.

Two sources meet in one document, each folded once by the sink's usual rules (events by
their first occurrence, decisions once per decision id):
- decisions (modstream.decisions): `decided`; `unmute` and `unban` count here as the
  enforcement actions they are (they are no violation: the violations and users folds
  leave them out); `off` counts those decided while the group's enforcement mode was off
  (the enforcer records nothing for them, by design);
- `enforcement.recorded` events: phase `apply` counted by outcome (`apply.<outcome>`)
  and by the mode the enforcer ran in (`mode.<mode>`), the scheduler's later records (lift, renew, remind) by phase and outcome
  (`scheduled.<phase>.<outcome>`).
Escalations are left out on both sides: they make no platform call (the enforcer
records one with none) and wait for the group's admins instead.

Layout: `days.<YYYY-MM-DD>.<escaped rule>.<action>.<counter>`, so a batch costs one write
per group and month whatever it holds. The platform is the group's (`platform`, one per
document). `dry_run` keeps the month's latest DRY_RUN_KEPT dry-run records (what would
have been done), kept sorted in the store by an inverted time key, so the list is the
same whatever batches delivered the records. A record without a rule id counts under
the empty rule ("%00").

Records worth a person's attention also open queue items (`queue_item`, folded by the
queue projection).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec, field_key
from services.reporting.folds.common import month_doc, user_key_of
from shared.events import Decision, EnforcementRecordedEvent, Event
from shared.settings import Settings

NAME = "enforcement"
# Decisions that are no platform action: an escalation is handed to the admins.
NOT_ENFORCED = frozenset({"escalate"})
# Apply outcomes a person must look at, and the scheduler's records that ask for one.
NEEDS_PERSON = frozenset({"failed", "unsupported", "partial", "unknown"})
REMIND = "remind"
DRY_RUN_KEPT = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Above any time a record may carry (shared.events.LATEST, 2100) in microseconds.
_KEY_BASE = 10**16

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
]


def doc_id(group_key: str, month: str) -> str:
    return f"{group_key}|month|{month}"


def _cell(
    batch: Batch, ctx: GroupContext, at: datetime, rule: str | None, action: str
) -> tuple[DocDelta, str, str]:
    """The month document, the `days.<day>.<rule>.<action>` prefix and the local day."""
    delta, day, _ = month_doc(
        batch, NAME, doc_id, ctx, at, "month", platform=ctx.group_key.split(":", 1)[0]
    )
    return delta, f"days.{day.isoformat()}.{field_key(rule or '')}.{action}", day.isoformat()


def latest_first_key(at: datetime, event_id: str) -> str:
    """A key whose ascending order is newest first (then by event id), so a bounded sorted
    push keeps the latest records."""
    micros = (at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{_KEY_BASE - micros:017d} {event_id}"


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    if decision.action in NOT_ENFORCED:
        return
    delta, prefix, _ = _cell(batch, ctx, decision.decided_at, decision.rule_id, decision.action)
    delta.inc[f"{prefix}.decided"] += 1
    if decision.enforcement == "off":
        delta.inc[f"{prefix}.off"] += 1


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if not isinstance(event, EnforcementRecordedEvent):
        return
    p = event.payload
    if p.action in NOT_ENFORCED:
        return
    at = event.occurred_at
    delta, prefix, day = _cell(batch, ctx, at, p.rule_id, p.action)
    if p.phase == "apply":
        delta.inc[f"{prefix}.apply.{p.outcome}"] += 1
        delta.inc[f"{prefix}.mode.{p.mode}"] += 1
    else:
        delta.inc[f"{prefix}.scheduled.{p.phase}.{p.outcome}"] += 1
    if p.outcome == "dry_run":
        delta.push_sorted_slice(
            "dry_run",
            {
                "k": latest_first_key(at, event.event_id),
                "event_id": event.event_id,
                "decision_id": p.decision_id,
                "action": p.action,
                "phase": p.phase,
                "rule_id": p.rule_id,
                "target_user_id": event.user_id,
                "platform_call": p.platform_call,
                "calls": [{"step": c.step, "call": c.call} for c in p.calls],
                "at": at,
                "day": day,
            },
            "k",
            DRY_RUN_KEPT,
        )


def queue_item(event: Event, ctx: GroupContext) -> dict[str, Any] | None:
    """The queue item an enforcement record opens, or None: an apply that did not fully
    happen on the platform (failed, unsupported, partial, unknown) or a scheduler's
    reminder. One item per record (its event id), referring to the decision."""
    if not isinstance(event, EnforcementRecordedEvent):
        return None
    p = event.payload
    if not ((p.phase == "apply" and p.outcome in NEEDS_PERSON) or p.phase == REMIND):
        return None
    return {
        "id": event.event_id,
        "kind": "enforcement",
        "ref": p.decision_id,
        "group_key": ctx.group_key,
        "opened_at": event.occurred_at,
        "status": "open",
        "context": {
            "action": p.action,
            "outcome": p.outcome,
            "phase": p.phase,
            "error": p.error,
            "platform_call": p.platform_call,
            "attempts": p.attempts,
            "target_user_id": event.user_id,
            "user_key": user_key_of(ctx.group_key, event.user_id),
            "rule_id": p.rule_id,
            "mode": p.mode,
            "bot": p.bot,
            "note": p.note,
            "scheduled_at": p.scheduled_at,
        },
    }
