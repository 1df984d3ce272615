"""Small pure helpers the folds share: keys, message kinds, stable hashes, month documents."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, datetime

from services.reporting.folds.base import Batch, DocDelta, GroupContext
from services.reporting.folds.periods import Period, local, month_period
from shared.events import MANUAL_RULE, Decision, MessagePosted

_URL = re.compile(r"https?://\S", re.IGNORECASE)

# Kinds a message can count as, in the order of precedence: a message with a URL is a
# link whatever else it carries, so every message counts exactly once.
MESSAGE_KINDS = ("link", "image", "video", "audio", "file", "sticker", "other", "text")

# Decisions that lift a mute or ban (a revoke, an appeal overturned): enforcement actions
# like any other, but no violation and no sanction of the member, so the folds that count
# violations, offenders and sanctions leave them out.
REVOKE_ACTIONS = frozenset({"unmute", "unban"})
# Decisions with shared.events.MANUAL_RULE come from a person's act, which is on the events
# topic and counted from there (`manual`, `sanctions`, `revoked`): its decision would count
# it twice.


def is_violation(decision: Decision) -> bool:
    """Whether a decision counts as a violation of its target (the violations and users
    folds): not a revoke, and not a person's act (counted from its own event)."""
    return decision.action not in REVOKE_ACTIONS and decision.rule_id != MANUAL_RULE


def user_key_of(group_key: str, user_id: str) -> str:
    """Decisions carry the platform user id; the user key prefixes the group's platform."""
    platform = group_key.split(":", 1)[0]
    return f"{platform}:{user_id}"


def message_kind(message: MessagePosted) -> str:
    """The content kind a message counts as (content preferences, 内容偏好)."""
    if _URL.search(message.text):
        return "link"
    kinds = {a.kind for a in message.attachments}
    for kind in MESSAGE_KINDS[1:-1]:
        if kind in kinds:
            return kind
    return "text"


def stable_hash(*parts: str) -> str:
    """A hex digest that is the same on every run and machine (Python's hash() is not)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def month_doc(
    batch: Batch,
    collection: str,
    doc_id: Callable[[str, str], str],
    ctx: GroupContext,
    moment: datetime,
    label_as: str,
    **tags: str,
) -> tuple[DocDelta, date, Period]:
    """The document of the local month a moment falls in, with that local day and month.

    Created holding the group key, `tags`, the month's label (as `label_as`) and its
    first and last dates, in that order: what the reads filter and range month documents
    by, whichever fold keeps them."""
    day = local(moment, ctx.tz).date()
    period = month_period(day)
    delta = batch.doc(collection, doc_id(ctx.group_key, period.label))
    delta.set_on_insert.update(
        {
            "group_key": ctx.group_key,
            **tags,
            label_as: period.label,
            "start": period.start,
            "end": period.end,
        }
    )
    return delta, day, period
