"""`modstream dev`: the embedded broker and store plus every service, as child processes.

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

from shared.settings import Settings
from tools.embedded import EmbeddedStack, free_port, spawn, stop, wait_for_port

SERVICES = ("ingest", "moderation", "reporting", "enforcement")
ROLES = ("admin", "operator", "auditor", "platform")


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

    @classmethod
    def from_file(cls, path: Path) -> DevTokens:
        """The plaintext tokens of a user's tokens file, one per role, preferring tokens for
        every group ('*'); a role the file has none for is empty (the demo needs admin,
        operator and platform; `modstream dev` needs none)."""
        data = yaml.safe_load(path.read_text()) or {}
        found: dict[str, tuple[bool, str]] = {}
        for spec in data.get("tokens") or []:
            if not isinstance(spec, dict) or not spec.get("token"):
                continue
            role, everywhere = str(spec.get("role")), "*" in (spec.get("groups") or [])
            if role not in found or (everywhere and not found[role][0]):
                found[role] = (everywhere, str(spec["token"]))
        return cls(**{role: found.get(role, (False, ""))[1] for role in ROLES})

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
    # The enforcer runs beside the others; without platform credentials (or with the
    # kill switch) every group runs dry_run: it records what it would call.
    enforcement_instances: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    tokens: DevTokens = field(default_factory=DevTokens)
    embedded: EmbeddedStack | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The user's tokens file (MODSTREAM_TOKENS_FILE): used as it is, no dev tokens written.
    user_tokens_file: Path | None = None
    # What the stack picked for settings the user left unset, to say so.
    chosen: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, workdir: Path, settings: Settings, moderation_instances: int = 1
    ) -> DevStack:
        """A stack that honours every setting that is set (servers, ports, tokens file;
        prefixes, partitions and the rest reach the services through the environment) and
        picks free ports or writes dev tokens only for what is unset."""
        given = settings.model_fields_set
        stack = cls(
            workdir,
            kafka_bootstrap=settings.kafka_bootstrap if "kafka_bootstrap" in given else None,
            mongo_url=settings.mongo_url if "mongo_url" in given else None,
            ingest_port=settings.ingest_port if "ingest_port" in given else 0,
            reporting_port=settings.reporting_port if "reporting_port" in given else 0,
            moderation_instances=moderation_instances,
        )
        if "tokens_file" in given and settings.tokens_file:
            stack.user_tokens_file = Path(settings.tokens_file)
            stack.tokens = DevTokens.from_file(stack.user_tokens_file)
        return stack

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def reporting_url(self) -> str:
        return f"http://127.0.0.1:{self.reporting_port}"

    @property
    def tokens_file(self) -> Path:
        return self.user_tokens_file or self.workdir / "tokens.yaml"

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
        for name in ("ingest_port", "reporting_port"):
            if not getattr(self, name):
                setattr(self, name, free_port())
                self.chosen[name] = (
                    f"{getattr(self, name)} (free port; set MODSTREAM_{name.upper()})"
                )
        if self.user_tokens_file is None:
            self.tokens.write(self.tokens_file)
            self.chosen["tokens_file"] = (
                f"{self.tokens_file} (dev tokens; set MODSTREAM_TOKENS_FILE)"
            )
        self._bootstrap_topics()
        self.start_service("ingest")
        for i in range(self.moderation_instances):
            self.start_service("moderation", f"moderation-{i + 1}")
        for i in range(self.enforcement_instances):
            self.start_service("enforcement", f"enforcement-{i + 1}" if i else "enforcement")
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
            "tokens file": str(self.tokens_file)
            + (" (yours)" if self.user_tokens_file else " (dev tokens, written now)"),
            **(
                {}
                if self.user_tokens_file
                else {
                    "admin token": self.tokens.admin,
                    "operator token": self.tokens.operator,
                    "auditor token": self.tokens.auditor,
                    "platform token": self.tokens.platform,
                }
            ),
            **{f"chosen: {k}": v for k, v in self.chosen.items()},
            "logs": str(self.workdir),
        }
