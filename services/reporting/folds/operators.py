"""operators: per group and local month, the manual work each operator did (sanctions
applied and revoked, complaints resolved), so admins can evaluate operations results.

One document per group and month with one sub-document per operator and role
(`operators.<escaped "role|name">`), so a batch costs one write per group and month; a
document is bounded by the group's operators."""

from __future__ import annotations

from services.reporting.folds.base import Batch, GroupContext, IndexSpec, field_key
from services.reporting.folds.periods import month_label
from shared.events import (
    ComplaintResolvedEvent,
    Event,
    SanctionAppliedEvent,
    SanctionRevokedEvent,
)
from shared.settings import Settings

NAME = "operators"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
]


def operator_of(event: Event) -> tuple[str, str]:
    """The person and role behind a manual event: the API actor when recorded, else the
    platform user who acted (and the role the payload claims, for sanctions)."""
    if event.actor is not None:
        return event.actor.name, event.actor.role
    if isinstance(event, SanctionAppliedEvent):
        return event.user_id, event.payload.by_role
    return event.user_id, "unknown"


def doc_id(group_key: str, month: str) -> str:
    return f"{group_key}|{month}"


def _counters(batch: Batch, ctx: GroupContext, event: Event) -> tuple[dict[str, float], str]:
    """The $inc map of the month document and the operator's sub-document prefix."""
    name, role = operator_of(event)
    month = month_label(event.occurred_at, ctx.tz)
    delta = batch.doc(NAME, doc_id(ctx.group_key, month))
    delta.set_on_insert.update(group_key=ctx.group_key, month=month)
    prefix = f"operators.{field_key(f'{role}|{name}')}"
    delta.set[f"{prefix}.operator"] = name
    delta.set[f"{prefix}.role"] = role
    delta.min_of(f"{prefix}.first_at", event.occurred_at)
    delta.max_of(f"{prefix}.last_at", event.occurred_at)
    return delta.inc, prefix


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, SanctionAppliedEvent):
        inc, prefix = _counters(batch, ctx, event)
        inc[f"{prefix}.sanctions_applied"] += 1
        inc[f"{prefix}.by_action.{event.payload.action}"] += 1
    elif isinstance(event, SanctionRevokedEvent):
        inc, prefix = _counters(batch, ctx, event)
        inc[f"{prefix}.sanctions_revoked"] += 1
    elif isinstance(event, ComplaintResolvedEvent):
        inc, prefix = _counters(batch, ctx, event)
        inc[f"{prefix}.resolutions"] += 1
        inc[f"{prefix}.{event.payload.outcome}"] += 1
