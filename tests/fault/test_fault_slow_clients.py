"""Slow clients on both HTTP edges: 300 connections per server that trickle their request
a byte every 2 s (headers that never end, bodies that never end) or send nothing are
closed by the server within its timeouts, while a normal request meanwhile is answered
at once; above the connection cap a normal request gets a fast 503 + Retry-After instead.

Before the guarded protocol (shared/http_server.py) all of these connections stayed open
for as long as their clients kept trickling: uvicorn has no header or body timeout.

Chosen behaviour: the cap (MODSTREAM_HTTP_MAX_CONNECTIONS, default 1000) is well above
300, so with the defaults a flood of 300 slow connections costs normal traffic nothing;
a server whose cap the flood exceeds answers normal requests 503 + Retry-After (fast, so
clients and load balancers back off or go elsewhere) until the timeouts have closed the
slow connections, and then 200 again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fault_kit import service_env, wait_ready
from tests.support.stack import Servers
from tools.devstack import DevStack
from tools.embedded import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]

SLOW = 300  # connections per server
EVERY_S = 2.0  # one byte this often
HEADER_TIMEOUT_S = 10.0  # the defaults under test
BODY_TIMEOUT_S = 10.0
MARGIN_S = 3.0  # the 2-core CI machine is busy with the flood itself
CAP = 50
GROUP = "slack:CSLOW"


@dataclass
class Closed:
    mode: str
    seconds: float  # from connecting until the server closed the connection
    status: int | None  # the status line the server sent first, if any
    body: str


def start(servers: Servers, workdir: Path, services: tuple[str, ...], **env: str) -> DevStack:
    settings = servers.settings()
    stack = DevStack(
        workdir,
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        extra_env=service_env(settings) | env,
    )
    stack.workdir.mkdir(parents=True, exist_ok=True)
    stack.tokens.write(stack.tokens_file)
    stack.ingest_port, stack.reporting_port = free_port(), free_port()
    try:
        for service in services:
            stack.start_service(service)
        for service in services:
            wait_ready(stack.ingest_url if service == "ingest" else stack.reporting_url)
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def edges(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack = start(servers, tmp_path_factory.mktemp("slow"), ("ingest", "reporting"))
    try:
        yield stack
    finally:
        stack.stop()


def request_head(path: str, token: str, length: int | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def slow_client(port: int, mode: str, head: bytes, give_up_s: float) -> Closed:
    """Connect and trickle: `headers` sends a request line and then a header a byte at a
    time that never ends; `body...` sends complete headers (`head`) announcing 1,000
    bytes and then the body a byte at a time; `idle` sends nothing. Until the server
    closes the connection (or `give_up_s`)."""
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        if mode == "headers":
            writer.write(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
        elif mode.startswith("body"):
            writer.write(head)
        while time.monotonic() - t0 < give_up_s:
            if mode != "idle":
                writer.write(b"a" if mode == "headers" else b" ")
                await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(65536), EVERY_S)
            except TimeoutError:
                continue
            if not chunk:
                break  # closed by the server
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.wait_closed()
    seconds = time.monotonic() - t0
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else None
    body = received.split(b"\r\n\r\n", 1)[1].decode(errors="replace") if status else ""
    return Closed(mode, seconds, status, body)


async def flood(port: int, heads: dict[str, bytes], give_up_s: float) -> list[Closed]:
    modes = list(heads)
    return await asyncio.gather(
        *(
            slow_client(port, modes[i % len(modes)], heads[modes[i % len(modes)]], give_up_s)
            for i in range(SLOW)
        )
    )


def message(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "message.posted",
        "schema_version": 2,
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
        "platform": "slack",
        "group_id": "CSLOW",
        "user_id": "U1",
        "payload": {"message_id": event_id, "text": "a normal request"},
    }


async def normal_requests(stack: DevStack, after_s: float) -> dict[str, tuple[int, float]]:
    """While the flood is on: a normal POST /v1/events and a reporting read."""
    await asyncio.sleep(after_s)
    out: dict[str, tuple[int, float]] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        t0 = time.monotonic()
        resp = await client.post(
            f"{stack.ingest_url}/v1/events",
            json=[message(f"slow-normal-{time.time_ns()}")],
            headers={"Authorization": f"Bearer {stack.tokens.platform}"},
        )
        out["POST /v1/events"] = (resp.status_code, time.monotonic() - t0)
        t0 = time.monotonic()
        resp = await client.get(
            f"{stack.reporting_url}/v1/groups/{GROUP}/activity",
            headers={"Authorization": f"Bearer {stack.tokens.auditor}"},
        )
        out["GET activity"] = (resp.status_code, time.monotonic() - t0)
    return out


def summary(closed: list[Closed]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in sorted({c.mode for c in closed}):
        times = [c.seconds for c in closed if c.mode == mode]
        out[mode] = {
            "n": len(times),
            "median_s": round(statistics.median(times), 1),
            "max_s": round(max(times), 1),
            "statuses": sorted({str(c.status) for c in closed if c.mode == mode}),
        }
    return out


async def test_slow_connections_are_closed_and_normal_requests_still_answered(
    edges: DevStack,
) -> None:
    give_up = HEADER_TIMEOUT_S + BODY_TIMEOUT_S + 20  # far beyond any timeout
    token = edges.tokens.platform
    ingest_heads = {
        "headers": b"",
        "body": request_head("/v1/events", token, 1000),
        "body-unauthenticated": request_head("/v1/events", "", 1000),
        "idle": b"",
    }
    review = f"/v1/groups/{GROUP}/spotchecks/e1/review"
    reporting_heads = {
        "headers": b"",
        "body": request_head(review, edges.tokens.admin, 1000),
        "idle": b"",
    }
    t0 = time.monotonic()
    ingest_closed, reporting_closed, normal = await asyncio.gather(
        flood(edges.ingest_port, ingest_heads, give_up),
        flood(edges.reporting_port, reporting_heads, give_up),
        normal_requests(edges, after_s=4.0),
    )
    took = time.monotonic() - t0
    for closed in (ingest_closed, reporting_closed):
        for c in closed:
            c.mode = c.mode.replace("body-unauthenticated", "body (no token)")
    print(
        f"\nslow clients, {SLOW} per server, a byte every {EVERY_S:g} s: ingest "
        f"{summary(ingest_closed)}; reporting {summary(reporting_closed)}; normal requests "
        f"meanwhile {normal}; all closed after {took:.1f} s"
    )

    assert normal["POST /v1/events"][0] == 202, normal
    assert normal["GET activity"][0] == 200, normal
    assert all(seconds < 2.0 for _, seconds in normal.values()), normal
    for closed in (ingest_closed, reporting_closed):
        for c in closed:
            # +1 s: the protocol's own body deadline comes a second after read_body's
            limit = BODY_TIMEOUT_S + 1.0 if c.mode.startswith("body") else HEADER_TIMEOUT_S
            assert c.seconds < limit + MARGIN_S, c
            assert c.seconds > min(HEADER_TIMEOUT_S, BODY_TIMEOUT_S) - 1.0, c
            if c.mode in ("headers", "body"):
                assert c.status == 408, c  # told why, not just cut off
                assert "not complete within" in c.body, c
            if c.mode == "body (no token)":
                assert c.status == 401, c  # answered at once, then closed by the deadline
            if c.mode == "idle":
                assert c.status is None, c
    for name in ("ingest", "reporting"):  # closing them is routine, not an error
        log = (edges.workdir / f"{name}.log").read_text(errors="replace")
        assert "Traceback" not in log and '"level": "error"' not in log, log[-3000:]
        assert edges.procs[name].poll() is None, name


async def test_above_the_cap_a_normal_request_gets_a_fast_503(
    servers: Servers, tmp_path: Path
) -> None:
    stack = start(
        servers, tmp_path / "capped", ("ingest",), MODSTREAM_HTTP_MAX_CONNECTIONS=str(CAP)
    )
    try:
        flooding = asyncio.create_task(
            flood(stack.ingest_port, {"headers": b"", "idle": b""}, HEADER_TIMEOUT_S + 20)
        )
        await asyncio.sleep(3.0)  # the slow connections are open
        headers = {"Authorization": f"Bearer {stack.tokens.platform}"}
        async with httpx.AsyncClient(base_url=stack.ingest_url, timeout=30) as client:
            t0 = time.monotonic()
            busy = await client.post("/v1/events", json=[message("cap-1")], headers=headers)
            busy_s = time.monotonic() - t0
            closed = await flooding
            t0 = time.monotonic()
            after = await client.post("/v1/events", json=[message("cap-2")], headers=headers)
            after_s = time.monotonic() - t0
        print(
            f"\ncap {CAP}, {SLOW} slow connections: a normal request got {busy.status_code} "
            f"in {busy_s:.2f} s ({busy.text}); slow ones closed after "
            f"{summary(closed)}; then {after.status_code} in {after_s:.2f} s"
        )
        assert busy.status_code == 503, busy.text
        assert busy_s < 1.0
        assert int(busy.headers["retry-after"]) > 0
        assert "more than 50 connections" in json.loads(busy.text)["detail"]
        assert all(c.seconds < HEADER_TIMEOUT_S + MARGIN_S for c in closed), summary(closed)
        assert after.status_code == 202, after.text
        log = (stack.workdir / "ingest.log").read_text(errors="replace")
        assert "connection cap reached" in log and "Traceback" not in log
    finally:
        stack.stop()
