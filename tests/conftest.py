"""Session fixtures: real Kafka-protocol and MongoDB-protocol servers for every test that
needs them. Set MODSTREAM_TEST_KAFKA_BOOTSTRAP and MODSTREAM_TEST_MONGO_URL to run the
suite against a real Kafka and MongoDB instead of the embedded Tansu and SecantusDB."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.support.stack import Servers, start_dev_stack
from tools.embedded import EmbeddedStack


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


@pytest.fixture(scope="module")
def dev_stack(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    stack = start_dev_stack(servers, tmp_path_factory.mktemp("dev"))
    try:
        yield stack
    finally:
        stack.stop()
