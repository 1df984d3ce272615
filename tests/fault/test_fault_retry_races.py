"""Integrity under hostile use, through the real ingest HTTP path and real consumers.

- Racing retries: 20 rounds of 4 concurrent copies of a 50-event batch, then 10 ingest
  SIGKILLs in the middle of a 300-event POST that the client retries: every event is
  `accepted` by exactly one request, and the projections and decisions equal a clean run
  of the distinct events (nothing counted twice, nothing lost).
- Borrowed ids: a token of group B posting an event with the id of group A's next
  Telegram message is refused, and A's genuine webhook is then accepted and counted; a
  non-platform id A already used is answered for B exactly as a fresh one (B learns
  nothing about A).
- A year-9999 event: 422 at ingest naming the field; written straight onto the topic in a
  group whose clock is ahead of UTC, it is dead-lettered by both consumers with its reason
  and the partition's later events are folded within seconds.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.settings import Settings
from tests.support.fault_kit import (
    KeyedRecord,
    clean_run,
    compare,
    outcome,
    platform_client,
    produce,
    projections,
    read_topic,
    running,
    stream,
    wait_drained,
)
from tests.support.stack import Servers
from tools.devstack import wait_url_ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SEED = 12
ROUNDS, COPIES, BATCH = 20, 4, 50
KILLS, KILL_BATCH = 10, 300
POSTABLE = {"message.posted", "member.joined", "member.left", "complaint.filed"}


def platform_events(n: int) -> list[dict[str, Any]]:
    """The simulated community's platform traffic (what a platform token may post)."""
    _, records = stream(SEED, n)
    out = [json.loads(value) for _, value in records]
    return [e for e in out if e["type"] in POSTABLE]


def messages_counted(snapshot: dict[str, list[dict[str, Any]]]) -> int:
    return sum(
        int(doc.get("messages", 0))
        for name, docs in snapshot.items()
        if name.startswith("p_activity")
        for doc in docs
    )


async def post_until_answered(
    client: httpx.AsyncClient, batch: list[dict[str, Any]], deadline: float
) -> httpx.Response:
    """A client that retries until it gets an answer (as the platforms' relays do)."""
    while True:
        try:
            response = await client.post("/v1/events", json=batch)
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("ingest never answered the retried batch")
        await asyncio.sleep(0.3)


async def distinct_first(settings: Settings) -> tuple[list[KeyedRecord], list[KeyedRecord]]:
    """The run's events topic with every repeat of a (group, event id) left out: what a
    run without any retry would have written."""
    records = sorted(
        await read_topic(settings, settings.events_topic), key=lambda r: (r.partition, r.offset)
    )
    seen: set[tuple[str, str]] = set()
    rules: list[KeyedRecord] = []
    rest: list[KeyedRecord] = []
    for r in records:
        raw = json.loads(r.value or b"{}")
        key = (f"{raw['platform']}:{raw['group_id']}", raw["event_id"])
        if key in seen:
            continue
        seen.add(key)
        (rules if raw["type"] == "ruleset.updated" else rest).append((r.key or b"", r.value or b""))
    return rules, rest


async def test_racing_and_killed_retries_are_counted_once(servers: Servers, tmp_path: Path) -> None:
    settings = servers.settings()
    rules, _ = stream(SEED, 10)
    await produce(settings, rules)
    wanted = ROUNDS * BATCH + KILLS * KILL_BATCH
    traffic = platform_events(wanted + 600)[:wanted]
    assert len(traffic) == wanted
    raced = [traffic[i * BATCH : (i + 1) * BATCH] for i in range(ROUNDS)]
    rest = traffic[ROUNDS * BATCH :]
    killed = [rest[i * KILL_BATCH : (i + 1) * KILL_BATCH] for i in range(KILLS)]
    rng = random.Random(SEED)

    async with running(tmp_path / "run", settings, with_ingest=True) as consumers:
        stack = consumers.stack
        async with platform_client(stack) as c:
            for batch in raced:
                answers = await asyncio.gather(
                    *(c.post("/v1/events", json=batch) for _ in range(4))
                )
                assert [a.status_code for a in answers] == [202] * COPIES, answers[0].text
                accepted: Counter[str] = Counter()
                for a in answers:
                    for r in a.json()["results"]:
                        accepted[r["event_id"]] += r["status"] == "accepted"
                assert set(accepted.values()) == {1}, "an event was accepted more or less than once"

            kills_mid_post = 0
            # How long a post of this size takes here, learnt from each retry: the kill
            # must land while the request is in flight, however fast ingest answers.
            window = 0.25
            for batch in killed:
                post = asyncio.create_task(c.post("/v1/events", json=batch))
                await asyncio.sleep(rng.uniform(0.0, window))
                consumers.kill("ingest")
                try:
                    first = await post
                    answered = first.status_code == 202
                except httpx.TransportError:
                    answered = False
                kills_mid_post += not answered
                consumers.restart("ingest")
                wait_url_ready(stack.ingest_url, 90)
                sent = time.monotonic()
                retried = await post_until_answered(c, batch, sent + 120)
                window = 0.8 * (time.monotonic() - sent)
                assert retried.status_code == 202, retried.text
                assert {r["status"] for r in retried.json()["results"]} <= {"accepted", "duplicate"}
            assert kills_mid_post >= KILLS // 2, f"only {kills_mid_post} kills hit a request"
        await wait_drained(settings)
        got = await outcome(settings)

    sent = {(e["platform"], e["group_id"], e["event_id"]) for e in traffic}
    landed: Counter[tuple[str, str, str]] = Counter()
    for r in await read_topic(settings, settings.events_topic):
        raw = json.loads(r.value or b"{}")
        landed[(raw["platform"], raw["group_id"], raw["event_id"])] += 1
    missing = sent - set(landed)
    assert not missing, f"{len(missing)} events never reached the topic, e.g. {sorted(missing)[:3]}"
    messages = sum(e["type"] == "message.posted" for e in traffic)
    twice = sum(n > 1 for n in landed.values())
    assert messages_counted(got.projections) == messages, f"{twice} events on the topic twice"

    clean = servers.settings()
    clean_rules, clean_events = await distinct_first(settings)
    want = await clean_run(clean, tmp_path / "clean", clean_rules, clean_events)
    problems = compare(got, want)
    assert not problems, "\n".join(problems)


TOKENS = {
    "tokens": [
        {
            "name": "group-a",
            "token": "tok-group-a",
            "role": "platform",
            "groups": ["telegram:-100"],
        },
        {
            "name": "group-b",
            "token": "tok-group-b",
            "role": "platform",
            "groups": ["telegram:-200"],
        },
    ]
}
SECRET = "victim-webhook-secret"


def telegram_message(chat: int, message_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": 9000 + message_id,
        "message": {
            "message_id": message_id,
            "date": int(time.time()) - 5,
            "chat": {"id": chat, "type": "supergroup", "title": "victims"},
            "from": {"id": 777, "is_bot": False, "first_name": "Ann"},
            "text": text,
        },
    }


def api_message(group: str, event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "message.posted",
        "schema_version": 2,
        "occurred_at": "2026-11-30T10:00:00Z",
        "platform": "telegram",
        "group_id": group,
        "user_id": "666",
        "payload": {"message_id": event_id.rsplit(":", 1)[-1], "text": "hello"},
    }


async def test_a_group_cannot_borrow_or_probe_another_groups_ids(
    servers: Servers, tmp_path: Path
) -> None:
    settings = servers.settings()
    async with running(tmp_path / "run", settings) as consumers:
        stack = consumers.stack
        stack.tokens_file.write_text(yaml.safe_dump(TOKENS))
        stack.extra_env["MODSTREAM_TELEGRAM_SECRET_TOKEN"] = SECRET
        consumers.restart("ingest")
        wait_url_ready(stack.ingest_url, 90)
        a = {"Authorization": "Bearer tok-group-a"}
        b = {"Authorization": "Bearer tok-group-b"}
        async with httpx.AsyncClient(base_url=stack.ingest_url, timeout=30) as c:
            # B tries to take A's next Telegram message id.
            stolen = await c.post(
                "/v1/events", json=api_message("-200", "telegram:-100:msg:42"), headers=b
            )
            assert stolen.status_code == 422, stolen.text
            assert "another telegram group" in stolen.text
            # A uses a plain id; B sending the same id is answered as for any fresh id.
            first = await c.post("/v1/events", json=api_message("-100", "shared-1"), headers=a)
            assert first.json()["results"][0]["status"] == "accepted"
            probe = await c.post("/v1/events", json=api_message("-200", "shared-1"), headers=b)
            fresh = await c.post("/v1/events", json=api_message("-200", "never-used"), headers=b)
            assert probe.status_code == fresh.status_code == 202
            assert probe.json()["results"][0]["status"] == "accepted"
            assert fresh.json()["results"][0]["status"] == "accepted"
            # A's genuine, signed webhook for message 42 lands.
            hook = await c.post(
                "/v1/webhooks/telegram",
                json=telegram_message(-100, 42, "the real message"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
            assert hook.status_code == 202, hook.text
            assert hook.json()["results"][0] == {
                "event_id": "telegram:-100:msg:42",
                "status": "accepted",
            }
        await wait_drained(settings)
        snapshot = await projections(settings)
    by_group: Counter[str] = Counter()
    for name, docs in snapshot.items():
        if name.startswith("p_activity"):
            for doc in docs:
                by_group[doc["group_key"]] += int(doc.get("messages", 0))
    assert by_group == {"telegram:-100": 2, "telegram:-200": 2}


def year_9999(event_id: str, group: str) -> dict[str, Any]:
    return {**api_message(group, event_id), "occurred_at": "9999-12-31T23:59:59Z"}


async def test_a_year_9999_event_is_refused_and_cannot_stall_a_partition(
    servers: Servers, tmp_path: Path
) -> None:
    settings = servers.settings()
    group = "-300"
    key = f"telegram:{group}".encode()
    rules = {
        "event_id": "rules-300",
        "type": "ruleset.updated",
        "schema_version": 1,
        "occurred_at": "2026-11-01T00:00:00Z",
        "platform": "telegram",
        "group_id": group,
        "user_id": "admin",
        "payload": {"version": 1, "rules": {"timezone": "Pacific/Kiritimati", "language": "en"}},
    }
    async with running(tmp_path / "run", settings, with_ingest=True) as consumers:
        async with platform_client(consumers.stack) as c:
            refused = await c.post("/v1/events", json=year_9999("y9999", group))
        assert refused.status_code == 422, refused.text
        assert "occurred_at" in refused.text

        poison = json.dumps(year_9999("y9999", group)).encode()
        after = json.dumps(api_message(group, "after-the-poison")).encode()
        await produce(settings, [(key, json.dumps(rules).encode())])
        await produce(settings, [(key, poison), (key, after)])
        started = time.monotonic()
        await wait_drained(settings, timeout=60)
        folded_in = time.monotonic() - started
        snapshot = await projections(settings)
        letters = await read_topic(settings, settings.deadletter_topic)
    assert messages_counted(snapshot) == 1, "the event after the poison was not folded"
    assert folded_in < 60
    sources = {}
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}
        if letter.value == poison:
            sources[headers["x-source"].split(":")[0]] = headers["x-reason"]
    assert set(sources) == {"moderation", "reporting"}, sources
    assert all("occurred_at" in reason for reason in sources.values()), sources


async def test_with_the_store_down_ingest_replicas_rest_on_the_consumers_dedup(
    servers: Servers, tmp_path: Path
) -> None:
    """Two ingest replicas that cannot reach their store claim from memory only: both
    accept the same batch, so the topic holds it twice; the consumers count it once."""
    settings = servers.settings()
    batch = platform_events(80)[:60]
    messages = sum(e["type"] == "message.posted" for e in batch)
    async with running(tmp_path / "run", settings) as consumers:
        stack = consumers.stack
        from tools.embedded import free_port

        stack.extra_env["MODSTREAM_MONGO_URL"] = f"mongodb://127.0.0.1:{free_port()}"
        urls = []
        for name in ("ingest-1", "ingest-2"):
            stack.ingest_port = free_port()
            stack.start_service("ingest", name)
            urls.append(stack.ingest_url)
        del stack.extra_env["MODSTREAM_MONGO_URL"]
        for url in urls:
            wait_url_ready(url, 90)
            async with platform_client(stack, url) as c:
                answer = await c.post("/v1/events", json=batch)
                assert answer.status_code == 202, answer.text
                assert {r["status"] for r in answer.json()["results"]} == {"accepted"}
        await wait_drained(settings)
        snapshot = await projections(settings)
    landed: Counter[str] = Counter(
        json.loads(r.value or b"{}")["event_id"]
        for r in await read_topic(settings, settings.events_topic)
    )
    assert set(landed.values()) == {2}  # each event on the topic twice
    assert messages_counted(snapshot) == messages  # and counted once
