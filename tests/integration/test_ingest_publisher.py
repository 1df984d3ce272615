"""Ingest sends its own record batches: every event of a group must still land in the
partition a keyed publish puts it in, in the order of the request, each exactly once,
and an event larger than a whole batch must still go out."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from functools import partial

import pytest
from aiokafka.partitioner import DefaultPartitioner

from services.ingest.publisher import BrokerUnavailable, EventPublisher
from shared.codec import decode_event, event_from_dict
from shared.kafka import make_broker, make_producer, read_to_end
from shared.settings import Settings
from shared.topics import ensure_topics
from tools.simulator.community import simulate

pytestmark = pytest.mark.integration


async def test_batches_keep_each_group_in_its_partition_in_order(settings: Settings) -> None:
    await ensure_topics(settings)
    events = [event_from_dict(raw) for raw in simulate(4, 3000, datetime(2026, 6, 1, tzinfo=UTC))]
    big = event_from_dict(
        {
            "event_id": "big-1",
            "type": "message.posted",
            "schema_version": 2,
            "occurred_at": "2026-06-02T00:00:00Z",
            "platform": "slack",
            "group_id": "CBIG",
            "user_id": "U1",
            "payload": {"message_id": "m1", "text": "x" * 60_000},
        }
    )
    broker = make_broker(settings, client_id="test")
    await broker.start()
    # Small batches, so a request spans many of them and one event overflows a batch.
    publisher = EventPublisher(
        broker,
        settings.events_topic,
        settings.deadletter_topic,
        partial(make_producer, settings, client_id="test-events", max_batch_size=16 * 1024),
    )
    try:
        await publisher.publish(events[:1500])
        await publisher.publish([big])
        await publisher.publish(events[1500:])
    finally:
        await publisher.stop()
        await broker.stop()
    records = await read_to_end(settings, settings.events_topic)
    partitions = list(range(settings.partitions))
    seen: dict[int, list[str]] = defaultdict(list)
    for r in records:
        event = decode_event(r.value or b"")
        assert r.key == event.group_key.encode()
        assert r.partition == DefaultPartitioner()(r.key, partitions, partitions)
        seen[r.partition].append(event.event_id)
    sent = [*events[:1500], big, *events[1500:]]
    assert sorted(i for ids in seen.values() for i in ids) == sorted(e.event_id for e in sent)
    for partition, ids in seen.items():
        expected = [
            e.event_id
            for e in sent
            if DefaultPartitioner()(e.group_key.encode(), partitions, partitions) == partition
        ]
        assert ids == expected


async def test_an_unreachable_broker_is_a_broker_unavailable(settings: Settings) -> None:
    dead = settings.model_copy(
        update={"kafka_bootstrap": "127.0.0.1:9", "kafka_request_timeout_ms": 1000}
    )
    broker = make_broker(settings, client_id="test")
    publisher = EventPublisher(
        broker,
        dead.events_topic,
        dead.deadletter_topic,
        partial(make_producer, dead, client_id="test-events"),
    )
    event = event_from_dict(
        {
            "event_id": "e1",
            "type": "member.joined",
            "schema_version": 1,
            "occurred_at": "2026-06-02T00:00:00Z",
            "platform": "slack",
            "group_id": "C1",
            "user_id": "U1",
        }
    )
    with pytest.raises(BrokerUnavailable):
        await publisher.publish([event])
    await publisher.stop()
