"""The consumer loop against a fake broker: a record that fails every time is dead-lettered
after POISON_TRIES and its partition goes on; a transient failure is retried, never blamed
on a record; a record the worker names (RecordError) is passed without the careful mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from pymongo.errors import AutoReconnect

from shared import consumer as consumer_module
from shared.consumer import POISON_TRIES, ConsumerRunner, RecordError
from shared.settings import Settings

TP = TopicPartition("events", 0)


def record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("events", 0, offset, 0, 0, None, value, None, 0, len(value), [])


class FakeConsumer:
    """One partition; getmany hands out records from the position, seek moves it."""

    def __init__(self, values: list[bytes]) -> None:
        self.log = [record(i, v) for i, v in enumerate(values)]
        self.position = 0
        self.listener: Any = None
        self.assigned = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        if not self.assigned:
            self.assigned = True
            await self.listener.on_partitions_assigned([TP])
        await asyncio.sleep(0)
        batch = self.log[self.position : self.position + max_records]
        self.position += len(batch)
        return {TP: batch} if batch else {}

    async def commit(self, offsets: Any) -> None:
        return None

    async def end_offsets(self, tps: Any) -> dict[Any, int]:
        return {TP: len(self.log)}


class FakeWorker:
    """Checkpoints after each batch; fails on records by their value."""

    def __init__(self, transient_once: bool = False) -> None:
        self.checkpoint = 0
        self.folded: list[bytes] = []
        self.poisoned: list[tuple[int, str]] = []
        self.transient_left = 1 if transient_once else 0

    async def assigned(self, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        return {TP: self.checkpoint}

    async def revoked(self, tps: set[TopicPartition]) -> None:
        return None

    async def process(self, records: dict[Any, Any]) -> None:
        staged = []
        for r in records[TP]:
            if r.value == b"bad":
                raise ValueError("cannot fold this")
            if r.value == b"named":
                raise RecordError(TP, r.offset, "the core refused it")
            if r.value == b"flaky" and self.transient_left:
                self.transient_left -= 1
                raise AutoReconnect("store went away")
            staged.append(r.value)
        self.folded.extend(staged)  # all or nothing, like a checkpoint transaction
        self.checkpoint = records[TP][-1].offset + 1

    async def idle(self) -> None:
        return None

    async def poison(self, tp: TopicPartition, r: Any, reason: str) -> None:
        self.poisoned.append((r.offset, reason))
        self.checkpoint = r.offset + 1


async def run_until_done(
    values: list[bytes], worker: FakeWorker, monkeypatch: Any
) -> ConsumerRunner:
    fake = FakeConsumer(values)
    monkeypatch.setattr(consumer_module, "make_consumer", lambda *a, **k: fake)
    monkeypatch.setattr(asyncio, "sleep", _fast_sleep)
    runner = ConsumerRunner(
        Settings(), service="test", group_id=None, topics=["events"], worker=worker, max_records=4
    )
    task = asyncio.create_task(runner.run())
    for _ in range(20_000):
        if worker.checkpoint >= len(values):
            break
        await _real_sleep(0)
    runner.stop()
    await asyncio.wait_for(task, 5)
    return runner


_real_sleep = asyncio.sleep


async def _fast_sleep(delay: float, result: Any = None) -> Any:
    return await _real_sleep(0, result)


GOOD = [f"m{i}".encode() for i in range(10)]


async def test_a_record_that_always_fails_is_dead_lettered_and_the_rest_folded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = [*GOOD[:5], b"bad", *GOOD[5:]]
    worker = FakeWorker()
    runner = await run_until_done(values, worker, monkeypatch)
    assert worker.folded == GOOD  # every good record once, in order
    assert [offset for offset, _ in worker.poisoned] == [5]
    assert "ValueError: cannot fold this" in worker.poisoned[0][1]
    assert runner.poisoned == 1 and not runner.careful


async def test_a_named_record_is_passed_after_its_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [*GOOD[:3], b"named", *GOOD[3:]]
    worker = FakeWorker()
    await run_until_done(values, worker, monkeypatch)
    assert worker.folded == GOOD
    assert worker.poisoned == [(3, "the core refused it")]


async def test_a_transient_failure_is_retried_not_blamed(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [*GOOD[:3], b"flaky", *GOOD[3:]]
    worker = FakeWorker(transient_once=True)
    runner = await run_until_done(values, worker, monkeypatch)
    assert worker.poisoned == []
    assert worker.folded == [*GOOD[:3], b"flaky", *GOOD[3:]]
    assert runner.poisoned == 0


def test_poison_tries_is_bounded() -> None:
    assert 1 < POISON_TRIES <= 5


class CommittingConsumer(FakeConsumer):
    """Records every commit, as the group coordinator would keep it."""

    def __init__(self, values: list[bytes]) -> None:
        super().__init__(values)
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: Any) -> None:
        self.commits.append(dict(offsets))


async def test_the_last_position_is_committed_once_the_stream_goes_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Commits while records flow are rate-limited (here: far apart); the last batch's
    # position must still reach Kafka once polls come back empty, without a new batch.
    values = [f"m{i}".encode() for i in range(40)]
    fake = CommittingConsumer(values)
    worker = FakeWorker()
    monkeypatch.setattr(consumer_module, "make_consumer", lambda *a, **k: fake)
    monkeypatch.setattr(consumer_module, "COMMIT_HINT_EVERY_S", 3600.0)
    monkeypatch.setattr(consumer_module, "COMMIT_IDLE_EVERY_S", 0.05)
    runner = ConsumerRunner(
        Settings(), service="test", group_id="g", topics=["events"], worker=worker, max_records=4
    )
    task = asyncio.create_task(runner.run())
    try:
        for _ in range(500):
            if fake.commits and fake.commits[-1] == {TP: len(values)}:
                break
            await asyncio.sleep(0.01)
        assert worker.checkpoint == len(values)
        # The first batch at once, the last one on an idle poll; nothing in between.
        assert fake.commits[0] == {TP: 4}
        assert fake.commits[-1] == {TP: len(values)}
        assert len(fake.commits) == 2
        await asyncio.sleep(0.2)  # idle polls: nothing changed, nothing committed again
        assert len(fake.commits) == 2
    finally:
        runner.stop()
        await asyncio.wait_for(task, 5)
