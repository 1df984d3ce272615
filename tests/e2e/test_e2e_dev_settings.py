"""`modstream dev` honours every setting that is set, and picks only what is unset.

A new user's first try: `MODSTREAM_INGEST_PORT=8080 MODSTREAM_TOKENS_FILE=tokens.yaml
modstream dev` must serve on that port with those tokens (it used to pick another port
and write its own tokens). Runs on the session's broker and store (set through the same
settings), so each start costs only the services'."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.stack import Servers
from tools.embedded import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@contextmanager
def dev(env: dict[str, str], workdir: Path) -> Iterator[str]:
    """Start `modstream dev`; yield what it printed once it says it is running."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MODSTREAM_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "dev", "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=base | {"COLUMNS": "200"} | env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "running" in line:
                break
        printed = "".join(lines)
        assert "running" in printed, printed
        yield printed
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def servers_env(servers: Servers, tag: str) -> dict[str, str]:
    settings = servers.settings()
    return {
        "MODSTREAM_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "MODSTREAM_MONGO_URL": servers.mongo_url,
        "MODSTREAM_KAFKA_IDEMPOTENCE": str(not servers.embedded).lower(),
        "MODSTREAM_MONGO_DB": settings.mongo_db,
        "MODSTREAM_TOPIC_PREFIX": f"dev{tag}.",
        "MODSTREAM_CONSUMER_GROUP_PREFIX": f"dev{tag}-",
    }


def test_dev_uses_the_ports_that_are_set(servers: Servers, tmp_path: Path) -> None:
    ingest, reporting = free_port(), free_port()
    env = servers_env(servers, "ports") | {
        "MODSTREAM_INGEST_PORT": str(ingest),
        "MODSTREAM_REPORTING_PORT": str(reporting),
    }
    with dev(env, tmp_path) as printed:
        assert httpx.get(f"http://127.0.0.1:{ingest}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{reporting}/healthz", timeout=10).status_code == 200
        assert "free port" not in printed


def test_dev_picks_free_ports_and_says_so_when_unset(servers: Servers, tmp_path: Path) -> None:
    with dev(servers_env(servers, "free"), tmp_path) as printed:
        assert "free port; set MODSTREAM_INGEST_PORT" in printed
        assert "dev tokens" in printed


def test_dev_uses_the_tokens_file_that_is_set(servers: Servers, tmp_path: Path) -> None:
    tokens = tmp_path / "my-tokens.yaml"
    tokens.write_text(
        yaml.safe_dump(
            {
                "tokens": [
                    {"name": "me", "token": "my-own-admin-token", "role": "admin", "groups": ["*"]}
                ]
            }
        )
    )
    reporting = free_port()
    env = servers_env(servers, "tokens") | {
        "MODSTREAM_TOKENS_FILE": str(tokens),
        "MODSTREAM_REPORTING_PORT": str(reporting),
    }
    workdir = tmp_path / "dev"
    with dev(env, workdir) as printed:
        url = f"http://127.0.0.1:{reporting}/v1/groups"
        assert (
            httpx.get(url, headers={"Authorization": "Bearer my-own-admin-token"}).status_code
            == 200
        )
        assert httpx.get(url, headers={"Authorization": "Bearer adm-guess"}).status_code == 401
        assert str(tokens) in printed and "(yours)" in printed
        assert not (workdir / "tokens.yaml").exists()


def test_dev_uses_the_topic_prefix_and_partitions_that_are_set(
    servers: Servers, tmp_path: Path
) -> None:
    env = servers_env(servers, "prefix") | {"MODSTREAM_PARTITIONS": "3"}
    with dev(env, tmp_path):

        async def topics() -> dict[str, int]:
            admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
            await admin.start()
            try:
                names = [t for t in await admin.list_topics() if t.startswith("devprefix.")]
                described = await admin.describe_topics(names)
                return {d["topic"]: len(d["partitions"]) for d in described}
            finally:
                await admin.close()

        found = asyncio.run(topics())
    assert found == {
        "devprefix.events": 3,
        "devprefix.decisions": 3,
        "devprefix.deadletter": 3,
    }, found
