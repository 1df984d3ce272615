"""`modstream dev`: the embedded broker and store plus all three services, as child processes.

Every child runs in its own process group and is stopped (TERM, then KILL) when the stack
stops, so Ctrl-C or SIGTERM leaves no broker, store or service process behind.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from shared.embedded import EmbeddedStack, free_port, spawn, stop, wait_for_port

SERVICES = ("ingest", "moderation", "reporting")


def wait_url_ready(url: str, timeout: float = 90.0) -> None:
    """Until a service's /readyz answers 200 (the one readiness poll every caller uses)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout:.0f}s")
        time.sleep(0.2)


@dataclass
class DevTokens:
    admin: str = field(default_factory=lambda: "adm-" + secrets.token_urlsafe(18))
    operator: str = field(default_factory=lambda: "op-" + secrets.token_urlsafe(18))
    auditor: str = field(default_factory=lambda: "aud-" + secrets.token_urlsafe(18))
    platform: str = field(default_factory=lambda: "plt-" + secrets.token_urlsafe(18))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.safe_dump(
                {
                    "tokens": [
                        {
                            "name": "dev-admin",
                            "token": self.admin,
                            "role": "admin",
                            "groups": ["*"],
                        },
                        {
                            "name": "dev-operator",
                            "token": self.operator,
                            "role": "operator",
                            "groups": ["*"],
                        },
                        {
                            "name": "dev-auditor",
                            "token": self.auditor,
                            "role": "auditor",
                            "groups": ["*"],
                        },
                        {
                            "name": "dev-platform",
                            "token": self.platform,
                            "role": "platform",
                            "groups": ["*"],
                        },
                    ]
                }
            )
        )
        path.chmod(0o600)


@dataclass
class DevStack:
    workdir: Path
    kafka_bootstrap: str | None = None
    mongo_url: str | None = None
    ingest_port: int = 0
    reporting_port: int = 0
    moderation_instances: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    tokens: DevTokens = field(default_factory=DevTokens)
    embedded: EmbeddedStack | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def reporting_url(self) -> str:
        return f"http://127.0.0.1:{self.reporting_port}"

    @property
    def tokens_file(self) -> Path:
        return self.workdir / "tokens.yaml"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "MODSTREAM_KAFKA_BOOTSTRAP": self.kafka_bootstrap or "",
                "MODSTREAM_MONGO_URL": self.mongo_url or "",
                "MODSTREAM_TOKENS_FILE": str(self.tokens_file),
                "MODSTREAM_INGEST_PORT": str(self.ingest_port),
                "MODSTREAM_REPORTING_PORT": str(self.reporting_port),
                "MODSTREAM_HTTP_HOST": "127.0.0.1",
                "MODSTREAM_METRICS_PORT": "0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.embedded is not None:
            env["MODSTREAM_KAFKA_IDEMPOTENCE"] = "false"
        env.update(self.extra_env)
        return env

    def start(self) -> DevStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.kafka_bootstrap or not self.mongo_url:
            self.embedded = EmbeddedStack(self.workdir)
            if not self.kafka_bootstrap:
                self.embedded.start_kafka()
                self.kafka_bootstrap = self.embedded.kafka_bootstrap
            if not self.mongo_url:
                self.embedded.start_mongo()
                self.mongo_url = self.embedded.mongo_url
        self.ingest_port = self.ingest_port or free_port()
        self.reporting_port = self.reporting_port or free_port()
        self.tokens.write(self.tokens_file)
        self._bootstrap_topics()
        self.start_service("ingest")
        for i in range(self.moderation_instances):
            self.start_service("moderation", f"moderation-{i + 1}")
        self.start_service("reporting")
        self.wait_ready()
        return self

    def _bootstrap_topics(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "services.cli", "topics"],
            env=self.env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start_service(self, service: str, name: str | None = None) -> subprocess.Popen[bytes]:
        name = name or service
        proc = spawn(
            [sys.executable, "-m", "services.cli", service],
            self.workdir / f"{name}.log",
            env=self.env(),
        )
        self.procs[name] = proc
        return proc

    def wait_ready(self, timeout: float = 90.0) -> None:
        wait_for_port(self.ingest_port, timeout, proc=self.procs["ingest"])
        wait_for_port(self.reporting_port, timeout, proc=self.procs["reporting"])
        deadline = time.monotonic() + timeout
        for url in (self.ingest_url, self.reporting_url):
            wait_url_ready(url, max(deadline - time.monotonic(), 0.0))

    def stop_service(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            stop(proc)

    def stop(self) -> None:
        for name in list(self.procs):
            self.stop_service(name)
        if self.embedded is not None:
            self.embedded.stop()

    def describe(self) -> dict[str, str]:
        return {
            "ingest API": self.ingest_url,
            "reporting API + dashboard": self.reporting_url,
            "Kafka bootstrap": self.kafka_bootstrap or "",
            "MongoDB": self.mongo_url or "",
            "tokens file": str(self.tokens_file),
            "admin token": self.tokens.admin,
            "operator token": self.tokens.operator,
            "auditor token": self.tokens.auditor,
            "platform token": self.tokens.platform,
            "logs": str(self.workdir),
        }
