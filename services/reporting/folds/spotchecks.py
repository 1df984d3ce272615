"""spotchecks: a deterministic sample of each group's messages per local day for the
admins' regular spot checks (定期抽查), one document per group and local month with the
days as sub-documents (`days.<YYYY-MM-DD>.messages`, `.sample`).

The sample of a day is the `spot_checks_per_day` messages with the smallest stable hash
of their event id: the same on every replay, unpredictable to posters, and foldable as a
bounded sorted list ($push/$sort/$slice). A month document is bounded by 31 samples. The
review of a sampled message is a live human action, so it lives outside the projections,
in `spotcheck_reviews`.
"""

from __future__ import annotations

from services.reporting.folds.base import Batch, GroupContext, IndexSpec
from services.reporting.folds.common import message_kind, stable_hash
from services.reporting.folds.periods import day_label
from shared.events import Event, MessagePostedEvent
from shared.settings import Settings

NAME = "spotchecks"
REVIEWS = "spotcheck_reviews"
SAMPLE_TEXT_CHARS = 2000

INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
]


def doc_id(group_key: str, month: str) -> str:
    return f"{group_key}|{month}"


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    if not isinstance(event, MessagePostedEvent):
        return
    day = day_label(event.occurred_at, ctx.tz)
    delta = batch.doc(NAME, doc_id(ctx.group_key, day[:7]))
    delta.set_on_insert.update(group_key=ctx.group_key, month=day[:7])
    delta.inc[f"days.{day}.messages"] += 1
    if settings.spot_checks_per_day <= 0:
        return
    candidate = {
        "h": stable_hash(ctx.group_key, event.event_id),
        "event_id": event.event_id,
        "user_key": event.user_key,
        "message_id": event.payload.message_id,
        "text": event.payload.text[:SAMPLE_TEXT_CHARS],
        "kind": message_kind(event.payload),
        "attachments": [a.url for a in event.payload.attachments],
        "occurred_at": event.occurred_at,
    }
    delta.push_sorted_slice(f"days.{day}.sample", candidate, "h", settings.spot_checks_per_day)
