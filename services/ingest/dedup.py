"""Durable event-id deduplication in MongoDB, fronted by a bounded in-memory cache.

An id is remembered only after the broker acknowledged its event, so a request that
failed with 503 can be retried and still land (at least once; consumers drop repeats by
event and decision id).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable

from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "ingest_dedup"


class DedupStore:
    def __init__(self, db: AsyncDatabase, cache_size: int = 200_000) -> None:
        self._coll = db[COLLECTION]
        self._cache: OrderedDict[str, None] = OrderedDict()
        self._cache_size = cache_size

    def _cache_add(self, ids: Iterable[str]) -> None:
        for event_id in ids:
            self._cache[event_id] = None
            self._cache.move_to_end(event_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def seen(self, ids: list[str]) -> set[str]:
        """The subset of ids already accepted (ever, not only since this process started)."""
        known = {i for i in ids if i in self._cache}
        unknown = [i for i in ids if i not in known]
        if unknown:
            wanted = set(unknown)
            cursor = self._coll.find({"ids": {"$in": unknown}}, {"ids": 1})
            stored = {i async for doc in cursor for i in doc["ids"] if i in wanted}
            self._cache_add(stored)
            known |= stored
        return known

    async def remember(self, ids: list[str], received_at: object) -> None:
        """One document per accepted batch: a store writes one document and its index keys,
        not one document per event (five times cheaper on SecantusDB, measured)."""
        if not ids:
            return
        await self._coll.insert_one({"_id": uuid.uuid4().hex, "ids": ids, "at": received_at})
        self._cache_add(ids)

    async def ensure_indexes(self) -> None:
        await self._coll.create_index("ids")
