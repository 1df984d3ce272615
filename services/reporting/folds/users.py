"""users: per group and ISO week, how each member posts (posting frequency and content
preferences of the weekly data review, 每周数据监测), one sub-document per user.

One document per group and week (`users.<escaped user key>`), not one per user and week,
so a batch costs one write per group and week it touches. A week's document is bounded
by the group's weekly active users (about 150 bytes each).
"""

from __future__ import annotations

from datetime import datetime

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec, field_key
from services.reporting.folds.common import message_kind, user_key_of
from services.reporting.folds.periods import periods_of
from shared.events import Decision, Event, MessagePostedEvent
from shared.settings import Settings

NAME = "users"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("week_start", 1)], {"name": "group_week"}),
]


def doc_id(group_key: str, week: str) -> str:
    return f"{group_key}|{week}"


def _week_doc(
    batch: Batch, ctx: GroupContext, user_key: str, moment: datetime
) -> tuple[DocDelta, str, str]:
    """The week document, the `users.<user>` prefix and the local day of a moment."""
    day, week, _ = periods_of(moment, ctx.tz)
    delta = batch.doc(NAME, doc_id(ctx.group_key, week.label))
    delta.set_on_insert.update(
        group_key=ctx.group_key, week=week.label, week_start=week.start, week_end=week.end
    )
    return delta, f"users.{field_key(user_key)}", day.label


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, MessagePostedEvent):
        delta, user, day = _week_doc(batch, ctx, event.user_key, event.occurred_at)
        delta.inc[f"{user}.messages"] += 1
        delta.inc[f"{user}.kinds.{message_kind(event.payload)}"] += 1
        delta.add_to_set[f"{user}.days"].add(day)


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    target = user_key_of(ctx.group_key, decision.target_user_id)
    delta, user, _ = _week_doc(batch, ctx, target, decision.decided_at)
    delta.inc[f"{user}.violations"] += 1
    delta.inc[f"{user}.decisions.{decision.action}"] += 1
