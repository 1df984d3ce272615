"""complaints: per group and local month, the complaints (用户投诉处理) filed and resolved in
it, one sub-document per complaint.

A resolution names only its complaint, not when it was filed, and a fold cannot read the
store, so a month document holds the filings of the month (`cases.<complaint id>`) and
the resolutions made in the month (`resolutions.<complaint id>`, ids also listed, sorted,
in `resolved_ids` for the index); the read side joins them into cases
(figures.merge_cases). One document per group and month bounds a batch to one write per
group and month, and a document by the month's complaints (about 1 KB each).

The first action on a case is the earliest of its resolution and any decision or manual
sanction against the target after filing. Decisions travel on another topic, so that
join also happens at read time, against the violations projection.
"""

from __future__ import annotations

from datetime import datetime

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec, field_key
from services.reporting.folds.common import month_doc, user_key_of
from services.reporting.folds.operators import operator_of
from shared.events import ComplaintFiledEvent, ComplaintResolvedEvent, Event
from shared.settings import Settings

NAME = "complaints"

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
    ([("group_key", 1), ("resolved_ids", 1)], {"name": "group_resolved"}),
]


def doc_id(group_key: str, month: str) -> str:
    return f"{group_key}|{month}"


def _month(batch: Batch, ctx: GroupContext, at: datetime) -> tuple[DocDelta, str, str]:
    delta, day, period = month_doc(batch, NAME, doc_id, ctx, at, "month")
    return delta, day.isoformat(), period.label


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if isinstance(event, ComplaintFiledEvent):
        p = event.payload
        month, day, label = _month(batch, ctx, event.occurred_at)
        # The whole case at once: a repeated filing replaces it, as a $set of each field did.
        month.set[f"cases.{field_key(p.complaint_id)}"] = {
            "group_key": ctx.group_key,
            "complaint_id": p.complaint_id,
            "event_id": event.event_id,
            "filed_at": event.occurred_at,
            "day": day,
            "month": label,
            "category": p.category,
            "reason": p.reason,
            "reporter": event.user_key,
            "target": user_key_of(ctx.group_key, p.target_user_id),
            "target_message_id": p.target_message_id,
        }
    elif isinstance(event, ComplaintResolvedEvent):
        r = event.payload
        month, _, _ = _month(batch, ctx, event.occurred_at)
        by, role = operator_of(event)
        prefix = f"resolutions.{field_key(r.complaint_id)}"
        month.set.update(
            {
                f"{prefix}.complaint_id": r.complaint_id,
                f"{prefix}.outcome": r.outcome,
                f"{prefix}.note": r.note,
                f"{prefix}.resolved_by": by,
                f"{prefix}.resolved_role": role,
            }
        )
        month.min_of(f"{prefix}.resolved_at", event.occurred_at)
        # Sorted, not $addToSet: the stored list must not depend on batch boundaries.
        month.push_sorted_all("resolved_ids", r.complaint_id)
