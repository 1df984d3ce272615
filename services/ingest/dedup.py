"""Durable event-id deduplication in MongoDB, fronted by a bounded in-memory cache.

An id is remembered only after the broker acknowledged its event, so a request that
failed with 503 can be retried and still land (at least once; consumers drop repeats by
event and decision id).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

COLLECTION = "ingest_dedup"
_DUPLICATE_KEY = 11000


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
            cursor = self._coll.find({"_id": {"$in": unknown}}, {"_id": 1})
            stored = {d["_id"] async for d in cursor}
            self._cache_add(stored)
            known |= stored
        return known

    async def remember(self, ids: list[str], received_at: object) -> None:
        if not ids:
            return
        try:
            await self._coll.insert_many(
                [{"_id": i, "at": received_at} for i in ids], ordered=False
            )
        except BulkWriteError as err:
            # A concurrent request accepted the same id first: that is fine.
            if any(e.get("code") != _DUPLICATE_KEY for e in err.details.get("writeErrors", [])):
                raise
        self._cache_add(ids)
