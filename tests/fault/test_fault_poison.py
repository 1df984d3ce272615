"""Poison records written straight to the events topic, between good ones: each lands on the
dead-letter topic with its reason and its original bytes, from each consumer that met it;
every good record around them is processed exactly as if the poison had never been there;
the consumers catch up to the end of the log (lag 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fault_kit import (
    KeyedRecord,
    clean_run,
    compare,
    folded_rules,
    outcome,
    produce,
    read_topic,
    stream,
    wait_drained,
)
from tests.support.stack import Servers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SEED = 3
EVENTS = 3_000
CONSUMERS = ("moderation", "reporting")


def message(event_id: str, **changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": event_id,
        "type": "message.posted",
        "schema_version": 2,
        "occurred_at": "2026-09-02T10:00:00Z",
        "platform": "slack",
        "group_id": "CPOISON",
        "user_id": "U1",
        "payload": {"message_id": event_id, "text": "hello"},
    }
    event.update(changes)
    return event


def poisons() -> dict[str, tuple[bytes, str]]:
    """name -> (the record's bytes, a fragment its dead-letter reason must contain)."""
    return {
        "invalid-json": (b'{"event_id": "p-json", "type": "message.posted", ', "invalid JSON"),
        "unknown-type": (
            json.dumps(message("p-type", type="message.teleported")).encode(),
            "unknown event type",
        ),
        "future-version": (
            json.dumps(message("p-future", schema_version=99)).encode(),
            "newer than this release",
        ),
        "oversized": (
            json.dumps(
                message("p-big", payload={"message_id": "p-big", "text": "x" * 900_000})
            ).encode(),
            "payload.text",
        ),
        "missing-fields": (
            json.dumps(message("p-missing", payload={"text": "no message id"})).encode(),
            "payload.message_id",
        ),
        "not-an-object": (b'["an", "array"]', "JSON object"),
    }


async def test_poison_records_are_dead_lettered_and_the_rest_processed(
    servers: Servers, tmp_path: Path
) -> None:
    rules, events = stream(SEED, EVENTS)
    bad = poisons()
    # Every poison between good records, on the key of a busy group so it shares a
    # partition with good records before and after it.
    mixed: list[KeyedRecord] = list(events)
    step = len(events) // (len(bad) + 1)
    for i, (value, _) in enumerate(bad.values()):
        key = events[(i + 1) * step][0]
        mixed.insert((i + 1) * step + i, (key, value))

    want = await clean_run(servers.settings(), tmp_path / "clean", rules, events)

    settings = servers.settings()
    async with folded_rules(tmp_path / "poison", settings, rules):
        await produce(settings, mixed)
        drained = await wait_drained(settings)
    got = await outcome(settings)
    dead = await read_topic(settings, settings.deadletter_topic)

    letters: dict[tuple[str, bytes], list[str]] = {}
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        source = headers["x-source"]
        assert source.split(":")[1] == settings.events_topic, source
        letters.setdefault((source.split(":")[0], record.value or b""), []).append(
            headers["x-reason"]
        )
    print(
        f"\npoison: {len(rules) + len(mixed)} records ({len(bad)} poison); "
        f"{len(dead)} dead letters; {drained}; run: {got.summary()}; clean: {want.summary()}"
    )
    for name, (value, reason) in bad.items():
        for consumer in CONSUMERS:
            reasons = letters.get((consumer, value))
            assert reasons, f"{name} not dead-lettered by {consumer}"
            # at least once: a consumer that rewinds after a failed batch meets it again
            assert all(reason in r for r in reasons), (name, consumer, reasons)
    assert set(letters) == {(c, value) for value, _ in bad.values() for c in CONSUMERS}
    assert drained.events_end == len(rules) + len(mixed)  # lag 0: everything read
    assert compare(got, want) == []
