"""operators: per group, operator, role and local month, the manual work done (sanctions
applied and revoked, complaints resolved), so admins can evaluate operations results."""

from __future__ import annotations

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec
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


def _doc(batch: Batch, ctx: GroupContext, event: Event) -> DocDelta:
    name, role = operator_of(event)
    month = month_label(event.occurred_at, ctx.tz)
    delta = batch.doc(NAME, f"{ctx.group_key}|{month}|{role}|{name}")
    delta.set_on_insert.update(group_key=ctx.group_key, month=month, operator=name, role=role)
    delta.min_of("first_at", event.occurred_at)
    delta.max_of("last_at", event.occurred_at)
    return delta


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, SanctionAppliedEvent):
        delta = _doc(batch, ctx, event)
        delta.inc["sanctions_applied"] += 1
        delta.inc[f"by_action.{event.payload.action}"] += 1
    elif isinstance(event, SanctionRevokedEvent):
        _doc(batch, ctx, event).inc["sanctions_revoked"] += 1
    elif isinstance(event, ComplaintResolvedEvent):
        delta = _doc(batch, ctx, event)
        delta.inc["resolutions"] += 1
        delta.inc[event.payload.outcome] += 1
