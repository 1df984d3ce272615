"""activity: per group and local month, what the members did, with each day of the month
as a sub-document (`days.<YYYY-MM-DD>`).

One document per group and month, so a batch costs one write per group and month it
touches however many days it spans (the write target of the reporting issue). ISO weeks
are read as the sum of their days (distinct users as the union of the days' sets), which
is what a week document would hold. Distinct active users are sets of user keys (read as
their size); messages per active user and net growth are computed at read time.
"""

from __future__ import annotations

from datetime import datetime

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec
from services.reporting.folds.common import message_kind, month_doc
from shared.events import (
    Decision,
    Event,
    MemberJoinedEvent,
    MemberLeftEvent,
    MessagePostedEvent,
)
from shared.settings import Settings

NAME = "activity"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("granularity", 1), ("start", 1)], {"name": "group_period"}),
]


def doc_id(group_key: str, month: str) -> str:
    return f"{group_key}|month|{month}"


def _touch(batch: Batch, ctx: GroupContext, moment: datetime) -> tuple[DocDelta, str]:
    """The month document and the `days.<day>` prefix a moment falls in."""
    delta, day, _ = month_doc(batch, NAME, doc_id, ctx, moment, "period", granularity="month")
    return delta, f"days.{day.isoformat()}"


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, MessagePostedEvent):
        hour = event.occurred_at.astimezone(ctx.tz).hour
        kind = message_kind(event.payload)
        delta, day = _touch(batch, ctx, event.occurred_at)
        for prefix in ("", f"{day}."):
            delta.inc[f"{prefix}messages"] += 1
            delta.inc[f"{prefix}hourly.{hour}"] += 1
            delta.inc[f"{prefix}kinds.{kind}"] += 1
            delta.add_to_set[f"{prefix}users"].add(event.user_key)
    elif isinstance(event, MemberJoinedEvent | MemberLeftEvent):
        counter = "joins" if isinstance(event, MemberJoinedEvent) else "leaves"
        delta, day = _touch(batch, ctx, event.occurred_at)
        delta.inc[counter] += 1
        delta.inc[f"{day}.{counter}"] += 1


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    delta, day = _touch(batch, ctx, decision.decided_at)
    delta.inc[f"decisions.{decision.action}"] += 1
    delta.inc[f"{day}.decisions.{decision.action}"] += 1
