"""complaints: one case document per complaint (用户投诉处理), from filing to resolution.

The first action on a case is the earliest of its resolution and any decision or manual
sanction against the target after filing. Decisions travel on another topic and a fold
cannot look up which cases a target has open, so that join happens at read time against
the violations projection (queries.complaint_figures); the case keeps what the stream
of its own group says.
"""

from __future__ import annotations

from services.reporting.folds.base import Batch, GroupContext, IndexSpec
from services.reporting.folds.common import user_key_of
from services.reporting.folds.operators import operator_of
from services.reporting.folds.periods import day_label, month_label
from shared.events import ComplaintFiledEvent, ComplaintResolvedEvent, Event
from shared.settings import Settings

NAME = "complaints"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("resolved", 1), ("filed_at", -1)], {"name": "group_status"}),
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
    ([("reporter", 1), ("group_key", 1)], {"name": "reporter_group"}),
    ([("target", 1), ("group_key", 1)], {"name": "target_group"}),
]


def case_id(group_key: str, complaint_id: str) -> str:
    return f"{group_key}|{complaint_id}"


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, ComplaintFiledEvent):
        p = event.payload
        case = batch.doc(NAME, case_id(ctx.group_key, p.complaint_id))
        case.set.update(
            group_key=ctx.group_key,
            complaint_id=p.complaint_id,
            event_id=event.event_id,
            filed_at=event.occurred_at,
            day=day_label(event.occurred_at, ctx.tz),
            month=month_label(event.occurred_at, ctx.tz),
            category=p.category,
            reason=p.reason,
            reporter=event.user_key,
            target=user_key_of(ctx.group_key, p.target_user_id),
            target_message_id=p.target_message_id,
        )
        # $max on a boolean: a filing never reopens a case resolved before it was folded.
        case.max_of("resolved", False)
    elif isinstance(event, ComplaintResolvedEvent):
        r = event.payload
        case = batch.doc(NAME, case_id(ctx.group_key, r.complaint_id))
        by, role = operator_of(event)
        case.set.update(
            group_key=ctx.group_key,
            complaint_id=r.complaint_id,
            outcome=r.outcome,
            note=r.note,
            resolved_by=by,
            resolved_role=role,
        )
        case.min_of("resolved_at", event.occurred_at)
        case.max_of("resolved", True)
