"""The moderation worker: per-partition state in memory, snapshots with offsets in MongoDB.

When a partition is assigned, its snapshot is loaded and the stream is re-read from the
snapshot's offset; decisions re-emitted while catching up carry the same ids and are
dropped downstream, so two instances (or a restarted one) emit exactly what one would.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from services.moderation.engine import Engine, PartitionState
from services.moderation.snapshots import SnapshotStore
from shared.codec import RecordRejected, decode_event, encode_decision
from shared.consumer import Records
from shared.logging import get_logger
from shared.metrics import DEADLETTERS, DECISIONS
from shared.settings import Settings

SERVICE = "moderation"


class ModerationWorker:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        broker: KafkaBroker,
        snapshots: SnapshotStore,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.broker = broker
        self.snapshots = snapshots
        self.states: dict[TopicPartition, PartitionState] = {}
        self.offsets: dict[TopicPartition, int] = {}
        self.since_snapshot: dict[TopicPartition, int] = {}
        self.last_snapshot = time.monotonic()
        self.log = get_logger()
        self.decisions_emitted = 0
        self.lock = asyncio.Lock()

    async def assigned(self, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        result = {}
        for tp in tps:
            offset, data = await self.snapshots.load(tp.topic, tp.partition)
            try:
                self.states[tp] = PartitionState.from_json(data) if data else PartitionState()
            except ValueError as err:
                # A snapshot from another release: rebuild this partition's state from the
                # start of the stream (decisions re-emitted keep their ids).
                self.log.warning(
                    "snapshot unreadable; replaying from 0", error=str(err), partition=tp.partition
                )
                self.states[tp] = PartitionState()
                offset = 0
            self.offsets[tp] = offset
            self.since_snapshot[tp] = 0
            result[tp] = offset
        return result

    async def revoked(self, tps: set[TopicPartition]) -> None:
        async with self.lock:
            await self._snapshot(tps)
            for tp in tps:
                self.states.pop(tp, None)
                self.offsets.pop(tp, None)
                self.since_snapshot.pop(tp, None)

    async def process(self, records: Records) -> None:
        # The lock keeps a rebalance (which aiokafka runs beside us) from snapshotting a
        # partition whose decisions are still in flight.
        async with self.lock:
            futures: list[Any] = []
            done: dict[TopicPartition, tuple[int, int]] = {}
            for tp, batch in records.items():
                state = self.states.get(tp)
                if state is None:  # revoked while the batch was in flight
                    continue
                for record in batch:
                    try:
                        event = decode_event(record.value or b"")
                    except RecordRejected as err:
                        futures.append(await self.dead_letter(record, err.reason))
                        continue
                    for decision in self.engine.apply(state, event):
                        futures.append(
                            await self.broker.publish(
                                encode_decision(decision),
                                self.settings.decisions_topic,
                                key=decision.group_key.encode(),
                                no_confirm=True,
                            )
                        )
                        DECISIONS.labels(decision.action).inc()
                        self.decisions_emitted += 1
                done[tp] = (batch[-1].offset + 1, len(batch))
            await asyncio.gather(*futures)
            # Only now, with every decision acknowledged, may a snapshot reflect the batch.
            for tp, (offset, n) in done.items():
                self.offsets[tp] = offset
                self.since_snapshot[tp] = self.since_snapshot.get(tp, 0) + n
            due = {
                tp
                for tp, n in self.since_snapshot.items()
                if n >= self.settings.snapshot_every_events
            }
            if due:
                await self._snapshot(due)

    async def idle(self) -> None:
        if time.monotonic() - self.last_snapshot >= self.settings.snapshot_every_seconds:
            async with self.lock:
                await self._snapshot({tp for tp, n in self.since_snapshot.items() if n})

    async def dead_letter(self, record: Any, reason: str) -> Any:
        DEADLETTERS.labels(SERVICE, reason.split(":")[0][:40]).inc()
        self.log.warning(
            "record dead-lettered", reason=reason, partition=record.partition, offset=record.offset
        )
        return await self.broker.publish(
            record.value or b"",
            self.settings.deadletter_topic,
            headers={
                "x-reason": reason[:1000],
                "x-source": f"{SERVICE}:{record.topic}:{record.partition}:{record.offset}",
            },
            no_confirm=True,
        )

    async def _snapshot(self, tps: set[TopicPartition]) -> None:
        """Persist state at the offset it reflects; decisions before it are already acked."""
        for tp in tps:
            state = self.states.get(tp)
            if state is None:
                continue
            data = json.loads(json.dumps(state.to_json()))
            await self.snapshots.save(tp.topic, tp.partition, self.offsets[tp], data)
            self.since_snapshot[tp] = 0
        self.last_snapshot = time.monotonic()
