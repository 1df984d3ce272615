"""MongoDB stopped for 30 s mid-stream: the consumers back off (same processes, a bounded
number of warnings, no crash loop) and resume from their checkpoints; ingest keeps
accepting while the broker is up; nothing is lost or counted twice.

The store is a dedicated SecantusDB on a directory, so stopping it and starting it again
on the same port keeps its data, as a restarted MongoDB would.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.fault_kit import (
    clean_replay,
    compare,
    folded_rules,
    outcome,
    platform_client,
    produce,
    read_topic,
    stream,
    wait_drained,
)
from tests.support.stack import Servers
from tools.embedded import EmbeddedStack, free_port, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SEED = 7
EVENTS = 30_000
OUTAGE_S = 30.0
POSTS, PER_POST = 10, 50
# Warnings a consumer may log while the store is away: its backoff doubles to 10 s and
# the driver waits 5 s to select a server, so a handful per service; a crash loop or a
# retry storm would log hundreds.
MAX_WARNINGS = 40


def posted(i: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"store-outage-{i}-{j}",
            "type": "message.posted",
            "schema_version": 2,
            "occurred_at": "2026-09-02T10:00:00Z",
            "platform": "slack",
            "group_id": f"CSTORE{j % 3}",
            "user_id": f"U{j % 7}",
            "payload": {"message_id": f"m-{i}-{j}", "text": f"during the outage {i}/{j}"},
        }
        for j in range(PER_POST)
    ]


@pytest.fixture()
def store(tmp_path: Path) -> Any:
    mongo = EmbeddedStack(tmp_path / "store", mongo_storage=str(tmp_path / "store" / "data"))
    mongo.mongo_port = free_port()
    (tmp_path / "store" / "data").mkdir(parents=True)
    mongo.start_mongo()
    try:
        yield mongo
    finally:
        mongo.stop()


async def test_store_outage_backs_off_and_loses_nothing(
    servers: Servers, store: EmbeddedStack, tmp_path: Path
) -> None:
    rules, events = stream(SEED, EVENTS)
    settings = servers.settings(mongo_url=store.mongo_url)
    statuses: Counter[int] = Counter()
    async with folded_rules(tmp_path / "outage", settings, rules, with_ingest=True) as run:
        pids = {name: run.pid(name) for name in ("ingest", "moderation-1", "reporting")}
        await produce(settings, events[: len(events) // 2])
        await asyncio.sleep(2.0)  # the consumers are mid-stream

        stop(store.procs.pop("mongo"))
        down_at = time.monotonic()
        await produce(settings, events[len(events) // 2 :])
        async with platform_client(run.stack, timeout=60) as client:
            for i in range(POSTS):
                answer = await client.post("/v1/events", json=posted(i))
                statuses[answer.status_code] += 1
                if answer.status_code == 202:
                    assert {r["status"] for r in answer.json()["results"]} == {"accepted"}
                await asyncio.sleep((OUTAGE_S - 8) / POSTS)
            # a retry of a request accepted during the outage is still known (from memory)
            again = await client.post("/v1/events", json=posted(0))
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            outage_s = time.monotonic() - down_at
            store.start_mongo()

            await wait_drained(settings, timeout=240)
            # and once the store is back, what was accepted meanwhile is on record there
            after = await client.post("/v1/events", json=posted(POSTS - 1))
        alive = {name: run.alive(name) and run.pid(name) == pid for name, pid in pids.items()}
        warnings = {name: run.warnings(name) for name in pids}

    got = await outcome(settings)
    ids = Counter(
        r.value.split(b'"event_id":', 1)[1].split(b",", 1)[0].strip(b' "').decode()
        for r in await read_topic(settings, settings.events_topic)
        if b"store-outage-" in (r.value or b"")
    )
    want = await clean_replay(settings, servers.settings(), tmp_path / "clean")
    print(
        f"\nstore outage: {len(rules) + len(events)} events to the topic + {POSTS}x{PER_POST} "
        f"through ingest; store down {outage_s:.0f}s; ingest answers {dict(statuses)}; "
        f"warnings (own, libraries) {warnings}; outage run: {got.summary()}; clean: {want.summary()}"
    )

    assert statuses == {202: POSTS}, statuses
    assert again.status_code == 202
    assert {r["status"] for r in again.json()["results"]} == {"duplicate"}
    assert after.status_code == 202
    assert {r["status"] for r in after.json()["results"]} == {"duplicate"}
    assert all(alive.values()), alive
    assert all(0 < own <= MAX_WARNINGS for own, _ in warnings.values()), warnings
    assert len(ids) == POSTS * PER_POST and max(ids.values()) == 1
    assert compare(got, want) == []
