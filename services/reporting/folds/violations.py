"""violations: every decision and manual sanction on record, with counters to read fast.

One collection holds four kinds of document, told apart by `kind`:
- "decision": one per decision, inserted once (_id = decision_id);
- "sanction": one per manual sanction (sanction.applied; revocation fields added later);
- "daily": per group and local day, decisions by rule and action, sanctions by action;
- "offender": per group and user, every decision and sanction against them (repeat
  offenders are those with a count of two or more, overall or in a month).
"""

from __future__ import annotations

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec, field_key
from services.reporting.folds.common import user_key_of
from services.reporting.folds.operators import operator_of
from services.reporting.folds.periods import day_label, month_label
from shared.events import Decision, Event, SanctionAppliedEvent, SanctionRevokedEvent
from shared.settings import Settings

NAME = "violations"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("kind", 1), ("day", 1)], {"name": "group_kind_day"}),
    ([("group_key", 1), ("kind", 1), ("at", -1)], {"name": "group_kind_at"}),
    ([("group_key", 1), ("kind", 1), ("count", -1)], {"name": "group_kind_count"}),
    ([("user_key", 1), ("group_key", 1), ("at", 1)], {"name": "user_group_at"}),
]


def _daily(batch: Batch, ctx: GroupContext, day: str) -> DocDelta:
    delta = batch.doc(NAME, f"{ctx.group_key}|day|{day}")
    delta.set_on_insert.update(group_key=ctx.group_key, kind="daily", day=day, month=day[:7])
    return delta


def _offender(batch: Batch, ctx: GroupContext, user_key: str) -> DocDelta:
    delta = batch.doc(NAME, f"{ctx.group_key}|user|{user_key}")
    delta.set_on_insert.update(group_key=ctx.group_key, kind="offender", user_key=user_key)
    return delta


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    at = decision.decided_at
    day, month = day_label(at, ctx.tz), month_label(at, ctx.tz)
    user_key = user_key_of(ctx.group_key, decision.target_user_id)
    batch.insert(
        NAME,
        {
            "_id": decision.decision_id,
            "kind": "decision",
            "group_key": ctx.group_key,
            "user_key": user_key,
            "target_user_id": decision.target_user_id,
            "rule_id": decision.rule_id,
            "ruleset_version": decision.ruleset_version,
            "action": decision.action,
            "duration_s": decision.duration_s,
            "reason": decision.reason,
            "cause_event_ids": list(decision.cause_event_ids),
            "case_id": decision.case_id,
            "decided_at": at,
            "at": at,
            "day": day,
            "month": month,
        },
    )
    daily = _daily(batch, ctx, day)
    daily.inc["total"] += 1
    daily.inc[f"by_rule.{field_key(decision.rule_id)}"] += 1
    daily.inc[f"by_action.{decision.action}"] += 1

    offender = _offender(batch, ctx, user_key)
    offender.inc["count"] += 1
    offender.inc[f"by_month.{month}"] += 1
    offender.inc[f"by_action.{decision.action}"] += 1
    offender.inc[f"by_rule.{field_key(decision.rule_id)}"] += 1
    offender.min_of("first_at", at)
    offender.max_of("last_at", at)


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, SanctionAppliedEvent):
        p = event.payload
        at = event.occurred_at
        day, month = day_label(at, ctx.tz), month_label(at, ctx.tz)
        user_key = user_key_of(ctx.group_key, p.target_user_id)
        by, role = operator_of(event)
        sanction = batch.doc(NAME, f"{ctx.group_key}|sanction|{p.sanction_id}")
        sanction.set.update(
            kind="sanction",
            group_key=ctx.group_key,
            sanction_id=p.sanction_id,
            user_key=user_key,
            target_user_id=p.target_user_id,
            action=p.action,
            duration_s=p.duration_s,
            reason=p.reason,
            by=by,
            role=role,
            event_id=event.event_id,
            at=at,
            day=day,
            month=month,
        )
        daily = _daily(batch, ctx, day)
        daily.inc["manual_total"] += 1
        daily.inc[f"sanctions.{p.action}"] += 1

        offender = _offender(batch, ctx, user_key)
        offender.inc["count"] += 1
        offender.inc[f"by_month.{month}"] += 1
        offender.inc[f"by_action.{p.action}"] += 1
        offender.min_of("first_at", at)
        offender.max_of("last_at", at)
    elif isinstance(event, SanctionRevokedEvent):
        by, role = operator_of(event)
        sanction = batch.doc(NAME, f"{ctx.group_key}|sanction|{event.payload.sanction_id}")
        sanction.set.update(
            kind="sanction",
            group_key=ctx.group_key,
            sanction_id=event.payload.sanction_id,
            revoked_at=event.occurred_at,
            revoke_reason=event.payload.reason,
            revoked_by=by,
            revoked_role=role,
        )
        _daily(batch, ctx, day_label(event.occurred_at, ctx.tz)).inc["revoked"] += 1
