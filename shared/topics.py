"""Topic names live here only; the bootstrap is idempotent so every process may run it."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import Settings

UNLIMITED = "-1"


def topic_specs(settings: Settings) -> list[NewTopic]:
    keep_forever = {"retention.ms": UNLIMITED, "retention.bytes": UNLIMITED}
    return [
        NewTopic(settings.events_topic, settings.partitions, 1, topic_configs=keep_forever),
        NewTopic(settings.decisions_topic, settings.partitions, 1, topic_configs=keep_forever),
        NewTopic(settings.deadletter_topic, settings.partitions, 1),
    ]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created (empty when all existed)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topic_specs(settings) if t.name not in existing]
        if not missing:
            return []
        try:
            response = await admin.create_topics(missing)
        except TopicAlreadyExistsError:
            return []
        created = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise RuntimeError(f"creating topic {name} failed with Kafka error code {code}")
        return created
    finally:
        await admin.close()
