"""Kafka plumbing: one FastStream broker factory for every producer, consumer factory."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker

from shared.settings import Settings


def make_broker(settings: Settings, *, client_id: str) -> KafkaBroker:
    """A broker used for publishing: acks from every in-sync replica, batched by linger."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=settings.kafka_linger_ms,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        max_request_size=4 * 1024 * 1024,
        log_level=30,
    )


def make_consumer(settings: Settings, *, group_id: str | None, client_id: str) -> AIOKafkaConsumer:
    """Consumers commit nothing on their own: their truth is the checkpoint in MongoDB."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        request_timeout_ms=max(settings.kafka_request_timeout_ms, 40_000),
        session_timeout_ms=10_000,
        heartbeat_interval_ms=2_000,
        max_poll_interval_ms=300_000,
    )
