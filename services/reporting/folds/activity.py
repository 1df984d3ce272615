"""activity: per group and local day, ISO week and month, what the members did.

Distinct active users are a set of user keys (read as its size); messages per active
user and net growth are computed at read time from the stored counters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.reporting.folds.base import Batch, GroupContext, IndexSpec
from services.reporting.folds.common import message_kind
from services.reporting.folds.periods import Period, periods_of
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


def doc_id(group_key: str, period: Period) -> str:
    return f"{group_key}|{period.granularity}|{period.label}"


def _touch(batch: Batch, ctx: GroupContext, moment: datetime) -> list[Any]:
    deltas = []
    for period in periods_of(moment, ctx.tz):
        delta = batch.doc(NAME, doc_id(ctx.group_key, period))
        delta.set_on_insert.update(
            group_key=ctx.group_key,
            granularity=period.granularity,
            period=period.label,
            start=period.start,
            end=period.end,
        )
        deltas.append(delta)
    return deltas


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, MessagePostedEvent):
        hour = event.occurred_at.astimezone(ctx.tz).hour
        kind = message_kind(event.payload)
        for delta in _touch(batch, ctx, event.occurred_at):
            delta.inc["messages"] += 1
            delta.inc[f"hourly.{hour}"] += 1
            delta.inc[f"kinds.{kind}"] += 1
            delta.add_to_set["users"].add(event.user_key)
    elif isinstance(event, MemberJoinedEvent):
        for delta in _touch(batch, ctx, event.occurred_at):
            delta.inc["joins"] += 1
    elif isinstance(event, MemberLeftEvent):
        for delta in _touch(batch, ctx, event.occurred_at):
            delta.inc["leaves"] += 1


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    for delta in _touch(batch, ctx, decision.decided_at):
        delta.inc[f"decisions.{decision.action}"] += 1
