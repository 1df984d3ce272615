"""Which bot acts for a group: the platforms' base URLs and credentials from the settings.

A platform may have one bot (`TELEGRAM_BOT_TOKEN`) or several (`TELEGRAM_BOT_TOKENS` =
"bot_id=token,..."; OneBot: `ONEBOT_API_URLS` = "bot_id=url,..."), chosen per group by the
rule set's `enforcement.bot`. A group whose bot has no credentials runs dry_run, and the
enforcer says so once per bot, not once per decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from services.enforcement.calls import PlatformClient
from services.enforcement.platforms.discord import DiscordClient
from services.enforcement.platforms.onebot import OneBotClient
from services.enforcement.platforms.slack import SlackClient
from services.enforcement.platforms.telegram import TelegramClient
from shared.logging import get_logger
from shared.settings import Settings

DEFAULT_BOT = ""
# Stands in for a credential where none is set: dry_run only describes calls, and no
# description carries a credential.
_PLACEHOLDER = "unset"


def parse_pairs(text: str) -> dict[str, str]:
    """ "a=x,b=y" -> {"a": "x", "b": "y"}; values may hold '=' (URLs with queries)."""
    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"expected bot_id=value, got {part[:40]!r}")
        out[name.strip()] = value.strip()
    return out


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value()) or None


@dataclass(frozen=True, slots=True)
class BotConfig:
    platform: str
    bot: str
    base_url: str
    credential: str | None  # None: no credentials, the bot's groups run dry_run
    user_token: str | None = None  # Slack: an admin's user token (deletes others' posts)


def bot_configs(settings: Settings) -> dict[tuple[str, str], BotConfig]:
    """Every configured bot, keyed by (platform, bot id); the single bot has id ""."""
    out: dict[tuple[str, str], BotConfig] = {}
    onebot_token = _secret(settings.onebot_access_token)
    if settings.onebot_api_url:
        out[("onebot", DEFAULT_BOT)] = BotConfig(
            "onebot", DEFAULT_BOT, settings.onebot_api_url, onebot_token or ""
        )
    for bot, url in parse_pairs(settings.onebot_api_urls).items():
        out[("onebot", bot)] = BotConfig("onebot", bot, url, onebot_token or "")
    user_token = _secret(settings.slack_user_token)
    for platform, url, single, many in (
        (
            "telegram",
            settings.telegram_api_url,
            settings.telegram_bot_token,
            settings.telegram_bot_tokens,
        ),
        (
            "discord",
            settings.discord_api_url,
            settings.discord_bot_token,
            settings.discord_bot_tokens,
        ),
        ("slack", settings.slack_api_url, settings.slack_bot_token, settings.slack_bot_tokens),
    ):
        token = _secret(single)
        extra = user_token if platform == "slack" else None
        out[(platform, DEFAULT_BOT)] = BotConfig(platform, DEFAULT_BOT, url, token, extra)
        for bot, value in parse_pairs(many).items():
            out[(platform, bot)] = BotConfig(platform, bot, url, value, extra)
    if ("onebot", DEFAULT_BOT) not in out:
        out[("onebot", DEFAULT_BOT)] = BotConfig(
            "onebot", DEFAULT_BOT, "http://onebot.invalid", None
        )
    return out


def make_client(config: BotConfig, http: httpx.AsyncClient) -> PlatformClient:
    credential = config.credential or _PLACEHOLDER
    if config.platform == "onebot":
        return OneBotClient(http, config.base_url, config.credential or None)
    if config.platform == "telegram":
        return TelegramClient(http, config.base_url, credential)
    if config.platform == "discord":
        return DiscordClient(http, config.base_url, credential)
    if config.platform == "slack":
        return SlackClient(http, config.base_url, credential, config.user_token)
    raise ValueError(f"no enforcement adapter for platform {config.platform!r}")


class Bots:
    """The clients of every configured bot; unknown bots and platforms run dry_run."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        factory: Callable[[BotConfig, httpx.AsyncClient], PlatformClient] = make_client,
    ) -> None:
        self.configs = bot_configs(settings)
        self.clients = {key: factory(config, http) for key, config in self.configs.items()}
        self._warned: set[tuple[str, str]] = set()
        self.log = get_logger()

    def client(self, platform: str, bot: str | None) -> tuple[PlatformClient | None, bool]:
        """The bot's client (None: no such platform) and whether it may call (credentials)."""
        key = (platform, bot or DEFAULT_BOT)
        config = self.configs.get(key)
        if config is None:
            self._warn(key, "no such bot is configured")
            fallback = self.clients.get((platform, DEFAULT_BOT))
            return fallback, False
        if config.credential is None:
            self._warn(key, "no credentials")
            return self.clients[key], False
        return self.clients[key], True

    def _warn(self, key: tuple[str, str], why: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.log.warning(
                "enforcement runs dry_run for this bot's groups",
                platform=key[0],
                bot=key[1] or "(default)",
                why=why,
            )
