"""Session fixtures: real Kafka-protocol and MongoDB-protocol servers for every test that
needs them. Set MODSTREAM_TEST_KAFKA_BOOTSTRAP and MODSTREAM_TEST_MONGO_URL to run the
suite against a real Kafka and MongoDB instead of the embedded Tansu and SecantusDB."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.embedded import EmbeddedStack
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
            "mongo_db": f"t_{tag}",
            "partitions": 4,
            "kafka_idempotence": not self.embedded,
            "snapshot_every_seconds": 0.5,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def env(self, settings: Settings) -> dict[str, str]:
        return {
            "MODSTREAM_TOPIC_PREFIX": settings.topic_prefix,
            "MODSTREAM_MONGO_DB": settings.mongo_db,
            "MODSTREAM_PARTITIONS": str(settings.partitions),
            "MODSTREAM_KAFKA_IDEMPOTENCE": str(settings.kafka_idempotence).lower(),
            "MODSTREAM_SNAPSHOT_EVERY_SECONDS": str(settings.snapshot_every_seconds),
        }


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    kafka = os.environ.get("MODSTREAM_TEST_KAFKA_BOOTSTRAP")
    mongo = os.environ.get("MODSTREAM_TEST_MONGO_URL")
    if kafka and mongo:
        yield Servers(kafka, mongo, embedded=False)
        return
    stack = EmbeddedStack(tmp_path_factory.mktemp("embedded"))
    try:
        stack.start()
        yield Servers(stack.kafka_bootstrap, stack.mongo_url, embedded=True)
    finally:
        stack.stop()


@pytest.fixture()
def settings(servers: Servers) -> Settings:
    return servers.settings()


@pytest.fixture()
def artifacts_dir() -> Path:
    path = Path(os.environ.get("MODSTREAM_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def start_dev_stack(servers: Servers, workdir: Path, moderation: int = 1, **overrides: object):  # type: ignore[no-untyped-def]
    """All three services as real OS processes on the session's servers."""
    from shared.devstack import DevStack

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


@pytest.fixture(scope="module")
def dev_stack(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    stack = start_dev_stack(servers, tmp_path_factory.mktemp("dev"))
    try:
        yield stack
    finally:
        stack.stop()
