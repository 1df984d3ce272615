"""Ingest's dedup without its store: known ids still answer from memory, accepted ids are
written once the store is back (the store-outage fault test covers the real processes)."""

from __future__ import annotations

from typing import Any

from pymongo.errors import ServerSelectionTimeoutError

from services.ingest import dedup
from services.ingest.dedup import DedupStore


class FlakyCollection:
    """Stands in for the `ingest_dedup` collection; `down` makes every call fail."""

    def __init__(self) -> None:
        self.down = False
        self.docs: list[dict[str, Any]] = []

    def _check(self) -> None:
        if self.down:
            raise ServerSelectionTimeoutError("no server")

    async def insert_one(self, doc: dict[str, Any]) -> None:
        self._check()
        self.docs.append(doc)

    def find(self, query: dict[str, Any], projection: dict[str, Any]) -> Any:
        self._check()
        wanted = set(query["ids"]["$in"])
        matches = [d for d in self.docs if wanted & set(d["ids"])]

        async def cursor() -> Any:
            for d in matches:
                yield d

        return cursor()


def store(coll: FlakyCollection) -> DedupStore:
    return DedupStore({dedup.COLLECTION: coll}, cache_size=10)  # type: ignore[arg-type]


async def test_store_down_answers_from_memory_and_writes_later(monkeypatch: Any) -> None:
    coll = FlakyCollection()
    d = store(coll)
    coll.down = True
    assert await d.seen(["a", "b"]) == set()
    await d.remember(["a", "b"], "t1")
    assert d.degraded
    assert await d.seen(["a", "c"]) == {"a"}
    assert coll.docs == []

    coll.down = False
    monkeypatch.setattr(dedup, "STORE_RETRY_S", 0.0)
    d._down_until = 0.0
    assert await d.seen(["c"]) == set()
    assert [doc["ids"] for doc in coll.docs] == [["a", "b"]]
    assert not d.degraded


async def test_ids_written_during_the_outage_are_known_to_a_new_process() -> None:
    coll = FlakyCollection()
    first = store(coll)
    coll.down = True
    await first.seen(["x"])
    await first.remember(["x"], "t1")
    coll.down = False
    first._down_until = 0.0
    await first.remember(["y"], "t2")
    assert await store(coll).seen(["x", "y", "z"]) == {"x", "y"}


class SlowCollection(FlakyCollection):
    """Each insert yields to the loop, as a real store round trip does."""

    async def insert_one(self, doc: dict[str, Any]) -> None:
        import asyncio

        await asyncio.sleep(0.01)
        await super().insert_one(doc)


async def test_concurrent_requests_write_each_batch_once() -> None:
    import asyncio

    coll = SlowCollection()
    d = store(coll)
    await asyncio.gather(*(d.remember([f"e{i}"], "t") for i in range(8)))
    assert sorted(doc["ids"][0] for doc in coll.docs) == [f"e{i}" for i in range(8)]
