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
from shared.codec import RecordRejected, encode_decision
from shared.consumer import RecordError, Records, is_transient
from shared.fast_codec import decode_event_fast
from shared.kafka import dead_letter_record
from shared.logging import get_logger
from shared.metrics import DECISIONS
from shared.settings import Settings

SERVICE = "moderation"
IDLE_SNAPSHOTS = 2


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
        self.snapshot_at: dict[TopicPartition, float] = {}
        self.log = get_logger()
        self.lock = asyncio.Lock()
        self.writing: asyncio.Task[None] | None = None
        # Records given up on (dead-lettered) in this process: skipped when a rewind replays
        # them. After a restart such a record fails its tries again and is passed again.
        self.skipped: set[tuple[TopicPartition, int]] = set()

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
            await self._drain_writes()
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
                    if (tp, record.offset) in self.skipped:
                        continue
                    try:
                        event = decode_event_fast(record.value or b"")
                    except RecordRejected as err:
                        futures.append(await self.dead_letter(record, err.reason))
                        continue
                    try:
                        decisions = self.engine.apply(state, event)
                    except Exception as err:
                        if is_transient(err):
                            raise
                        # The engine is pure: what it raises on, it raises on every time.
                        raise RecordError(
                            tp, record.offset, f"moderation failed: {type(err).__name__}: {err}"
                        ) from err
                    for decision in decisions:
                        futures.append(
                            await self.broker.publish(
                                encode_decision(decision),
                                self.settings.decisions_topic,
                                key=decision.group_key.encode(),
                                no_confirm=True,
                            )
                        )
                        DECISIONS.labels(decision.action).inc()
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
            taken = self._capture(due) if due else []
        if taken:
            await self._write_behind(taken)

    async def idle(self) -> None:
        """Snapshot partitions that changed, each at most every SNAPSHOT_EVERY_SECONDS and
        at most two per idle poll, oldest first: capturing all twelve at once stalled the
        loop for ~1 s (the p95 latency), two at a time costs a few milliseconds."""
        now = time.monotonic()
        every = self.settings.snapshot_every_seconds
        due = sorted(
            (self.snapshot_at.get(tp, 0.0), tp.partition, tp)
            for tp, n in self.since_snapshot.items()
            if n and now - self.snapshot_at.get(tp, 0.0) >= every
        )[:IDLE_SNAPSHOTS]
        if due:
            async with self.lock:
                taken = self._capture({tp for _, _, tp in due})
            await self._write_behind(taken)

    async def poison(self, tp: TopicPartition, record: Any, reason: str) -> None:
        """Past a record the engine fails on every time: skipped from now on (the rewind
        that follows replays the partition from its snapshot without it)."""
        self.skipped.add((tp, record.offset))
        await asyncio.wait_for(await self.dead_letter(record, reason), 30)

    async def dead_letter(self, record: Any, reason: str) -> Any:
        return await dead_letter_record(self.broker, self.settings, SERVICE, record, reason)

    def _capture(self, tps: set[TopicPartition]) -> list[tuple[TopicPartition, int, Any]]:
        """Copy the state of these partitions at the offsets it reflects (under the lock)."""
        taken = []
        for tp in tps:
            state = self.states.get(tp)
            if state is None:
                continue
            # JSON text: one dumps, no conversion of a large document to BSON field by field.
            taken.append((tp, self.offsets[tp], json.dumps(state.to_json(), separators=(",", ":"))))
            self.since_snapshot[tp] = 0
            self.snapshot_at[tp] = time.monotonic()
        return taken

    async def _write(self, taken: list[tuple[TopicPartition, int, Any]]) -> None:
        # Snapshots never move backwards (SnapshotStore.save), so writing them outside the
        # lock cannot undo a newer one taken meanwhile.
        for tp, offset, data in taken:
            await self.snapshots.save(tp.topic, tp.partition, offset, data)

    async def _write_behind(self, taken: list[tuple[TopicPartition, int, Any]]) -> None:
        """Write snapshots in the background: the consumer loop keeps fetching and deciding
        while the store writes (a SecantusDB write of 12 partition states takes ~1 s, which
        was the p95 latency). One write in flight; a later one waits for it."""
        previous = self.writing

        async def chain() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await self._write(taken)
            except Exception:
                # Not written (the store is away): these partitions are dirty again and
                # due at once, so the next idle poll retries them.
                for tp, _, _ in taken:
                    if tp in self.states:
                        self.since_snapshot[tp] = max(self.since_snapshot.get(tp, 0), 1)
                        self.snapshot_at[tp] = 0.0
                raise

        self.writing = asyncio.create_task(chain())
        self.writing.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Not fatal: the next snapshot covers this one; until then a restart replays
            # from an older offset (decisions keep their ids).
            self.log.warning("snapshot write failed", error=repr(task.exception()))

    async def _drain_writes(self) -> None:
        if self.writing is not None:
            await asyncio.gather(self.writing, return_exceptions=True)

    async def _snapshot(self, tps: set[TopicPartition]) -> None:
        """Persist state at the offset it reflects; decisions before it are already acked."""
        await self._write(self._capture(tps))
