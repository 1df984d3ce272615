from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.settings import Settings
from shared.topics import ensure_topics

pytestmark = pytest.mark.integration


async def test_topic_bootstrap_is_idempotent(settings: Settings) -> None:
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(
        [settings.events_topic, settings.decisions_topic, settings.deadletter_topic]
    )
    assert await ensure_topics(settings) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.events_topic])
        assert len(described[0]["partitions"]) == settings.partitions
    finally:
        await admin.close()
