"""users: per group, user and ISO week, how a member posts (posting frequency and content
preferences of the weekly data review, 每周数据监测)."""

from __future__ import annotations

from datetime import datetime

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec
from services.reporting.folds.common import message_kind, user_key_of
from services.reporting.folds.periods import periods_of
from shared.events import Decision, Event, MessagePostedEvent
from shared.settings import Settings

NAME = "users"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("week_start", 1)], {"name": "group_week"}),
    ([("user_key", 1), ("group_key", 1), ("week_start", 1)], {"name": "user_group_week"}),
]


def _week_doc(
    batch: Batch, ctx: GroupContext, user_key: str, moment: datetime
) -> tuple[DocDelta, str]:
    day, week, _ = periods_of(moment, ctx.tz)
    delta = batch.doc(NAME, f"{ctx.group_key}|{user_key}|{week.label}")
    delta.set_on_insert.update(
        group_key=ctx.group_key, user_key=user_key, week=week.label, week_start=week.start
    )
    return delta, day.label


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, MessagePostedEvent):
        delta, day = _week_doc(batch, ctx, event.user_key, event.occurred_at)
        delta.inc["messages"] += 1
        delta.inc[f"kinds.{message_kind(event.payload)}"] += 1
        delta.add_to_set["days"].add(day)


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    target = user_key_of(ctx.group_key, decision.target_user_id)
    delta, _ = _week_doc(batch, ctx, target, decision.decided_at)
    delta.inc["violations"] += 1
    delta.inc[f"decisions.{decision.action}"] += 1
