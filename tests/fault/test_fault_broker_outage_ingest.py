"""Broker unreachable: ingest answers 503 with Retry-After and accepts nothing; once the
broker is back, the retried requests land once each."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.kafka import read_to_end
from tests.support.stack import Servers
from tests.support.tcp_proxy import TcpProxy
from tools.devstack import DevStack, wait_url_ready
from tools.embedded import EmbeddedStack, free_port

pytestmark = pytest.mark.integration


def events(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"outage-{i}",
            "type": "message.posted",
            "schema_version": 2,
            "occurred_at": "2026-04-01T10:00:00Z",
            "platform": "slack",
            "group_id": f"C{i % 3}",
            "user_id": "U1",
            "payload": {"message_id": f"m{i}", "text": f"message {i}"},
        }
        for i in range(start, start + n)
    ]


@pytest.fixture()
def proxied(servers: Servers, tmp_path: Path) -> Iterator[tuple[DevStack, TcpProxy, str]]:
    proxy_port = free_port()
    broker = EmbeddedStack(tmp_path, kafka_advertised_port=proxy_port)
    broker.start_kafka()
    proxy = TcpProxy(proxy_port, broker.kafka_port).start()
    settings = servers.settings(kafka_idempotence=False)
    stack = DevStack(
        tmp_path,
        kafka_bootstrap=broker.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        extra_env=servers.env(settings) | {"MODSTREAM_KAFKA_IDEMPOTENCE": "false"},
    )
    try:
        stack.ingest_port = free_port()
        stack.tokens.write(stack.tokens_file)
        stack.start_service("ingest")
        wait_url_ready(stack.ingest_url, 60)
        yield stack, proxy, settings.events_topic
    finally:
        stack.stop()
        proxy.stop()
        broker.stop()


async def _topic_ids(bootstrap: str, topic: str) -> Counter[str]:
    return Counter(
        json.loads(r.value or b"{}")["event_id"] for r in await read_to_end(bootstrap, topic)
    )


async def test_broker_outage_gives_503_then_retries_land_once(
    proxied: tuple[DevStack, TcpProxy, str],
) -> None:
    stack, proxy, topic = proxied
    auth = {"Authorization": f"Bearer {stack.tokens.platform}"}
    with httpx.Client(base_url=stack.ingest_url, headers=auth, timeout=60) as client:
        assert client.post("/v1/events", json=events(0, 10)).status_code == 202

        proxy.cut()
        down = client.post("/v1/events", json=events(10, 10))
        assert down.status_code == 503, down.text
        assert int(down.headers["Retry-After"]) > 0
        assert client.get("/readyz").status_code == 503

        proxy.restore()
        deadline = time.monotonic() + 60
        while True:
            retried = client.post("/v1/events", json=events(10, 10))
            if retried.status_code == 202 or time.monotonic() > deadline:
                break
            time.sleep(float(retried.headers.get("Retry-After", "1")))
        assert retried.status_code == 202, retried.text
        assert {r["status"] for r in retried.json()["results"]} == {"accepted"}
        assert client.get("/readyz").status_code == 200

    ids = await _topic_ids(stack.kafka_bootstrap or "", topic)
    assert set(ids) == {f"outage-{i}" for i in range(20)}
    assert max(ids.values()) == 1, {k: v for k, v in ids.items() if v > 1}
