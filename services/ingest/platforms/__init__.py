"""Platform adapters: native webhook payloads -> canonical events (pure)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.ingest.platforms import discord, onebot, slack, telegram
from services.ingest.platforms.base import Mapping, Unmappable

Mapper = Callable[[dict[str, Any], datetime], Mapping]

MAPPERS: dict[str, Mapper] = {
    "onebot": onebot.map_payload,
    "telegram": telegram.map_payload,
    "discord": discord.map_payload,
    "slack": slack.map_payload,
}

__all__ = ["MAPPERS", "Mapper", "Mapping", "Unmappable"]
