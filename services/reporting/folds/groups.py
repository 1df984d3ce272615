"""groups: one document per group: its language and time zone (from its rule set), a
member estimate (joins minus leaves) and when it was first and last seen."""

from __future__ import annotations

from services.reporting.folds.base import Batch, DocDelta, GroupContext, IndexSpec
from shared.events import (
    Decision,
    Event,
    MemberJoinedEvent,
    MemberLeftEvent,
    MessagePostedEvent,
    RulesetUpdatedEvent,
)
from shared.settings import Settings

NAME = "groups"

INDEXES: list[IndexSpec] = []  # read by _id only


def _doc(batch: Batch, ctx: GroupContext) -> DocDelta:
    delta = batch.doc(NAME, ctx.group_key)
    delta.set_on_insert.update(group_key=ctx.group_key, platform=ctx.group_key.split(":", 1)[0])
    return delta


def fold_event(batch: Batch, event: Event, ctx: GroupContext, settings: Settings) -> None:
    delta = _doc(batch, ctx)
    delta.min_of("first_event_at", event.occurred_at)
    delta.max_of("last_event_at", event.occurred_at)
    if isinstance(event, MessagePostedEvent):
        delta.inc["messages"] += 1
    elif isinstance(event, MemberJoinedEvent):
        delta.inc["joins"] += 1
    elif isinstance(event, MemberLeftEvent):
        delta.inc["leaves"] += 1
    elif isinstance(event, RulesetUpdatedEvent):
        rules = event.payload.rules
        for field in ("language", "timezone"):
            if isinstance(rules.get(field), str) and rules[field]:
                delta.set[field] = rules[field]
        delta.max_of("ruleset_version", event.payload.version)


def fold_decision(batch: Batch, decision: Decision, ctx: GroupContext) -> None:
    _doc(batch, ctx).inc["decisions"] += 1
