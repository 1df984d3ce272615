"""Kafka plumbing: one FastStream broker factory for every producer, consumer factory, the
true end offsets, a consumer group's committed offsets, and reading a topic to its end."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from shared.logging import get_logger
from shared.metrics import DEADLETTERS
from shared.settings import Settings


def _producer_options(settings: Settings, client_id: str) -> dict[str, Any]:
    """What every producer guarantees: acks from every in-sync replica, idempotence as
    set, batching by the same linger and bounded waits."""
    return {
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotence,
        "linger_ms": settings.kafka_linger_ms,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "max_request_size": 4 * 1024 * 1024,
    }


def make_broker(settings: Settings, *, client_id: str) -> KafkaBroker:
    """A broker used for publishing (FastStream over aiokafka)."""
    return KafkaBroker(
        settings.kafka_bootstrap, log_level=30, **_producer_options(settings, client_id)
    )


def make_producer(
    settings: Settings, *, client_id: str, max_batch_size: int = 512 * 1024
) -> AIOKafkaProducer:
    """A bare aiokafka producer with the broker factory's guarantees (acks from every
    in-sync replica, idempotence as set, the same linger), for a hot path that sends its
    own record batches (ingest). A batch stays well under Kafka's default 1 MiB limit."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        max_batch_size=max_batch_size,
        **_producer_options(settings, client_id),
    )


def make_consumer(
    settings: Settings,
    *,
    group_id: str | None,
    client_id: str,
    fetch_max_wait_ms: int | None = None,
) -> AIOKafkaConsumer:
    """Consumers commit nothing on their own: their truth is the checkpoint in MongoDB.

    `fetch_max_wait_ms` overrides KAFKA_FETCH_MAX_WAIT_MS for a consumer that does not
    need its latency (reporting: a short wait only makes its fetcher poll the broker over
    and over while a batch commits)."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        # Latency: Tansu holds a fetch for the whole max wait even when records are there
        # (measured: p50 131 ms at 500 ms, 8 ms at 10 ms); Kafka answers at min_bytes.
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms
        if fetch_max_wait_ms is None
        else fetch_max_wait_ms,
        fetch_max_bytes=16 * 1024 * 1024,
        request_timeout_ms=max(settings.kafka_request_timeout_ms, 40_000),
        session_timeout_ms=10_000,
        heartbeat_interval_ms=2_000,
        max_poll_interval_ms=300_000,
    )


async def log_end_offsets(
    bootstrap: str, tps: list[TopicPartition], probe_s: float = 5.0
) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition.

    ListOffsets alone is not enough: Tansu answers it with the base offset of the last
    record batch + 1, not the offset after the batch's last record, so readers that stop
    at "the end" would miss up to a whole batch. A fetch from that offset carries the true
    high watermark, so the answer is the larger of the two (on Apache Kafka they agree).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=1024,
        max_partition_fetch_bytes=1024,
    )
    await consumer.start()
    try:
        listed = await consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, listed[tp])
        deadline = time.monotonic() + probe_s
        while time.monotonic() < deadline:
            if all(consumer.highwater(tp) is not None for tp in tps):
                break
            await consumer.getmany(timeout_ms=100, max_records=1)
        return {tp: max(listed[tp], consumer.highwater(tp) or 0) for tp in tps}
    finally:
        await consumer.stop()


async def committed_offsets(
    bootstrap: str, groups: Mapping[str, Iterable[TopicPartition]]
) -> dict[str, dict[TopicPartition, int]]:
    """The offsets each consumer group has committed for these partitions (0 where it has
    committed none): what lag monitors and KEDA read. Partitions are always named, as
    Tansu cannot answer an OffsetFetch for all of a group's partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="modstream-offsets")
    await admin.start()
    try:
        out: dict[str, dict[TopicPartition, int]] = {}
        for group, tps in groups.items():
            wanted = list(tps)
            got = await admin.list_consumer_group_offsets(group, partitions=wanted)
            out[group] = {tp: max(got[tp].offset, 0) if tp in got else 0 for tp in wanted}
        return out
    finally:
        await admin.close()


def _bootstrap(settings_or_bootstrap: Settings | str) -> str:
    if isinstance(settings_or_bootstrap, Settings):
        return settings_or_bootstrap.kafka_bootstrap
    return settings_or_bootstrap


async def read_to_end(
    settings_or_bootstrap: Settings | str,
    topic: str,
    *,
    since: Mapping[int, int] | None = None,
    timeout: float = 120.0,
    max_records: int = 10_000,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic from `since` (partition -> offset; 0 where not given) up to
    the true end offsets of the moment (`log_end_offsets`), partition by partition, each in
    offset order. Records written after the ends were taken are left out."""
    bootstrap = _bootstrap(settings_or_bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer.topics()  # metadata of every topic, so the partitions are known
        partitions = consumer.partitions_for_topic(topic)
        if not partitions and isinstance(settings_or_bootstrap, Settings):
            partitions = set(range(settings_or_bootstrap.partitions))
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = await log_end_offsets(bootstrap, tps)
        starts = {tp: min((since or {}).get(tp.partition, 0), ends[tp]) for tp in tps}
        pending = [tp for tp in tps if starts[tp] < ends[tp]]
        out: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {tp: [] for tp in tps}
        if not pending:
            return []
        consumer.assign(pending)
        for tp in pending:
            consumer.seek(tp, starts[tp])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                left = {tp.partition: ends[tp] for tp in pending}
                raise TimeoutError(f"{topic}: could not read up to {left} in {timeout:.0f}s")
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=max_records)
            for tp, records in batch.items():
                out[tp].extend(r for r in records if r.offset < ends[tp])
            still = []
            for tp in pending:
                if await consumer.position(tp) < ends[tp]:
                    still.append(tp)
                else:
                    consumer.pause(tp)
            pending = still
        return [r for tp in tps for r in out[tp]]
    finally:
        await consumer.stop()


async def dead_letter_record(
    broker: KafkaBroker, settings: Settings, service: str, record: Any, reason: str
) -> Any:
    """Publish an unreadable (or always-failing) record's original bytes to the dead-letter
    topic with the reason and where it came from; the publish's future (awaited by the
    caller with its batch). Counted and logged once, here, for every consumer."""
    DEADLETTERS.labels(service, reason.split(":")[0][:40]).inc()
    get_logger().warning(
        "record dead-lettered", reason=reason, partition=record.partition, offset=record.offset
    )
    return await broker.publish(
        record.value or b"",
        settings.deadletter_topic,
        headers={
            "x-reason": reason[:1000],
            "x-source": f"{service}:{record.topic}:{record.partition}:{record.offset}",
        },
        no_confirm=True,
    )
