"""The queue as people read it (pure): items with their age, a page of them.

The items themselves are the queue projection's documents (folds/queue.py), filtered,
sorted oldest first and paged in the store by `reads.queue`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.reporting.figures import Doc, aware


def queue_item(doc: Mapping[str, Any], now: datetime) -> Doc:
    """An item as the queue shows it: its age now; assignee and due time stay null until
    claims and SLAs reach the queue."""
    opened = aware(doc.get("opened_at"))
    age = None if opened is None else max(0.0, (now - opened).total_seconds())
    return {
        "id": doc.get("id"),
        "kind": doc.get("kind"),
        "ref": doc.get("ref"),
        "group_key": doc.get("group_key"),
        "opened_at": opened,
        "age_s": None if age is None else round(age, 3),
        "status": doc.get("status"),
        "assignee": doc.get("assignee"),
        "due_at": doc.get("due_at"),
        "context": dict(doc.get("context") or {}),
    }


def queue_page(docs: Sequence[Mapping[str, Any]], now: datetime, limit: int, offset: int) -> Doc:
    """A page of items from up to `limit` + 1 documents read (oldest first) at `offset`;
    `now` is an aware time (the ages are counted to it)."""
    return {
        "as_of": now,
        "items": [queue_item(d, now) for d in docs[:limit]],
        "next_offset": offset + limit if len(docs) > limit else None,
    }
