"""The reporting consumer: events and decisions, folded per partition through the sink."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from services.reporting.generations import ProjectionNames
from services.reporting.sink import ProjectionSink
from shared.consumer import Records, Retryable
from shared.logging import get_logger
from shared.metrics import DEADLETTERS, FOLD_BATCH_SECONDS, FOLD_BATCH_SIZE, FOLD_WRITES

SERVICE = "reporting"
NAMES_CHECK_EVERY_S = 2.0


class GenerationSwitched(Retryable):
    """Raised to make the consumer loop rewind to the new generation's checkpoints."""


class ReportingWorker:
    def __init__(
        self, sink: ProjectionSink, broker: KafkaBroker | None, deadletter_topic: str
    ) -> None:
        self.sink = sink
        self.broker = broker
        self.deadletter_topic = deadletter_topic
        self.log = get_logger()
        self.names_checked = time.monotonic()

    async def assigned(self, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        await self.sink.load_directory()
        if self.sink.archive is not None:
            await self.sink.archive.load_heads(self.sink.db)
        return {tp: await self.sink.claim(tp.topic, tp.partition) for tp in tps}

    async def revoked(self, tps: set[TopicPartition]) -> None:
        for tp in tps:
            self.sink.release(tp.topic, tp.partition)

    async def follow_switch(self) -> None:
        """After `modstream rebuild` switched a projection, write to the new generation,
        resuming from its checkpoints (the rebuild left them exactly where it stopped)."""
        now = time.monotonic()
        if now - self.names_checked < NAMES_CHECK_EVERY_S:
            return
        self.names_checked = now
        names = await ProjectionNames.load(self.sink.db)
        if names != self.sink.names:
            self.log.info("projection generations switched", generations=names.generations)
            self.sink.names = names
            await self.sink.ensure_indexes()
            raise GenerationSwitched("serving generation changed; resuming from its checkpoints")

    async def process(self, records: Records) -> None:
        await self.follow_switch()
        # Events before decisions: a decision's group context comes from its events.
        for tp in sorted(
            records, key=lambda t: (t.topic != self.sink.settings.events_topic, t.partition)
        ):
            batch = records[tp]
            if (tp.topic, tp.partition) not in {(k[1], k[2]) for k in self.sink.epochs}:
                continue
            before = self.sink.writes
            with FOLD_BATCH_SECONDS.time():
                rejected = await self.sink.apply(
                    tp.topic, tp.partition, [(r.offset, r.value or b"") for r in batch]
                )
            FOLD_BATCH_SIZE.observe(len(batch))
            FOLD_WRITES.inc(self.sink.writes - before)
            for bad in rejected:
                await self.dead_letter(tp, bad.offset, bad.reason, bad.value)

    async def idle(self) -> None:
        await self.follow_switch()

    async def poison(self, tp: TopicPartition, record: Any, reason: str) -> None:
        """Past a record that failed every try: checkpoints first (so it is never folded),
        then its dead letter (a crash in between loses the letter, not the record: the
        topic still holds it)."""
        await self.sink.skip(tp.topic, tp.partition, record.offset)
        await self.dead_letter(tp, record.offset, reason, record.value or b"")

    async def dead_letter(self, tp: TopicPartition, offset: int, reason: str, value: bytes) -> None:
        DEADLETTERS.labels(SERVICE, reason.split(":")[0][:40]).inc()
        self.log.warning(
            "record dead-lettered", reason=reason, partition=tp.partition, offset=offset
        )
        if self.broker is None:
            return
        future: Any = await self.broker.publish(
            value,
            self.deadletter_topic,
            headers={
                "x-reason": reason[:1000],
                "x-source": f"{SERVICE}:{tp.topic}:{tp.partition}:{offset}",
            },
            no_confirm=True,
        )
        await asyncio.wait_for(future, 30)
