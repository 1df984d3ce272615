"""users: per group, ISO week and user, how a member posts (posting frequency and content
preferences of the weekly data review, 每周数据监测) and the decisions against them.

One document per group and month (`month`: the month of the week's Thursday, so a week
is never split, as ISO numbering does) with a sub-document per week and user
(`weeks.<YYYY-Www>.<escaped user key>`): a batch costs one write per group and month it
touches, not one per user and week. A document is bounded by the users active in the
month's weeks (about 150 bytes per user and week). `violations` and `decisions` are
what the rules held against the member: revokes (unmute, unban) and the decisions of a
person's act (rule `manual`, as before such acts became decisions) are not counted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec, field_key
from services.reporting.folds.common import is_violation, message_kind, user_key_of
from services.reporting.folds.periods import periods_of
from shared.events import Decision, Event, MessagePostedEvent
from shared.settings import Settings

NAME = "users"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
]


def doc_id(group_key: str, month: str) -> str:
    return f"{group_key}|{month}"


def _week_doc(
    batch: Batch, ctx: GroupContext, user_key: str, moment: datetime
) -> tuple[DocDelta, str, str]:
    """The month document, the `weeks.<week>.<user>` prefix and the local day of a moment."""
    day, week, _ = periods_of(moment, ctx.tz)
    month = (date.fromisoformat(week.start) + timedelta(days=3)).strftime("%Y-%m")
    delta = batch.doc(NAME, doc_id(ctx.group_key, month))
    delta.set_on_insert.update(group_key=ctx.group_key, month=month)
    return delta, f"weeks.{week.label}.{field_key(user_key)}", day.label


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, MessagePostedEvent):
        delta, user, day = _week_doc(batch, ctx, event.user_key, event.occurred_at)
        delta.inc[f"{user}.messages"] += 1
        delta.inc[f"{user}.kinds.{message_kind(event.payload)}"] += 1
        delta.add_to_set[f"{user}.days"].add(day)


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    if not is_violation(decision):
        return  # a revoke, or a person's act: not what the rules held against the member
    target = user_key_of(ctx.group_key, decision.target_user_id)
    delta, user, _ = _week_doc(batch, ctx, target, decision.decided_at)
    delta.inc[f"{user}.violations"] += 1
    delta.inc[f"{user}.decisions.{decision.action}"] += 1
