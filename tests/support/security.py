"""Shared helpers of the security suite: group-scoped tokens, a stack started with them
and with platform secrets, canonical event builders, real platform payloads and their
signatures, and a count of what reached the events topic (so a refused request can be
shown to have published nothing)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.settings import Settings
from tests.support.events import raw_event, whole_rules
from tools.catchup import end_offsets
from tools.devstack import DevStack, wait_url_ready
from tools.embedded import free_port

GROUP_A = "telegram:-100111"
GROUP_B = "telegram:-100222"
SHARED_USER = "shared-user"
# Strings that only group B's seed data carries: an answer about A must hold none.
B_MARKERS = ("-100222", "b-carol", "b-dave", "cB1", "sB1", "betaspam")
A_MARKERS = ("-100111", "a-alice", "cA1", "sA1")

ONEBOT_SECRET = "sec-onebot-" + secrets.token_hex(12)
TELEGRAM_SECRET = "sec-telegram-" + secrets.token_hex(12)
SLACK_SECRET = "sec-slack-" + secrets.token_hex(12)
PLATFORM_SECRETS = (ONEBOT_SECRET, TELEGRAM_SECRET, SLACK_SECRET)
MAX_BODY_BYTES = 65_536


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    groups: tuple[str, ...]
    secret: str = field(default_factory=lambda: "sec-tok-" + secrets.token_urlsafe(24))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


@dataclass(frozen=True)
class Tokens:
    """One token per role scoped to group A only, plus '*' tokens used to seed data."""

    platform: Token = Token("platform-a", "platform", (GROUP_A,))
    operator: Token = Token("operator-a", "operator", (GROUP_A,))
    admin: Token = Token("admin-a", "admin", (GROUP_A,))
    auditor: Token = Token("auditor-a", "auditor", (GROUP_A,))
    admin_all: Token = Token("admin-all", "admin", ("*",))
    platform_all: Token = Token("platform-all", "platform", ("*",))

    def all(self) -> list[Token]:
        return [
            self.platform,
            self.operator,
            self.admin,
            self.auditor,
            self.admin_all,
            self.platform_all,
        ]

    def by_role(self, role: str) -> Token:
        return {t.role: t for t in self.all()[:4]}[role]

    def write(self, path: Path) -> None:
        specs = [
            {"name": t.name, "token": t.secret, "role": t.role, "groups": list(t.groups)}
            for t in self.all()
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"tokens": specs}), encoding="utf-8")
        path.chmod(0o600)


@dataclass
class SecStack:
    stack: DevStack
    settings: Settings
    tokens: Tokens

    @property
    def ingest(self) -> str:
        return self.stack.ingest_url

    @property
    def reporting(self) -> str:
        return self.stack.reporting_url

    def published(self) -> int:
        """Records on the events topic so far (the sum of its partitions' end offsets)."""
        offsets = asyncio.run(end_offsets(self.settings, self.settings.events_topic))
        return sum(offsets.values())

    def log_text(self) -> dict[str, str]:
        return {
            p.name: p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(self.stack.workdir.glob("*.log"))
        }


def stack_env(
    settings: Settings, env: dict[str, str], tokens_file: Path, extra: dict[str, str]
) -> dict[str, str]:
    return (
        env
        | {
            "MODSTREAM_TOKENS_FILE": str(tokens_file),
            "MODSTREAM_ONEBOT_SECRET": ONEBOT_SECRET,
            "MODSTREAM_TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "MODSTREAM_SLACK_SIGNING_SECRET": SLACK_SECRET,
            "MODSTREAM_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        }
        | extra
    )


def start_stack(
    servers: Any,
    workdir: Path,
    *,
    full: bool = True,
    extra: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> SecStack:
    """The services as real processes with the scoped tokens and the platform secrets.

    `full=False` starts ingest alone (enough for the webhook and limit tests)."""
    settings = settings or servers.settings()
    tokens = Tokens()
    tokens_file = workdir / "scoped-tokens.yaml"
    tokens.write(tokens_file)
    stack = DevStack(
        workdir,
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        extra_env=stack_env(settings, servers.env(settings), tokens_file, extra or {}),
        # No enforcer: its records land on the events topic on their own time, and these
        # tests count what ingest published for a request (the enforcer's own refusal of
        # forged records is tested at ingest's policy).
        enforcement_instances=0,
    )
    try:
        if full:
            stack.start()
        else:
            stack.workdir.mkdir(parents=True, exist_ok=True)
            stack.ingest_port = free_port()
            stack.tokens.write(stack.tokens_file)
            stack.start_service("ingest")
            wait_ready(stack.ingest_url)
    except BaseException:
        stack.stop()
        raise
    return SecStack(stack, settings, tokens)


wait_ready = wait_url_ready  # the one readiness poll (tools/devstack.py)


def event(
    event_id: str,
    etype: str,
    group_key: str,
    user: str,
    at: str = "2026-03-02T10:00:00Z",
    **payload: Any,
) -> dict[str, Any]:
    return raw_event(event_id, etype, group_key, user, at, payload)


def message(event_id: str, group_key: str, user: str, text: str, at: str = "2026-03-02T10:00:00Z"):  # type: ignore[no-untyped-def]
    return event(event_id, "message.posted", group_key, user, at, message_id=event_id, text=text)


def sanction(
    event_id: str, group_key: str, by: str, action: str, by_role: str, target: str = SHARED_USER
) -> dict[str, Any]:
    return event(
        event_id,
        "sanction.applied",
        group_key,
        by,
        "2026-03-02T12:00:00Z",
        sanction_id=event_id,
        target_user_id=target,
        action=action,
        reason="security suite",
        by_role=by_role,
        **({"duration_s": 600} if action == "mute" else {}),
    )


def ruleset(event_id: str, group_key: str, version: int, keywords: list[str]) -> dict[str, Any]:
    return event(
        event_id,
        "ruleset.updated",
        group_key,
        "rules-admin",
        "2026-03-01T00:00:00Z",
        version=version,
        rules=whole_rules(keywords),
    )


# ---- real platform payloads and their signatures (the webhook, log and input suites)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "platforms"
_counter = iter(range(1, 1_000_000))


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def fresh_body(platform: str) -> bytes:
    """A real platform payload with a new message id, so an accepted one is never a dup."""
    n = next(_counter) + int(time.time())
    if platform == "onebot":
        d = fixture("onebot_group_message_1")
        d["message_id"] = n
    elif platform == "telegram":
        d = fixture("telegram_group_message_1")
        d["update_id"] = n
        d["message"]["message_id"] = n
    else:
        d = fixture("slack_message_1")
        d["event_id"] = f"Ev{n}"
        d["event"]["ts"] = f"{n}.000100"
        d["event"]["event_ts"] = f"{n}.000100"
    return json.dumps(d).encode()


def onebot_sig(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def slack_sig(body: bytes, secret: str, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    base = f"v0:{ts}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def telegram_sig(_: bytes, secret: str) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": secret}


SIGNERS: dict[str, tuple[Callable[[bytes, str], dict[str, str]], str]] = {
    "onebot": (onebot_sig, ONEBOT_SECRET),
    "telegram": (telegram_sig, TELEGRAM_SECRET),
    "slack": (slack_sig, SLACK_SECRET),
}
