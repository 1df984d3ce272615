"""The projections as pure folds: records in, document deltas (a `Batch`) out.

The sink calls `fold_event` for every event and `fold_decision` for every decision (once
per decision_id: it deduplicates first), inside one batch, then writes the batch with its
checkpoint in one transaction. Nothing here reads a clock, a random source or the store,
so a replay from offset zero rebuilds every document exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from services.reporting.folds import (
    activity,
    complaints,
    enforcement,
    groups,
    operators,
    queue,
    spotchecks,
    users,
    violations,
)
from services.reporting.folds.base import Batch, GroupContext, IndexSpec
from shared.events import Decision, Event
from shared.settings import Settings

EventFold = Callable[[Batch, Event, GroupContext, Settings], None]
DecisionFold = Callable[[Batch, Decision, GroupContext], None]


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    on_event: EventFold | None
    on_decision: DecisionFold | None
    indexes: list[IndexSpec]


FOLDS: dict[str, Projection] = {
    activity.NAME: Projection(
        activity.NAME, activity.fold_event, activity.fold_decision, activity.INDEXES
    ),
    users.NAME: Projection(users.NAME, users.fold_event, users.fold_decision, users.INDEXES),
    violations.NAME: Projection(
        violations.NAME, violations.fold_event, violations.fold_decision, violations.INDEXES
    ),
    complaints.NAME: Projection(complaints.NAME, complaints.fold_event, None, complaints.INDEXES),
    operators.NAME: Projection(operators.NAME, operators.fold_event, None, operators.INDEXES),
    spotchecks.NAME: Projection(spotchecks.NAME, spotchecks.fold_event, None, spotchecks.INDEXES),
    groups.NAME: Projection(groups.NAME, groups.fold_event, groups.fold_decision, groups.INDEXES),
    enforcement.NAME: Projection(
        enforcement.NAME, enforcement.fold_event, enforcement.fold_decision, enforcement.INDEXES
    ),
    queue.NAME: Projection(queue.NAME, queue.fold_event, None, queue.INDEXES),
}


def _selected(only: Collection[str] | None) -> list[Projection]:
    if only is None:
        return list(FOLDS.values())
    return [FOLDS[name] for name in only if name in FOLDS]


def fold_event(
    batch: Batch,
    event: Event,
    ctx: GroupContext,
    settings: Settings,
    only: Collection[str] | None = None,
) -> None:
    """Record the effect of one event on every projection (or on `only`, for a rebuild)."""
    for projection in _selected(only):
        if projection.on_event is not None:
            projection.on_event(batch, event, ctx, settings)


def fold_decision(
    batch: Batch, decision: Decision, ctx: GroupContext, only: Collection[str] | None = None
) -> None:
    """Record the effect of one (already deduplicated) decision."""
    for projection in _selected(only):
        if projection.on_decision is not None:
            projection.on_decision(batch, decision, ctx)


def index_specs() -> dict[str, list[IndexSpec]]:
    """Per projection, the indexes the API's queries need, as (keys, options) pairs:
    `collection.create_index(keys, **options)` or `IndexModel(keys, **options)`."""
    return {name: [(list(k), dict(o)) for k, o in p.indexes] for name, p in FOLDS.items()}
