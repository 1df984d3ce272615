"""`modstream rebuild PROJECTION`: blue/green. The new generation is folded from the start
of the stream into new collections while the old one keeps serving; when it has caught up
the serving pointer switches, and the live consumer follows the switch by resuming from the
new generation's checkpoints (it notices at its next batch)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.reporting.event_ids import PassFirstOccurrences
from services.reporting.generations import (
    CHECKPOINTS,
    PROJECTIONS,
    SERVING,
    ProjectionNames,
    physical_name,
)
from services.reporting.sink import ProjectionSink, checkpoint_id
from shared.kafka import log_end_offsets
from shared.mongo import database, make_mongo
from shared.settings import Settings


@dataclass
class RebuildResult:
    projection: str
    old_generation: int
    new_generation: int
    records: int
    seconds: float
    writes: int

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


Progress = Callable[[int, int], None]  # (done, total)


async def rebuild(
    settings: Settings,
    projection: str,
    *,
    switch: bool = True,
    drop_old: bool = False,
    progress: Progress | None = None,
    max_records: int = 20_000,
) -> RebuildResult:
    if projection not in PROJECTIONS:
        raise ValueError(f"unknown projection {projection!r}; one of {', '.join(PROJECTIONS)}")
    mongo = make_mongo(settings)
    db = database(mongo, settings)
    try:
        names = await ProjectionNames.load(db)
        old = names.generations[projection]
        serving = await db[SERVING].find_one({"_id": projection}) or {}
        new = max(old, int(serving.get("latest", old))) + 1
        await db[SERVING].update_one(
            {"_id": projection},
            {"$set": {"latest": new}, "$setOnInsert": {"generation": old}},
            upsert=True,
        )
        target = ProjectionNames(names.generations | {projection: new})
        sink = ProjectionSink(
            mongo,
            db,
            settings,
            target,
            projections=[projection],
            event_ids=PassFirstOccurrences(),
        )
        await sink.ensure_indexes()
        started = time.monotonic()
        records = await _fold_everything(settings, sink, progress, max_records)
        seconds = time.monotonic() - started
        if switch:
            await db[SERVING].update_one(
                {"_id": projection}, {"$set": {"generation": new, "previous": old}}, upsert=True
            )
            if drop_old:
                await drop_generation(settings, projection, old)
        return RebuildResult(projection, old, new, records, seconds, sink.writes)
    finally:
        await mongo.close()


async def _fold_everything(
    settings: Settings, sink: ProjectionSink, progress: Progress | None, max_records: int
) -> int:
    topics = [settings.events_topic, settings.decisions_topic]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or range(settings.partitions))
        ]
        consumer.assign(tps)
        await sink.load_directory()
        for tp in tps:
            consumer.seek(tp, await sink.claim(tp.topic, tp.partition))
        done = 0
        total = sum((await log_end_offsets(settings.kafka_bootstrap, tps)).values())
        # Events first, so decisions find their groups' clocks; then follow the live ends.
        for topic in topics:
            mine = [tp for tp in tps if tp.topic == topic]
            others = [tp for tp in tps if tp.topic != topic]
            consumer.pause(*others)
            consumer.resume(*mine)
            ends = await log_end_offsets(settings.kafka_bootstrap, mine)
            while True:
                positions = {tp: await consumer.position(tp) for tp in mine}
                if all(positions[tp] >= ends[tp] for tp in mine):
                    # Reached the ends seen before; the live stream may have grown since.
                    ends = await log_end_offsets(settings.kafka_bootstrap, mine)
                    if all(positions[tp] >= ends[tp] for tp in mine):
                        break
                batch = await consumer.getmany(*mine, timeout_ms=500, max_records=max_records)
                for tp, recs in batch.items():
                    await sink.apply(
                        tp.topic, tp.partition, [(r.offset, r.value or b"") for r in recs]
                    )
                    done += len(recs)
                if progress is not None:
                    progress(done, total)
        return done
    finally:
        await consumer.stop()


async def drop_generation(settings: Settings, projection: str, generation: int) -> None:
    mongo = make_mongo(settings)
    try:
        db = database(mongo, settings)
        serving = await db[SERVING].find_one({"_id": projection}) or {}
        if int(serving.get("generation", 1)) == generation:
            raise ValueError(f"generation {generation} of {projection} is serving; not dropped")
        await db.drop_collection(physical_name(projection, generation))
        prefix = checkpoint_id(projection, generation, "", 0).rsplit(":", 2)[0]
        await db[CHECKPOINTS].delete_many({"_id": {"$regex": f"^{prefix}:"}})
    finally:
        await mongo.close()
