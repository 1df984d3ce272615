"""The admins' spot-check verdicts: the one write of the read side (`spotcheck_reviews`).

A review is a live human action, not a fold of the stream, so it lives outside the
projections (see folds.spotchecks); `reads` reads it back into the review queue and the
monthly report.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.figures import Doc
from services.reporting.folds.base import IndexSpec
from services.reporting.folds.spotchecks import REVIEWS

REVIEW_INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
    ([("group_key", 1), ("event_id", 1)], {"name": "group_event"}),
]


async def record_review(
    db: AsyncDatabase,
    group_key: str,
    event_id: str,
    day: str,
    outcome: str,
    note: str,
    reviewer: str,
    role: str,
    reviewed_at: datetime,
) -> Doc:
    """Store an admin's spot-check verdict (the latest counts; earlier ones stay in
    `history`, so a changed verdict is on record)."""
    review = {
        "outcome": outcome,
        "note": note,
        "reviewer": reviewer,
        "role": role,
        "reviewed_at": reviewed_at,
    }
    await db[REVIEWS].update_one(
        {"_id": f"{group_key}|{event_id}"},
        {
            "$set": {
                **review,
                "group_key": group_key,
                "event_id": event_id,
                "day": day,
                "month": day[:7],
            },
            "$push": {"history": review},
        },
        upsert=True,
    )
    return {"group_key": group_key, "event_id": event_id, "day": day, **review}


async def ensure_review_indexes(db: AsyncDatabase) -> None:
    """Indexes of `spotcheck_reviews` (not a projection, so not in folds.index_specs)."""
    await db[REVIEWS].create_indexes([IndexModel(k, **o) for k, o in REVIEW_INDEXES])
