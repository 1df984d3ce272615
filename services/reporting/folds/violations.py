"""violations: every decision and manual sanction on record, with counters to read fast.

Two kinds of document, told apart by `kind`, each updated at most once per batch:
- "month": per group and local month (`month`, `start`, `end`):
  `days.<YYYY-MM-DD>` counters (decisions `total`, `by_rule`, `by_action`; manual
  `manual_total`, `sanctions`, `revoked`), `offenders.<user>` (decisions and sanctions
  against each user in the month: `count`, `by_action`, `by_rule`, `first_at`, `last_at`),
  `manual.<sanction id>` (each manual sanction applied in the month) and
  `revocations.<sanction id>` (each revocation made in the month);
- "decisions": per group and local ISO week (`week`, `start`, `end`): `items`, every
  decision of the week, kept sorted by (`at`, `decision_id`) in the store, so the list is
  the same whatever batches delivered it.
Revokes (unmute, unban decisions) are no violation, and the decisions a person's act
causes (rule `manual`) repeat a sanction counted from its event: both are left out.
User keys and ids used as field names are escaped (`base.field_key`). Repeat offenders
(two or more actions against one user, overall or in a month) are summed at read time.
"""

from __future__ import annotations

from datetime import datetime

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec, field_key
from services.reporting.folds.common import is_violation, month_doc, user_key_of
from services.reporting.folds.operators import operator_of
from services.reporting.folds.periods import local, week_period
from shared.events import Decision, Event, SanctionAppliedEvent, SanctionRevokedEvent
from shared.settings import Settings

NAME = "violations"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("kind", 1), ("start", 1)], {"name": "group_kind_start"}),
    ([("group_key", 1), ("kind", 1), ("month", 1)], {"name": "group_kind_month"}),
]


def month_doc_id(group_key: str, month: str) -> str:
    return f"{group_key}|month|{month}"


def week_doc_id(group_key: str, week: str) -> str:
    return f"{group_key}|decisions|{week}"


def _month(batch: Batch, ctx: GroupContext, at: datetime) -> tuple[DocDelta, str, str, str]:
    """The month document, the `days.<day>` prefix, the day and the month of a moment."""
    delta, day, period = month_doc(batch, NAME, month_doc_id, ctx, at, "month", kind="month")
    return delta, f"days.{day.isoformat()}", day.isoformat(), period.label


def _offense(delta: DocDelta, user_key: str, at: datetime, action: str) -> str:
    prefix = f"offenders.{field_key(user_key)}"
    delta.inc[f"{prefix}.count"] += 1
    delta.inc[f"{prefix}.by_action.{action}"] += 1
    delta.min_of(f"{prefix}.first_at", at)
    delta.max_of(f"{prefix}.last_at", at)
    return prefix


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    if not is_violation(decision):
        return  # a revoke, or a person's act (counted from its event)
    at = decision.decided_at
    month, day_prefix, day, month_label = _month(batch, ctx, at)
    user_key = user_key_of(ctx.group_key, decision.target_user_id)
    rule = field_key(decision.rule_id)
    month.inc[f"{day_prefix}.total"] += 1
    month.inc[f"{day_prefix}.by_rule.{rule}"] += 1
    month.inc[f"{day_prefix}.by_action.{decision.action}"] += 1
    prefix = _offense(month, user_key, at, decision.action)
    month.inc[f"{prefix}.by_rule.{rule}"] += 1

    week = week_period(local(at, ctx.tz).date())
    items = batch.doc(NAME, week_doc_id(ctx.group_key, week.label))
    items.set_on_insert.update(
        group_key=ctx.group_key, kind="decisions", week=week.label, start=week.start, end=week.end
    )
    items.push_sorted_all(
        "items",
        {
            "decision_id": decision.decision_id,
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
            "month": month_label,
        },
        ("at", "decision_id"),
    )


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, SanctionAppliedEvent):
        p = event.payload
        at = event.occurred_at
        month, day_prefix, day, month_label = _month(batch, ctx, at)
        user_key = user_key_of(ctx.group_key, p.target_user_id)
        by, role = operator_of(event)
        month.set[f"manual.{field_key(p.sanction_id)}"] = {
            "kind": "sanction",
            "sanction_id": p.sanction_id,
            "user_key": user_key,
            "target_user_id": p.target_user_id,
            "action": p.action,
            "duration_s": p.duration_s,
            "reason": p.reason,
            "by": by,
            "role": role,
            "event_id": event.event_id,
            "at": at,
            "day": day,
            "month": month_label,
        }
        month.inc[f"{day_prefix}.manual_total"] += 1
        month.inc[f"{day_prefix}.sanctions.{p.action}"] += 1
        _offense(month, user_key, at, p.action)
    elif isinstance(event, SanctionRevokedEvent):
        by, role = operator_of(event)
        month, day_prefix, _, _ = _month(batch, ctx, event.occurred_at)
        month.set[f"revocations.{field_key(event.payload.sanction_id)}"] = {
            "sanction_id": event.payload.sanction_id,
            "revoked_at": event.occurred_at,
            "revoke_reason": event.payload.reason,
            "revoked_by": by,
            "revoked_role": role,
        }
        month.inc[f"{day_prefix}.revoked"] += 1
