"""How far behind each consumer is, read from the consumers' own truth (their checkpoints
and snapshots in MongoDB) against the log end offsets."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import TopicPartition

from services.moderation.snapshots import COLLECTION as SNAPSHOTS
from services.reporting.generations import CHECKPOINTS, PROJECTIONS, ProjectionNames
from services.reporting.sink import checkpoint_id
from shared.kafka import log_end_offsets
from shared.mongo import database, make_mongo
from shared.settings import Settings


@dataclass(frozen=True)
class Positions:
    events_end: int
    decisions_end: int
    moderation_done: int
    reporting_events_done: int
    reporting_decisions_done: int

    @property
    def caught_up(self) -> bool:
        return (
            self.moderation_done >= self.events_end
            and self.reporting_events_done >= self.events_end
            and self.reporting_decisions_done >= self.decisions_end
        )


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
    ends = await log_end_offsets(settings.kafka_bootstrap, tps)
    return {tp.partition: off for tp, off in ends.items()}


async def positions(settings: Settings) -> Positions:
    events_end = await end_offsets(settings, settings.events_topic)
    decisions_end = await end_offsets(settings, settings.decisions_topic)
    mongo = make_mongo(settings)
    try:
        db = database(mongo, settings)
        names = await ProjectionNames.load(db)
        snaps = {d["_id"]: int(d["offset"]) async for d in db[SNAPSHOTS].find({}, {"offset": 1})}
        cps = {d["_id"]: int(d["offset"]) async for d in db[CHECKPOINTS].find({}, {"offset": 1})}
    finally:
        await mongo.close()

    def reporting_done(topic: str, ends: dict[int, int]) -> int:
        total = 0
        for p, end in ends.items():
            done = min(
                cps.get(checkpoint_id(proj, names.generations[proj], topic, p), 0)
                for proj in PROJECTIONS
            )
            total += min(done, end)
        return total

    moderation = sum(
        min(snaps.get(f"{settings.events_topic}:{p}", 0), end) for p, end in events_end.items()
    )
    return Positions(
        sum(events_end.values()),
        sum(decisions_end.values()),
        moderation,
        reporting_done(settings.events_topic, events_end),
        reporting_done(settings.decisions_topic, decisions_end),
    )


async def wait_caught_up(
    settings: Settings, timeout: float = 300.0, settle: float = 1.0
) -> Positions:
    """Until every consumer has processed everything (and decisions stopped growing)."""
    deadline = time.monotonic() + timeout
    last: Positions | None = None
    while True:
        pos = await positions(settings)
        if pos.caught_up and last is not None and last == pos:
            return pos
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumers not caught up after {timeout}s: {pos}")
        last = pos if pos.caught_up else None
        await asyncio.sleep(settle)
