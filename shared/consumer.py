"""The consumer loop both stream processors run: their state, not Kafka, owns the offsets.

A worker says where each assigned partition resumes (its checkpoint or snapshot), folds
batches grouped by partition, and is told when partitions go. Any failure while
processing (store or broker outage) rewinds every owned partition to the worker's own
checkpoints after a backoff, so nothing is skipped and the process never crash-loops.

A failure caused by a record itself (not by the store or the broker) must not stall its
partition forever: a worker names such a record by raising `RecordError`; a failure no
one attributes that repeats `POISON_TRIES` times puts the loop in a careful mode that
processes one record at a time, which attributes it. A record that fails `POISON_TRIES`
times is handed to the worker's `poison` (dead-letter it, move past it) and the partition
goes on. Transient failures (`is_transient`) are never blamed on a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pymongo.errors import PyMongoError

from shared.backoff import Backoff
from shared.kafka import make_consumer
from shared.logging import get_logger
from shared.metrics import CONSUMER_LAG, CONSUMER_OFFSET, EVENTS_PROCESSED
from shared.settings import Settings

# Processed positions are committed to Kafka (lag monitors, KEDA, tools/catchup.py) at
# most this often while records flow...
COMMIT_HINT_EVERY_S = 2.0
# ...and, once a poll comes back empty, at most this often: the last position of a stream
# that went quiet is committed within about this long (plus one poll).
COMMIT_IDLE_EVERY_S = 0.5
# A commit that takes longer (the broker is away) is given up; the next one will do.
COMMIT_TIMEOUT_S = 5.0
# How often a record may fail before it is dead-lettered and passed.
POISON_TRIES = 3
Records = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class Retryable(RuntimeError):
    """A failure of the moment (ownership moved, a generation switched, a write conflict):
    the batch is retried from the checkpoints and never blamed on a record."""


class RecordError(Exception):
    """Processing this one record failed because of the record (a pure core raised on it)."""

    def __init__(self, tp: TopicPartition, offset: int, reason: str) -> None:
        super().__init__(f"{tp.topic}:{tp.partition}@{offset}: {reason}")
        self.tp = tp
        self.offset = offset
        self.reason = reason


def is_transient(err: BaseException) -> bool:
    """Store, broker and network failures, and the workers' own retry signals."""
    return isinstance(err, Retryable | PyMongoError | KafkaError | OSError | TimeoutError)


class PartitionWorker(Protocol):
    async def assigned(self, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Load state for these partitions; return the offset each resumes from."""

    async def revoked(self, tps: set[TopicPartition]) -> None:
        """Persist and drop state for partitions another instance will own."""

    async def process(self, records: Records) -> None:
        """Apply a batch; must be all-or-nothing per partition w.r.t. the worker's checkpoint."""

    async def idle(self) -> None:
        """Called when a poll returned nothing (time to flush or snapshot)."""

    async def poison(
        self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes], reason: str
    ) -> None:
        """Give up on a record that fails whenever it is processed: dead-letter it with the
        reason and move the partition past it (durably where the worker checkpoints)."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.runner.ready.difference_update(revoked)
        if revoked:
            await self.runner.worker.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        if assigned:
            await self.runner.seek_to_worker(set(assigned))


class ConsumerRunner:
    def __init__(
        self,
        settings: Settings,
        *,
        service: str,
        group_id: str | None,
        topics: list[str],
        worker: PartitionWorker,
        max_records: int = 5000,
        fetch_max_wait_ms: int | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.group_id = group_id
        self.topics = topics
        self.worker = worker
        self.max_records = max_records
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.consumer: AIOKafkaConsumer | None = None
        self.stopping = asyncio.Event()
        self.log = get_logger(consumer=group_id)
        self.processed = 0
        self.positions: dict[TopicPartition, int] = {}
        # Partitions the worker has positioned. aiokafka fetches a new assignment from the
        # committed offsets (our lag hints) while the assignment callback is still loading
        # the worker's state, so a poll can return records from there before the worker's
        # seek: processing them would skip from the checkpoint to the hint.
        self.ready: set[TopicPartition] = set()
        self._last_commit = -math.inf  # the first batch commits at once, whatever the uptime
        # What this instance last committed per partition (only changes are committed).
        self._committed: dict[TopicPartition, int] = {}
        # (partition, offset) -> failures of that record; unattributed failures in a row
        self._record_failures: dict[tuple[TopicPartition, int], int] = {}
        self._unattributed = 0
        self.careful = False
        self._careful_steps = 0
        self.poisoned = 0

    async def seek_to_worker(self, tps: set[TopicPartition]) -> None:
        assert self.consumer is not None
        self.ready.difference_update(tps)
        offsets = await self.worker.assigned(tps)
        for tp in tps:
            offset = offsets.get(tp, 0)
            self.consumer.seek(tp, offset)
            self.positions[tp] = offset
            # Another instance may have committed since: commit this position anew.
            self._committed.pop(tp, None)
        self.ready.update(tps)
        self.log.info(
            "partitions assigned", partitions=sorted(f"{t.topic}:{t.partition}" for t in tps)
        )

    async def _start_consumer(self) -> AIOKafkaConsumer:
        backoff = Backoff()
        while not self.stopping.is_set():
            consumer = make_consumer(
                self.settings,
                group_id=self.group_id,
                client_id=f"modstream-{self.service}",
                fetch_max_wait_ms=self.fetch_max_wait_ms,
            )
            try:
                await consumer.start()
                return consumer
            except Exception as err:
                self.log.warning(
                    "broker not reachable, retrying", error=str(err), backoff_s=backoff.delay
                )
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await backoff.sleep()
        raise asyncio.CancelledError

    async def run(self) -> None:
        self.consumer = await self._start_consumer()
        self.consumer.subscribe(self.topics, listener=_Rebalance(self))
        backoff = Backoff()
        lag_task = asyncio.create_task(self._report_lag())
        try:
            while not self.stopping.is_set():
                polled = await self.consumer.getmany(timeout_ms=200, max_records=self.max_records)
                records = {tp: batch for tp, batch in polled.items() if tp in self.ready}
                if polled and not records:
                    continue  # fetched before the worker positioned them: seek discards
                if not records:
                    if not await self._guarded(self.worker.idle()):
                        await self._rewind()
                    await self._commit_hint(COMMIT_IDLE_EVERY_S)  # the last batch's position
                    continue
                if self.careful:
                    records = self._one_record(records)
                failure = await self._attempt(self.worker.process(records))
                if failure is None:
                    backoff.reset()
                    n = sum(len(v) for v in records.values())
                    self.processed += n
                    EVENTS_PROCESSED.labels(self.service).inc(n)
                    for tp, batch in records.items():
                        self.positions[tp] = batch[-1].offset + 1
                    if self.careful:
                        self._resume_fetching(polled)
                        self._careful_steps += 1
                        if self._careful_steps >= self.max_records:
                            self.careful = False  # whatever failed did not come back
                    else:
                        self._unattributed = 0
                    await self._commit_hint(COMMIT_HINT_EVERY_S)
                    continue
                if not is_transient(failure) and await self._blame(failure, records, polled):
                    backoff.reset()
                    continue
                await backoff.sleep()
                await self._rewind()
        finally:
            lag_task.cancel()
            if self.stopping.is_set():  # a clean stop leaves its last position committed
                await self._commit_hint(0.0, timeout_s=2.0)
            with contextlib.suppress(Exception):
                await self.worker.revoked(set(self.consumer.assignment()))
            await self.consumer.stop()

    async def _commit_hint(self, every_s: float, timeout_s: float = COMMIT_TIMEOUT_S) -> None:
        """Commit processed positions to Kafka for lag monitoring (KEDA, kafka tools,
        tools/catchup.py) only: resuming always comes from the worker's own checkpoints.

        Called after every processed batch (`every_s` COMMIT_HINT_EVERY_S) and every idle
        poll (COMMIT_IDLE_EVERY_S); commits the positions that changed since this instance
        last committed them, unless the last commit is younger than `every_s`. A position
        is one the worker has finished (process() returned: moderation's decisions
        acknowledged, reporting's checkpoint transaction committed)."""
        if self.group_id is None or self.consumer is None:
            return
        try:
            owned = set(self.consumer.assignment())
        except Exception:  # not subscribed (any more)
            return
        offsets = {
            tp: off
            for tp, off in self.positions.items()
            if tp in owned and self._committed.get(tp) != off
        }
        if not offsets:
            return
        now = time.monotonic()
        if now - self._last_commit < every_s:
            return
        self._last_commit = now
        try:
            await asyncio.wait_for(self.consumer.commit(offsets), timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a rebalance in progress, the broker away: next time
            self.log.debug("offset hint not committed", error=repr(err))
            return
        self._committed.update(offsets)

    def _one_record(self, records: Records) -> Records:
        """Careful mode: only the first record of the first partition, so a failure is
        that record's."""
        tp = min(records, key=lambda t: (t.topic, t.partition))
        return {tp: records[tp][:1]}

    def _resume_fetching(self, polled: Records) -> None:
        """After a careful step, fetch every polled partition again from where it stands."""
        assert self.consumer is not None
        for tp in polled:
            if tp in self.ready and tp in self.positions:
                self.consumer.seek(tp, self.positions[tp])

    async def _blame(self, failure: BaseException, records: Records, polled: Records) -> bool:
        """Count a non-transient failure against its record; poison a record that failed
        POISON_TRIES times. True when the loop may go on without a backoff."""
        if isinstance(failure, RecordError):
            tp, offset = failure.tp, failure.offset
            reason = failure.reason
        elif self.careful:
            ((tp, batch),) = records.items()
            offset, reason = batch[0].offset, f"{type(failure).__name__}: {failure}"
        else:
            self._unattributed += 1
            if self._unattributed >= POISON_TRIES:
                self.log.warning("repeated failure; processing one record at a time")
                self.careful = True
                self._careful_steps = 0
            return False
        key = (tp, offset)
        tries = self._record_failures[key] = self._record_failures.get(key, 0) + 1
        if tries < POISON_TRIES:
            return False
        batch = records.get(tp, [])
        record = next((r for r in batch if r.offset == offset), None)
        if record is None:
            return False
        if record is not batch[0]:
            # Records before it in the batch are not processed yet: take them one at a time
            # until this one is first, so passing it skips nothing else.
            self.careful = True
            self._careful_steps = 0
            return False
        self.log.warning(
            "record failed every try; dead-lettering it",
            partition=tp.partition,
            offset=offset,
            tries=tries,
            reason=reason[:300],
        )
        if await self._attempt(self.worker.poison(tp, record, reason[:1000])) is not None:
            return False
        self.poisoned += 1
        del self._record_failures[key]
        self._unattributed = 0
        self.careful = False
        await self._rewind()
        return True

    async def _attempt(self, work: object) -> BaseException | None:
        """Run the worker's work; the failure, or None."""
        try:
            await work  # type: ignore[misc]
            return None
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.log.warning("batch failed; rewinding to checkpoints", error=repr(err))
            return err

    async def _guarded(self, work: object) -> bool:
        try:
            await work  # type: ignore[misc]
            return True
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.log.warning("batch failed; rewinding to checkpoints", error=repr(err))
            return False

    async def _rewind(self) -> None:
        """Seek every owned partition back to the worker's checkpoint, retrying until the
        checkpoints can be read again (e.g. the store is back)."""
        assert self.consumer is not None
        backoff = Backoff()
        while not self.stopping.is_set():
            owned = set(self.consumer.assignment())
            if not owned or await self._guarded(self.seek_to_worker(owned)):
                return
            await backoff.sleep()

    async def _report_lag(self) -> None:
        while True:
            await asyncio.sleep(5)
            assert self.consumer is not None
            try:
                owned = list(self.consumer.assignment())
                if not owned:
                    continue
                ends = await self.consumer.end_offsets(owned)
                for tp in owned:
                    pos = self.positions.get(tp, 0)
                    CONSUMER_OFFSET.labels(self.service, tp.topic, str(tp.partition)).set(pos)
                    CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(
                        max(ends.get(tp, pos) - pos, 0)
                    )
            except Exception as err:
                self.log.debug("lag probe failed", error=str(err))

    def stop(self) -> None:
        self.stopping.set()
