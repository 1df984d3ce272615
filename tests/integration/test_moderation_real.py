"""Moderation over the real broker and store: the scripted group history gives exactly the
expected decisions in order, and the decisions do not depend on how the stream was split
between instances (one, two with a rebalance midway, a fresh one from offset 0)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.codec import encode_event
from shared.kafka import read_to_end
from shared.settings import Settings
from shared.topics import ensure_topics
from tests.support.scenario import expected_decisions, scripted_history
from tests.support.stack import Servers
from tools.bench import encoded, produce_raw
from tools.catchup import end_offsets, positions
from tools.devstack import DevStack
from tools.simulator import simulate

pytestmark = pytest.mark.integration


async def fed(
    servers: Servers, records: list[tuple[bytes, bytes]], **overrides: object
) -> Settings:
    """Settings of one test whose events topic already holds `records`."""
    settings = servers.settings(**overrides)
    await ensure_topics(settings)
    await produce_raw(settings, settings.events_topic, records)
    return settings


@contextmanager
def moderating(
    servers: Servers, settings: Settings, workdir: Path, name: str | None = None
) -> Iterator[DevStack]:
    """A moderation process (`name`) on `settings` for the block, stopped after it."""
    stack = DevStack(
        workdir,
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        extra_env=servers.env(settings),
    )
    stack.start_service("moderation", name)
    try:
        yield stack
    finally:
        stack.stop()


async def read_decisions(settings: Settings, since: dict[int, int] | None = None) -> list[dict]:
    """Every decision record (from `since` offsets on), partition by partition, in order."""
    records = await read_to_end(settings, settings.decisions_topic, since=since)
    return [json.loads(r.value or b"{}") for r in records]


async def test_scripted_history_gives_exactly_the_expected_decisions(
    servers: Servers, tmp_path: Path
) -> None:
    history = scripted_history()
    settings = await fed(servers, [(e.group_key.encode(), encode_event(e)) for e in history])
    with moderating(servers, settings, tmp_path):
        await wait_caught_up_moderation(settings, len(history))
    decisions = await read_decisions(settings)
    got = [(d["action"], d["rule_id"], d["target_user_id"]) for d in decisions]
    assert got == expected_decisions()
    # Each decision is dated by its cause and names it.
    by_id = {e.event_id: e for e in history}
    for d in decisions:
        cause = by_id[d["cause_event_ids"][-1]]
        assert datetime.fromisoformat(d["decided_at"]) == cause.occurred_at
        assert d["reason"]


async def wait_caught_up_moderation(settings: Settings, total: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while (await positions(settings)).moderation_done < total:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"moderation stuck at {(await positions(settings)).moderation_done}/{total}"
            )
        await asyncio.sleep(0.3)


def decision_set(decisions: list[dict]) -> set[tuple[str, str, str]]:
    return {(d["decision_id"], d["action"], d["rule_id"]) for d in decisions}


async def test_decisions_are_the_same_however_the_stream_is_split(
    servers: Servers, tmp_path: Path
) -> None:
    events = list(simulate(5, 15_000, datetime(2026, 5, 1, tzinfo=UTC)))
    records = encoded(events)
    results: dict[str, set[tuple[str, str, str]]] = {}

    # One instance.
    one = await fed(servers, records, snapshot_every_events=500)
    with moderating(servers, one, tmp_path / "one", "m1"):
        await wait_caught_up_moderation(one, len(records))
    results["one"] = decision_set(await read_decisions(one))

    # Two instances, the second joining midway: a rebalance hands partitions over through
    # snapshots, and the newcomer catches up before emitting anything new.
    two = await fed(servers, records, snapshot_every_events=500)
    with moderating(servers, two, tmp_path / "two", "m1") as stack:
        deadline = time.monotonic() + 120
        while (await positions(two)).moderation_done < len(records) // 3:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        stack.start_service("moderation", "m2")
        await wait_caught_up_moderation(two, len(records))
        assert all(p.poll() is None for p in stack.procs.values())
    results["two"] = decision_set(await read_decisions(two))

    # A fresh instance from offset 0 over the first run's topic, with no snapshots and a
    # consumer group of its own (its progress is its group's committed offsets).
    fresh = Settings(
        **(
            one.model_dump()
            | {
                "mongo_db": one.mongo_db + "_fresh",
                "topic_prefix": one.topic_prefix,
                "consumer_group_prefix": one.consumer_group_prefix + "fresh-",
            }
        )
    )
    before = await end_offsets(one, one.decisions_topic)
    with moderating(servers, fresh, tmp_path / "fresh", "m1"):
        await wait_caught_up_moderation(fresh, len(records))
        await asyncio.sleep(1)
    replayed = await read_decisions(one, since=before)
    results["fresh"] = decision_set(replayed)

    assert len(results["one"]) > 100  # the mix has spam, floods and complaint waves
    assert results["two"] == results["one"]
    assert results["fresh"] == results["one"]
