"""The store frozen (SIGSTOP) for 20 s while ingest and reporting serve: every request is
answered within 5 s, and after the thaw nothing accepted meanwhile is lost.

A frozen MongoDB is worse than a stopped one: connections are still accepted (the kernel
queues them) and requests are sent, but no reply ever comes, so a client without its own
deadlines waits for as long as the freeze lasts (before this test's fixes: over 15 s for
a POST /v1/events and an activity read, for as long as the store stayed frozen).

Answers wanted during the freeze: ingest accepts events (its dedup falls back to memory
once the driver gives up) or says 503 + Retry-After; a rule-set change or a rule-set
version read needs the store and is 503 + Retry-After; reporting's reads are 503 +
Retry-After. After SIGCONT, reporting counts every event ingest accepted, exactly once.

The store is the test's own SecantusDB, so freezing it touches no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fault_kit import Consumers, wait_ready
from tests.support.stack import Servers
from tools.embedded import EmbeddedStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

FREEZE_S = 20.0
ANSWER_WITHIN_S = 5.0
GROUP = "slack:CFROZEN"
WARMUP = 20
PER_POST = 10
THAW_TIMEOUT_S = 150.0


@dataclass
class Answer:
    kind: str
    status: int | None  # None: no answer at all (client timeout)
    seconds: float
    retry_after: str | None
    text: str


def messages(prefix: str, n: int, at: datetime) -> list[dict[str, Any]]:
    when = at.isoformat().replace("+00:00", "Z")
    return [
        {
            "event_id": f"{prefix}-{i}",
            "type": "message.posted",
            "schema_version": 2,
            "occurred_at": when,
            "platform": "slack",
            "group_id": "CFROZEN",
            "user_id": f"U{i % 5}",
            "payload": {"message_id": f"{prefix}-{i}", "text": f"frozen store {prefix} {i}"},
        }
        for i in range(n)
    ]


def ruleset_update(version: int) -> dict[str, Any]:
    from services.ingest.rules_client import ruleset_event
    from shared.rules import default_ruleset, effective_rules

    rules = effective_rules(default_ruleset(), {"language": "en", "timezone": "UTC"})
    return ruleset_event(GROUP, version, rules.model_dump(mode="json"), "frozen-admin")


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[EmbeddedStack]:
    mongo = EmbeddedStack(tmp_path / "store")
    (tmp_path / "store").mkdir(parents=True)
    mongo.start_mongo()
    try:
        yield mongo
    finally:
        with contextlib.suppress(ProcessLookupError, KeyError):
            os.killpg(mongo.procs["mongo"].pid, signal.SIGCONT)  # a failed test may leave it frozen
        mongo.stop()


async def timed(client: httpx.AsyncClient, kind: str, method: str, url: str, **kw: Any) -> Answer:
    t0 = time.monotonic()
    try:
        resp = await client.request(method, url, **kw)
    except httpx.TimeoutException:
        return Answer(kind, None, time.monotonic() - t0, None, "no answer")
    return Answer(
        kind,
        resp.status_code,
        time.monotonic() - t0,
        resp.headers.get("retry-after"),
        resp.text[:300],
    )


async def counted(reporting: httpx.AsyncClient, day: str) -> int | None:
    """Messages reporting has folded for the group on `day` (None: no answer)."""
    try:
        resp = await reporting.get(
            f"/v1/groups/{GROUP}/activity", params={"from": day, "to": day}, timeout=10
        )
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    return sum(int(item["messages"]) for item in resp.json()["items"])


async def wait_counted(reporting: httpx.AsyncClient, day: str, want: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    got: int | None = None
    while time.monotonic() < deadline:
        got = await counted(reporting, day)
        if got is not None and got >= want:
            return got
        await asyncio.sleep(1.0)
    return got or 0


async def test_frozen_store_every_request_answered_and_nothing_lost(
    servers: Servers, store: EmbeddedStack, tmp_path: Path
) -> None:
    settings = servers.settings(mongo_url=store.mongo_url)
    run = Consumers.start(tmp_path / "run", settings, with_ingest=True)
    answers: list[Answer] = []
    accepted = 0
    try:
        wait_ready(run.stack.ingest_url)
        wait_ready(run.stack.reporting_url)
        pids = {name: run.pid(name) for name in ("ingest", "moderation-1", "reporting")}
        at = datetime.now(UTC) - timedelta(hours=1)
        day, month = at.date().isoformat(), at.strftime("%Y-%m")
        write = {"Authorization": f"Bearer {run.stack.tokens.admin}"}
        read = {"Authorization": f"Bearer {run.stack.tokens.auditor}"}
        async with (
            httpx.AsyncClient(base_url=run.stack.ingest_url, headers=write, timeout=15) as ingest,
            httpx.AsyncClient(
                base_url=run.stack.reporting_url, headers=read, timeout=15
            ) as reporting,
        ):
            warm = await ingest.post("/v1/events", json=messages("warm", WARMUP, at))
            assert warm.status_code == 202, warm.text
            assert await wait_counted(reporting, day, WARMUP, 90) == WARMUP

            os.killpg(store.procs["mongo"].pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            rounds = 0
            while time.monotonic() - frozen_at < FREEZE_S - ANSWER_WITHIN_S:
                batch = messages(f"frozen{rounds}", PER_POST, at)
                got = await asyncio.gather(
                    timed(ingest, "POST /v1/events", "POST", "/v1/events", json=batch),
                    timed(
                        ingest, "POST ruleset.updated", "POST", "/v1/events", json=ruleset_update(1)
                    ),
                    timed(ingest, "GET /v1/rulesets", "GET", f"/v1/rulesets/{GROUP}"),
                    timed(
                        reporting,
                        "GET activity",
                        "GET",
                        f"/v1/groups/{GROUP}/activity",
                        params={"from": day, "to": day},
                    ),
                    timed(reporting, "GET report", "GET", f"/v1/reports/{GROUP}/{month}"),
                    timed(reporting, "GET violations", "GET", f"/v1/groups/{GROUP}/violations"),
                )
                answers.extend(got)
                post = got[0]
                if post.status == 202:
                    accepted += PER_POST  # fresh ids: every one of them is `accepted`
                rounds += 1
                await asyncio.sleep(0.5)
            frozen_for = time.monotonic() - frozen_at
            await asyncio.sleep(max(0.0, FREEZE_S - frozen_for))
            frozen_for = time.monotonic() - frozen_at
            os.killpg(store.procs["mongo"].pid, signal.SIGCONT)
            thawed_at = time.monotonic()

            want = WARMUP + accepted
            got_count = await wait_counted(reporting, day, want, THAW_TIMEOUT_S)
            caught_up_s = time.monotonic() - thawed_at
            await asyncio.sleep(3.0)
            settled = await counted(reporting, day)
            after = await asyncio.gather(
                timed(ingest, "GET /v1/rulesets", "GET", f"/v1/rulesets/{GROUP}"),
                timed(reporting, "GET report", "GET", f"/v1/reports/{GROUP}/{month}"),
            )
        alive = {name: run.alive(name) and run.pid(name) == pid for name, pid in pids.items()}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(store.procs["mongo"].pid, signal.SIGCONT)
        run.stop()

    by_kind: dict[str, list[Answer]] = {}
    for a in answers:
        by_kind.setdefault(a.kind, []).append(a)
    summary = {
        kind: (sorted({str(a.status) for a in items}), round(max(a.seconds for a in items), 2))
        for kind, items in by_kind.items()
    }
    print(
        f"\nfrozen store: {frozen_for:.1f} s, {len(answers)} requests in {rounds} rounds; "
        f"(statuses, slowest answer s) per kind: {summary}; {accepted} events accepted "
        f"meanwhile; counted {got_count} of {want} {caught_up_s:.1f} s after the thaw"
    )

    slow = [a for a in answers if a.status is None or a.seconds >= ANSWER_WITHIN_S]
    assert not slow, slow
    for a in answers:
        if a.kind == "POST /v1/events":
            assert a.status in (202, 503), a
        else:  # these need the store: it did not answer
            assert a.status == 503, a
            assert "store" in a.text, a
        if a.status == 503:
            assert a.retry_after is not None and int(a.retry_after) > 0, a
    assert accepted > 0, "ingest accepted nothing while the store was frozen"
    assert got_count == want, f"reporting counted {got_count}, want {want}"
    assert settled == want, f"counted twice: {settled} after settling, want {want}"
    assert [a.status for a in after] == [200, 200], after
    assert all(alive.values()), alive
