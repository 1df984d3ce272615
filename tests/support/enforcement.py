"""What the enforcement tests share: the four fake platforms with a community on each, the
enforcer as real OS processes pointed at them, decisions written to the decisions topic,
and read-backs of the records and of what the platforms saw."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.codec import encode_decision
from shared.events import Decision
from shared.kafka import read_to_end
from shared.settings import Settings
from tests.support.fakes.discord import FakeDiscord
from tests.support.fakes.onebot import FakeOneBot
from tests.support.fakes.server import FakeClock
from tests.support.fakes.slack import BOT_TOKEN, FakeSlack
from tests.support.fakes.telegram import TOKEN, FakeTelegram
from tests.support.stack import isolation_env
from tools.devstack import DevStack
from tools.embedded import kill

ONEBOT_TOKEN = "onebot-access-token"
DISCORD_TOKEN = "fake-discord-token"
SLACK_USER_TOKEN = "xoxp-3333-4444-admin"
PLATFORMS = ("onebot", "telegram", "discord", "slack")


@dataclass(frozen=True)
class Group:
    platform: str
    group_id: str
    users: tuple[str, ...]
    channel_id: str | None = None  # Discord: the channel its messages are in

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.group_id}"


@dataclass
class Platforms:
    onebot: FakeOneBot
    telegram: FakeTelegram
    discord: FakeDiscord
    slack: FakeSlack
    groups: list[Group] = field(default_factory=list)
    _messages: Counter[str] = field(default_factory=Counter)

    @classmethod
    @contextmanager
    def running(
        cls,
        *,
        chat_rate: int | None = None,
        chat_per: float = 1.0,
        clock: FakeClock | None = None,
    ) -> Iterator[Platforms]:
        """The four fakes, serving; `chat_rate` per `chat_per` s is what each advertises
        (a call over it is answered with the platform's 429 and recorded as a breach)."""
        limits: dict[str, Any] = {"chat_rate": chat_rate, "chat_per": chat_per, "clock": clock}
        with ExitStack() as stack:
            onebot = FakeOneBot(access_token=ONEBOT_TOKEN, **limits)
            telegram = FakeTelegram(**limits)
            discord = FakeDiscord(token=DISCORD_TOKEN, **limits)
            slack = FakeSlack(**limits)
            slack.add_token(SLACK_USER_TOKEN, "user", ("chat:write",), admin=True)
            for fake in (onebot, telegram, discord, slack):
                stack.enter_context(fake)
            yield cls(onebot, telegram, discord, slack)

    def fakes(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in PLATFORMS}

    def env(self) -> dict[str, str]:
        """The enforcer's settings for these fakes: base URLs and credentials."""
        return {
            "MODSTREAM_ONEBOT_API_URL": self.onebot.url,
            "MODSTREAM_ONEBOT_ACCESS_TOKEN": ONEBOT_TOKEN,
            "MODSTREAM_TELEGRAM_API_URL": self.telegram.url,
            "MODSTREAM_TELEGRAM_BOT_TOKEN": TOKEN,
            "MODSTREAM_DISCORD_API_URL": self.discord.url,
            "MODSTREAM_DISCORD_BOT_TOKEN": DISCORD_TOKEN,
            "MODSTREAM_SLACK_API_URL": self.slack.url,
            "MODSTREAM_SLACK_BOT_TOKEN": BOT_TOKEN,
            "MODSTREAM_SLACK_USER_TOKEN": SLACK_USER_TOKEN,
        }

    def community(self, per_platform: int, members: int) -> list[Group]:
        """Groups on every platform with their members, the bot an admin in each."""
        for n in range(per_platform):
            users = tuple(str(5_000_000 + n * 1000 + u) for u in range(members))
            qq = str(700_000 + n)
            self.onebot.add_group(qq)
            for u in users:
                self.onebot.add_member(qq, u)
            chat = f"-100{1_000_000_000 + n}"
            self.telegram.add_chat(int(chat))
            for u in users:
                self.telegram.add_member(int(chat), int(u))
            guild, channel = str(900_000_000_000_000_000 + n), str(800_000_000_000_000_000 + n)
            self.discord.add_guild(guild, owner="1")
            self.discord.add_channel(guild, channel)
            for u in users:
                self.discord.add_member(guild, u)
            slack = f"C{n:08d}"
            slack_users = tuple(f"U{u}" for u in users)
            self.slack.add_channel(slack)
            for u in slack_users:
                self.slack.add_member(slack, u)
            self.groups += [
                Group("onebot", qq, users),
                Group("telegram", chat, users),
                Group("discord", guild, users, channel),
                Group("slack", slack, slack_users),
            ]
        return self.groups

    def post(self, group: Group, user: str) -> str:
        """A member's message on the platform; its platform id (what a decision removes)."""
        self._messages[group.key] += 1
        n = self._messages[group.key]
        if group.platform == "onebot":
            return str(self.onebot.add_message(group.group_id, user, "spam"))
        if group.platform == "telegram":
            return str(self.telegram.add_message(int(group.group_id), int(user), text="spam"))
        if group.platform == "discord":
            assert group.channel_id is not None
            mid = str(700_000_000_000_000_000 + n)
            self.discord.add_message(group.channel_id, mid, user, "spam")
            return mid
        ts = f"1767225600.{n:06d}"
        self.slack.add_message(group.group_id, ts, user, "spam")
        return ts

    def notices_with(self, marker: str) -> int:
        """Notices the platforms delivered whose text holds `marker`, over all four."""
        texts: list[str] = []
        texts += [json.dumps(m.content, ensure_ascii=False) for m in self.onebot.sent()]
        for chat in list(self.telegram.chats):
            texts += [m.text for m in self.telegram.sent(chat)]
        texts += [m.text for ms in list(self.telegram.private.values()) for m in ms]
        for channel in list(self.discord.channels):  # guild channels and DM channels
            texts += [m.content for m in self.discord.messages_in(channel)]
        for channel in list(self.slack.channels):
            texts += [m.text for m in self.slack.bot_messages(channel)]
        texts += [e.text for e in self.slack.ephemerals]
        return sum(marker in t for t in texts)


def decision(
    group: Group,
    user: str,
    action: str,
    n: int,
    *,
    duration_s: int | None = None,
    notify: bool = False,
    mode: str = "live",
    message_id: str | None = None,
    decided_at: datetime | None = None,
    language: str = "en",
) -> Decision:
    """A decision as moderation writes it (v2: what enforcement needs is on it)."""
    return Decision(
        decision_id=f"d-{group.platform}-{n:06d}-{action}",
        group_key=group.key,
        target_user_id=user,
        action=action,  # type: ignore[arg-type]
        duration_s=duration_s,
        rule_id="spam",
        ruleset_version=1,
        reason=f"rule broken (case {n:06d})",
        cause_event_ids=[f"e-{n}"],
        decided_at=decided_at or datetime.now(UTC),
        language=language,
        target_message_id=message_id,
        channel_id=group.channel_id,
        enforcement=mode,  # type: ignore[arg-type]
        notify=notify,
    )


def keyed(decisions: list[Decision]) -> list[tuple[bytes, bytes]]:
    return [(d.group_key.encode(), encode_decision(d)) for d in decisions]


async def records(settings: Settings) -> list[dict[str, Any]]:
    """Every enforcement.recorded on the events topic, in topic order (repeats included)."""
    out = []
    for record in await read_to_end(settings, settings.events_topic, max_records=50_000):
        event = json.loads(record.value or b"{}")
        if event.get("type") == "enforcement.recorded":
            out.append(event)
    return out


async def wait_for_records(
    settings: Settings, want: set[str], timeout: float
) -> list[dict[str, Any]]:
    """The records on the topic once every decision in `want` has one (or the time is up:
    the caller's assertions then say what is missing)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await records(settings)
        if want <= {r["payload"]["decision_id"] for r in got} or time.monotonic() > deadline:
            return got
        await asyncio.sleep(1.0)


@dataclass
class Enforcers:
    """Enforcer processes (real OS processes) pointed at the fakes."""

    stack: DevStack

    @classmethod
    def start(
        cls, workdir: Path, settings: Settings, env: dict[str, str], replicas: int = 1
    ) -> Enforcers:
        stack = DevStack(
            workdir,
            kafka_bootstrap=settings.kafka_bootstrap,
            mongo_url=settings.mongo_url,
            extra_env=isolation_env(settings) | {"MODSTREAM_LOG_LEVEL": "INFO"} | env,
        )
        stack.workdir.mkdir(parents=True, exist_ok=True)
        run = cls(stack)
        for i in range(replicas):
            run.restart(f"enforcement-{i + 1}")
        return run

    def restart(self, name: str) -> None:
        self.stack.start_service("enforcement", name)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs."""
        kill(self.stack.procs[name])

    def log(self, name: str) -> str:
        return (self.stack.workdir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        self.stack.stop()
