"""queue: the work waiting for people, one document per item (`GET /v1/queue`).

An item is opened by a record of the stream, so a rebuild opens the same items: `kind`
(one of KINDS, the kinds of work the product has), `ref` (what it is about: a decision id for
`enforcement`), `group_key`, `opened_at` (the record's occurred_at), `status` and a
`context` of the kind's own fields. Items are rare next to messages, so one document
each costs nothing against the write budget and lets the reads filter, sort and page in
the store (index: group, kind, status, opened_at).

Kinds join by adding an opener to OPENERS (a pure function: record -> item or None).
Only `enforcement` opens items yet; claiming and closing (case.claimed, the closing
events) come with the console: a closer will `$set` `status`, `assignee` and the like on
the item, so it must drop `status` from the item's `$setOnInsert` when both fall in one
batch (MongoDB refuses one path in two operators of an update).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.reporting.folds import enforcement
from services.reporting.folds.base import Batch, GroupContext, IndexSpec
from shared.events import Event
from shared.settings import Settings

NAME = "queue"
# Every kind of queue item the product has (docs/architecture.md, the queue).
KINDS = ("complaint", "escalation", "spotcheck", "appeal", "enforcement", "question", "content")
STATUSES = ("open", "claimed", "closed")

Opener = Callable[[Event, GroupContext], dict[str, Any] | None]
OPENERS: dict[str, Opener] = {
    "enforcement": enforcement.queue_item,
}
# The kinds the queue holds today, in KINDS order.
SERVED = tuple(k for k in KINDS if k in OPENERS)

INDEXES: list[IndexSpec] = [
    (
        [("group_key", 1), ("kind", 1), ("status", 1), ("opened_at", 1)],
        {"name": "group_kind_status_opened"},
    ),
]


def doc_id(group_key: str, kind: str, item_id: str) -> str:
    return f"{group_key}|{kind}|{item_id}"


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    for kind, opener in OPENERS.items():
        item = opener(event, ctx)
        if item is not None:
            batch.doc(NAME, doc_id(ctx.group_key, kind, item["id"])).set_on_insert.update(item)
