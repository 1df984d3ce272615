"""The broker unreachable for 30 s while moderation and reporting consume: both reconnect
on their own (same processes), and the decisions and projections come out exactly as in a
clean run of the same events.

The broker is a dedicated Tansu advertising a TCP proxy's port, so cutting the proxy takes
it away from every client (Tansu keeps its data only in memory: it must not be killed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.support.fault_kit import (
    clean_run,
    compare,
    folded_rules,
    outcome,
    produce,
    progress,
    stream,
    wait_drained,
    wait_progress,
)
from tests.support.stack import Servers
from tests.support.tcp_proxy import TcpProxy
from tools.embedded import EmbeddedStack, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SEED = 11
EVENTS = 30_000
OUTAGE_S = 30.0
# The service's own retries back off to 10 s, so a 30 s outage costs it a handful of
# warnings; a crash loop or a retry storm would log hundreds. (aiokafka logs each of its
# own reconnect attempts too: counted and reported, not bounded here.)
MAX_WARNINGS = 20


@pytest.fixture()
def proxied(servers: Servers, tmp_path: Path) -> Iterator[tuple[Settings, TcpProxy]]:
    proxy_port = free_port()
    broker = EmbeddedStack(tmp_path / "broker", kafka_advertised_port=proxy_port)
    broker.start_kafka()
    proxy = TcpProxy(proxy_port, broker.kafka_port).start()
    try:
        yield servers.settings(kafka_bootstrap=broker.kafka_bootstrap), proxy
    finally:
        proxy.stop()
        broker.stop()


async def test_broker_outage_consumers_reconnect_and_lose_nothing(
    servers: Servers, proxied: tuple[Settings, TcpProxy], tmp_path: Path
) -> None:
    settings, proxy = proxied
    rules, events = stream(SEED, EVENTS)
    want = await clean_run(servers.settings(), tmp_path / "clean", rules, events)

    async with folded_rules(tmp_path / "outage", settings, rules) as run:
        pids = {name: run.pid(name) for name in ("moderation-1", "reporting")}
        before = await progress(settings, "moderation-1")
        await produce(settings, events)
        await wait_progress(settings, "moderation-1", before, timeout=60)
        mid = await where(settings)  # both consumers are mid-stream
        proxy.cut()
        down_at = time.monotonic()
        await asyncio.sleep(OUTAGE_S)
        proxy.restore()
        outage_s = time.monotonic() - down_at
        drained = await wait_drained(settings, timeout=240)
        alive = {name: run.alive(name) and run.pid(name) == pid for name, pid in pids.items()}
        warnings = {name: run.warnings(name) for name in pids}
    got = await outcome(settings)

    print(
        f"\nbroker outage: {len(rules) + len(events)} events; cut {outage_s:.0f}s with "
        f"{mid} processed at the cut; warnings (own, aiokafka) {warnings}; outage run: {got.summary()}; "
        f"clean: {want.summary()}; {drained}"
    )
    assert drained.events_end == len(rules) + len(events)
    assert all(alive.values()), alive
    assert all(own <= MAX_WARNINGS for own, _ in warnings.values()), warnings
    assert want.decisions and want.documents
    assert compare(got, want) == []


async def where(settings: Settings) -> str:
    """Where the consumers stood when the broker went away (for the report only)."""
    from tools.catchup import positions

    pos = await positions(settings)
    return (
        f"moderation {pos.moderation_done}/{pos.events_end}, "
        f"reporting {pos.reporting_events_done}/{pos.events_end}"
    )
