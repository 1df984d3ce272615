"""Durable event-id deduplication in MongoDB, fronted by a bounded in-memory cache.

An id is remembered only after the broker acknowledged its event, so a request that
failed with 503 can be retried and still land (at least once; consumers drop repeats by
event and decision id).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.logging import get_logger

COLLECTION = "ingest_dedup"
# After a failed store call, how long the store is left alone before it is tried again:
# requests meanwhile are answered at once from the cache instead of each waiting out
# the driver's server selection timeout.
STORE_RETRY_S = 10.0


class DedupStore:
    def __init__(self, db: AsyncDatabase, cache_size: int = 200_000) -> None:
        self._coll = db[COLLECTION]
        self._cache: OrderedDict[str, None] = OrderedDict()
        self._cache_size = cache_size
        # Accepted while the store was unreachable: written once it is back.
        self._pending: list[tuple[list[str], object]] = []
        self._flush_lock = asyncio.Lock()
        self._down_until = 0.0
        self._log = get_logger()

    @property
    def degraded(self) -> bool:
        """True while ids are checked against this process's cache only."""
        return bool(self._pending) or time.monotonic() < self._down_until

    def _store_failed(self, err: Exception) -> None:
        if time.monotonic() >= self._down_until:
            self._log.warning(
                "dedup store unreachable; deduplicating from memory only", error=str(err)
            )
        self._down_until = time.monotonic() + STORE_RETRY_S

    def _cache_add(self, ids: Iterable[str]) -> None:
        for event_id in ids:
            self._cache[event_id] = None
            self._cache.move_to_end(event_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def seen(self, ids: list[str]) -> set[str]:
        """The subset of ids already accepted (ever, not only since this process started).

        With the store unreachable, only this process's recent ids (the cache) are known:
        ingest keeps accepting while the broker is up rather than refuse every event for
        an outage of the store, at the price of letting through a repeat of an event it
        has forgotten or another replica accepted (docs/reliability.md, Faults).
        """
        known = {i for i in ids if i in self._cache}
        unknown = [i for i in ids if i not in known]
        if unknown and time.monotonic() >= self._down_until:
            try:
                stored = await self._stored(unknown)
            except PyMongoError as err:
                self._store_failed(err)
                return known
            known |= stored
        return known

    async def _stored(self, unknown: list[str]) -> set[str]:
        await self._flush()
        wanted = set(unknown)
        cursor = self._coll.find({"ids": {"$in": unknown}}, {"ids": 1})
        stored = {i async for doc in cursor for i in doc["ids"] if i in wanted}
        self._cache_add(stored)
        return stored

    async def remember(self, ids: list[str], received_at: object) -> None:
        """One document per accepted batch: a store writes one document and its index keys,
        not one document per event (five times cheaper on SecantusDB, measured)."""
        if not ids:
            return
        self._cache_add(ids)
        self._pending.append((list(ids), received_at))
        if time.monotonic() < self._down_until:
            return
        try:
            await self._flush()
        except PyMongoError as err:
            self._store_failed(err)

    async def _flush(self) -> None:
        """Write the accepted batches not yet on record, oldest first. One flusher at a
        time: concurrent requests would otherwise write the same batch twice."""
        async with self._flush_lock:
            while self._pending:
                ids, received_at = self._pending[0]
                await self._coll.insert_one(
                    {"_id": uuid.uuid4().hex, "ids": ids, "at": received_at}
                )
                self._pending.pop(0)

    async def ensure_indexes(self) -> None:
        await self._coll.create_index("ids")
