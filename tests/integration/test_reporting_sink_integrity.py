"""The reporting sink on the real store: a repeated event is counted once, in the live
generation and in a rebuilt one alike; a record a fold raises on is returned for the dead
letter and the rest of its batch is folded; repeated decisions are per group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.reporting import sink as sink_module
from services.reporting.event_ids import PassFirstOccurrences
from services.reporting.generations import ProjectionNames
from services.reporting.sink import ProjectionSink
from shared.codec import encode_decision, encode_event, event_from_dict
from shared.events import Decision
from shared.mongo import database, make_mongo
from shared.settings import Settings
from tests.support.stack import Servers

pytestmark = pytest.mark.integration


def message(event_id: str, group: str = "-100", text: str = "hello") -> bytes:
    return encode_event(
        event_from_dict(
            {
                "event_id": event_id,
                "type": "message.posted",
                "schema_version": 2,
                "occurred_at": "2026-09-01T10:00:00Z",
                "platform": "telegram",
                "group_id": group,
                "user_id": "7",
                "payload": {"message_id": event_id, "text": text},
            }
        )
    )


async def messages(db: Any, names: ProjectionNames) -> dict[str, int]:
    out: dict[str, int] = {}
    async for doc in db[names.physical("activity")].find({}):
        out[doc["group_key"]] = out.get(doc["group_key"], 0) + int(doc.get("messages", 0))
    return out


@pytest.fixture()
async def store(servers: Servers) -> AsyncIterator[tuple[Settings, Any, Any]]:
    settings = servers.settings()
    client = make_mongo(settings)
    try:
        yield settings, client, database(client, settings)
    finally:
        await client.close()


async def test_repeats_are_counted_once_live_and_rebuilt(
    store: tuple[Settings, Any, Any],
) -> None:
    settings, client, db = store
    topic = settings.events_topic
    records = [
        message("e1"),
        message("e2"),
        message("e1"),  # a retry ingest published again
        message("e1", group="-200"),  # the same id in another group: another event
    ]
    live = ProjectionSink(client, db, settings, ProjectionNames())
    await live.ensure_indexes()
    await live.claim(topic, 0)
    assert await live.apply(topic, 0, list(enumerate(records[:2]))) == []
    assert await live.apply(topic, 0, [(2, records[2]), (3, records[3])]) == []
    # a later batch repeating e2 again (a retry hours later)
    assert await live.apply(topic, 0, [(4, message("e2"))]) == []
    assert await messages(db, live.names) == {"telegram:-100": 2, "telegram:-200": 1}

    rebuilt = ProjectionNames({"activity": 2})
    rebuild = ProjectionSink(client, db, settings, rebuilt, projections=["activity"])
    await rebuild.ensure_indexes()
    await rebuild.claim(topic, 0)
    everything = [*enumerate(records), (4, message("e2"))]
    assert await rebuild.apply(topic, 0, everything) == []
    assert await messages(db, rebuilt) == {"telegram:-100": 2, "telegram:-200": 1}

    # `modstream rebuild` tells repeats apart by what its own pass has read, in batches
    # (one folded twice, as after a failed transaction), and gets the same counts.
    by_pass = ProjectionNames({"activity": 3})
    passing = ProjectionSink(
        client, db, settings, by_pass, projections=["activity"], event_ids=PassFirstOccurrences()
    )
    await passing.ensure_indexes()
    await passing.claim(topic, 0)
    assert await passing.apply(topic, 0, everything[:3]) == []
    assert await messages(db, by_pass) == {"telegram:-100": 2}
    assert await passing.apply(topic, 0, everything[3:]) == []
    assert await messages(db, by_pass) == {"telegram:-100": 2, "telegram:-200": 1}


async def test_a_record_a_fold_raises_on_is_returned_and_the_rest_folded(
    store: tuple[Settings, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client, db = store
    topic = settings.events_topic
    real = sink_module.fold_event

    def fragile(batch: Any, event: Any, ctx: Any, s: Any, **kw: Any) -> None:
        if event.payload.text == "boom":
            raise OverflowError("date value out of range")
        real(batch, event, ctx, s, **kw)

    monkeypatch.setattr(sink_module, "fold_event", fragile)
    sink = ProjectionSink(client, db, settings, ProjectionNames())
    await sink.ensure_indexes()
    await sink.claim(topic, 1)
    batch = [(0, message("a")), (1, message("b", text="boom")), (2, message("c"))]
    rejected = await sink.apply(topic, 1, batch)
    assert [(r.offset, r.reason) for r in rejected] == [
        (1, "fold failed: OverflowError: date value out of range")
    ]
    assert await messages(db, sink.names) == {"telegram:-100": 2}
    # the checkpoint moved past the whole batch: the partition goes on
    assert sink.offsets[("activity", topic, 1)] == 3


def decision(group: str) -> bytes:
    return encode_decision(
        Decision(
            decision_id="d-same",
            group_key=group,
            target_user_id="7",
            action="warn",
            rule_id="keywords",
            ruleset_version=1,
            reason="r",
            cause_event_ids=["e1"],
            decided_at="2026-09-01T10:00:00Z",  # type: ignore[arg-type]
        )
    )


async def test_the_same_decision_id_in_two_groups_is_two_decisions(
    store: tuple[Settings, Any, Any],
) -> None:
    settings, client, db = store
    topic = settings.decisions_topic
    sink = ProjectionSink(client, db, settings, ProjectionNames())
    await sink.ensure_indexes()
    await sink.claim(topic, 0)
    await sink.apply(topic, 0, [(0, decision("telegram:-100")), (1, decision("telegram:-200"))])
    await sink.apply(topic, 0, [(2, decision("telegram:-100"))])  # re-emitted: dropped
    warned: dict[str, int] = {}
    async for doc in db[sink.names.physical("activity")].find({}):
        warned[doc["group_key"]] = doc.get("decisions", {}).get("warn", 0)
    assert warned == {"telegram:-100": 1, "telegram:-200": 1}
