"""Test support shared by every suite: the servers under test and a dev stack on them.

(Kept out of conftest.py so test modules can import it by a name no other conftest has.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from shared.settings import Settings


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    mongo_url: str
    embedded: bool

    def settings(self, **overrides: object) -> Settings:
        """Settings isolated to one test: its own topics and its own database."""
        tag = uuid.uuid4().hex[:10]
        values: dict[str, object] = {
            "kafka_bootstrap": self.kafka_bootstrap,
            "mongo_url": self.mongo_url,
            "topic_prefix": f"t{tag}.",
            "consumer_group_prefix": f"t{tag}-",
            "mongo_db": f"t_{tag}",
            "partitions": 4,
            "kafka_idempotence": not self.embedded,
            "snapshot_every_seconds": 0.5,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def env(self, settings: Settings) -> dict[str, str]:
        return isolation_env(settings)


def isolation_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a service process `settings`' isolation (its topics,
    consumer groups and database) and the test stack's broker and snapshot tuning."""
    return {
        "MODSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "MODSTREAM_CONSUMER_GROUP_PREFIX": settings.consumer_group_prefix,
        "MODSTREAM_MONGO_DB": settings.mongo_db,
        "MODSTREAM_PARTITIONS": str(settings.partitions),
        "MODSTREAM_KAFKA_IDEMPOTENCE": str(settings.kafka_idempotence).lower(),
        "MODSTREAM_SNAPSHOT_EVERY_SECONDS": str(settings.snapshot_every_seconds),
    }


def start_dev_stack(servers: Servers, workdir: Path, moderation: int = 1, **overrides: object):  # type: ignore[no-untyped-def]
    """All three services as real OS processes on the session's servers."""
    from tools.devstack import DevStack

    settings = servers.settings(**overrides)
    stack = DevStack(
        workdir,
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        moderation_instances=moderation,
        extra_env=servers.env(settings),
    )
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    stack.settings = settings  # type: ignore[attr-defined]
    return stack
