"""Pacing shared by every replica of one bot: a reservation per call, kept in the store.

Each key (a bot in one chat, a bot as a whole) has a "theoretical arrival time": the
moment its next call may go. Reserving a call moves it on by the key's interval in one
atomic update, and the caller waits until its slot. A burst is therefore spread out, not
dropped, and two replicas share one clock of slots instead of each spending the whole
allowance. A platform's 429 pushes the key's time past its retry-after, so every replica
waits it out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.enforcement.store import LIMITS
from shared.consumer import Retryable

# Calls per second unless ENFORCEMENT_RATES says otherwise: the platforms' documented or
# advised limits, a little under. Telegram: 20 messages a minute in a group, 30 a second
# in all; Discord: 50 a second per bot, per-route buckets of about 5 a second; Slack: Tier
# 3 (50+ a minute per method) and about 1 post a second per channel; OneBot documents
# none, and QQ's risk control is unpublished: about 1 a second per group.
DEFAULT_RATES: dict[str, float] = {
    "onebot.chat": 1.0,
    "onebot.bot": 20.0,
    "telegram.chat": 0.33,
    "telegram.bot": 25.0,
    "discord.chat": 4.0,
    "discord.bot": 40.0,
    "slack.chat": 1.0,
    "slack.bot": 0.8,
}


@dataclass(frozen=True, slots=True)
class RateKey:
    key: str
    interval_s: float


def rate_keys(rates: dict[str, float], platform: str, bot: str, chat: str | None) -> list[RateKey]:
    """The keys a call of this bot in this chat reserves (a private notice: the bot's only)."""
    keys = []
    bot_rate = rates.get(f"{platform}.bot", DEFAULT_RATES.get(f"{platform}.bot"))
    if bot_rate:
        keys.append(RateKey(f"{platform}:{bot}", 1.0 / bot_rate))
    chat_rate = rates.get(f"{platform}.chat", DEFAULT_RATES.get(f"{platform}.chat"))
    if chat is not None and chat_rate:
        keys.append(RateKey(f"{platform}:{bot}:{chat}", 1.0 / chat_rate))
    return keys


class StoreLimiter:
    def __init__(self, db: AsyncDatabase, clock: Callable[[], float] = time.time) -> None:
        self.limits = db[LIMITS]
        self.clock = clock

    async def acquire(self, keys: list[RateKey]) -> float:
        """Reserve a slot on every key and wait for the latest; the seconds waited."""
        slot = 0.0
        for key in keys:
            slot = max(slot, await self._reserve(key))
        wait = slot - self.clock()
        if wait > 0:
            await asyncio.sleep(wait)
            return wait
        return 0.0

    async def _reserve(self, key: RateKey) -> float:
        """The start of this call's slot on one key. Two replicas creating a key at once
        race on its upsert (one may see a duplicate key, or no document): try again."""
        for _ in range(5):
            now = self.clock()
            try:
                doc = await self.limits.find_one_and_update(
                    {"_id": key.key},
                    [
                        {
                            "$set": {
                                "tat": {
                                    "$add": [
                                        {"$max": [{"$ifNull": ["$tat", 0.0]}, now]},
                                        key.interval_s,
                                    ]
                                }
                            }
                        }
                    ],
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if doc is not None:
                return float(doc["tat"]) - key.interval_s
        raise Retryable(f"rate key {key.key}: no reservation after 5 tries")

    async def hold(self, keys: list[RateKey], until: float) -> None:
        """No call on these keys before `until` (the platform said: retry after)."""
        for key in keys:
            await self.limits.update_one(
                {"_id": key.key},
                [{"$set": {"tat": {"$max": [{"$ifNull": ["$tat", 0.0]}, until]}}}],
                upsert=True,
            )
