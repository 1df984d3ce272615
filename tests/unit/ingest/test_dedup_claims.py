"""Ingest's claims without a real store: the fake below keeps the one property the claims
rest on (a unique index over the claim documents' `ids`) and yields to the loop on every
call, as a store round trip does, so racing requests interleave. The real store is covered
by the fault tests (tests/fault/test_fault_retry_races.py, the store outage)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError

from services.ingest import dedup
from services.ingest.dedup import DedupStore, claim_key

AT = datetime(2026, 9, 1, tzinfo=UTC)


class FakeStore:
    def __init__(self) -> None:
        self.down = False
        self.claims: dict[str, dict[str, Any]] = {}
        self.confirmed: dict[str, dict[str, Any]] = {}

    def coll(self, name: str) -> FakeCollection:
        return FakeCollection(self, self.claims if name == dedup.COLLECTION else self.confirmed)


class FakeCollection:
    def __init__(self, store: FakeStore, docs: dict[str, dict[str, Any]]) -> None:
        self.store, self.docs = store, docs
        self.unique = docs is store.claims

    async def _rt(self) -> None:
        await asyncio.sleep(0)
        if self.store.down:
            raise ServerSelectionTimeoutError("no server")

    async def insert_one(self, doc: dict[str, Any]) -> None:
        await self._rt()
        if self.unique:
            taken = {k for d in self.docs.values() for k in d["ids"]}
            if taken & set(doc["ids"]):
                raise DuplicateKeyError("E11000 duplicate key error")
        self.docs[doc["_id"]] = doc

    async def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> None:
        await self._rt()
        for doc in docs:
            self.docs[doc["_id"]] = doc

    async def delete_one(self, query: dict[str, Any]) -> None:
        await self._rt()
        self.docs.pop(query["_id"], None)

    def find(self, query: dict[str, Any], projection: Any = None) -> Any:
        async def cursor() -> Any:
            await self._rt()
            if "ids" in query:
                wanted = set(query["ids"]["$in"])
                matches = [d for d in self.docs.values() if wanted & set(d["ids"])]
            else:
                matches = [self.docs[i] for i in query["_id"]["$in"] if i in self.docs]
            for d in matches:
                yield d

        return cursor()

    async def create_index(self, *args: Any, **kwargs: Any) -> None:
        return None


def replica(store: FakeStore) -> DedupStore:
    """One ingest process (its own memory) on the shared store."""

    class Db:
        def __getitem__(self, name: str) -> FakeCollection:
            return store.coll(name)

    return DedupStore(Db(), cache_size=1000)  # type: ignore[arg-type]


KEYS = [claim_key("telegram:-100", f"e{i}") for i in range(50)]


async def request(d: DedupStore, keys: list[str], published: list[str]) -> set[str]:
    """What one request does: claim, publish (recorded), confirm; returns its `accepted`."""
    claim = await d.claim(keys, AT)
    await asyncio.sleep(0)  # the publish round trip
    published.extend(claim.to_publish)
    await d.confirm(claim, claim.to_publish, AT)
    return claim.mine


async def test_racing_copies_of_a_batch_are_accepted_once_across_replicas() -> None:
    store = FakeStore()
    replicas = [replica(store), replica(store)]
    published: list[str] = []
    accepted = await asyncio.gather(*(request(replicas[i % 2], KEYS, published) for i in range(4)))
    counts = [sum(k in a for a in accepted) for k in KEYS]
    assert counts == [1] * len(KEYS)  # each event `accepted` by exactly one request
    assert set(published) == set(KEYS)  # and on the topic, perhaps more than once
    # A later retry is a duplicate and publishes nothing.
    late = await replicas[0].claim(KEYS, AT)
    assert late.mine == set() and late.to_publish == set() and late.confirmed == set(KEYS)


async def test_an_unconfirmed_claim_is_published_again_by_the_next_request() -> None:
    store = FakeStore()
    crashed = replica(store)
    await crashed.claim(KEYS[:3], AT)  # claimed, then the process died before publishing
    retry = await replica(store).claim(KEYS[:3], AT)
    assert retry.mine == set()
    assert retry.to_publish == set(KEYS[:3])  # never lost: published by the retry


async def test_a_failed_publish_gives_the_keys_back() -> None:
    store = FakeStore()
    d = replica(store)
    claim = await d.claim(KEYS[:2], AT)
    await d.release(claim)  # the broker refused: 503
    again = await d.claim(KEYS[:2], AT)
    assert again.mine == set(KEYS[:2])


async def test_ids_belong_to_their_group() -> None:
    store = FakeStore()
    d = replica(store)
    attacker = claim_key("telegram:-200", "telegram:-100:msg:7")
    victim = claim_key("telegram:-100", "telegram:-100:msg:7")
    assert attacker != victim
    first = await d.claim([attacker], AT)
    await d.confirm(first, first.to_publish, AT)
    second = await replica(store).claim([victim], AT)
    assert second.mine == {victim}


async def test_store_down_claims_from_memory_and_writes_them_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FakeStore()
    d = replica(store)
    store.down = True
    published: list[str] = []
    both = await asyncio.gather(request(d, KEYS[:5], published), request(d, KEYS[:5], published))
    assert sorted(len(a) for a in both) == [0, 5]  # one process still answers each once
    assert d.degraded and store.claims == {}
    store.down = False
    monkeypatch.setattr(dedup, "STORE_RETRY_S", 0.0)
    d._down_until = 0.0
    await d.claim([KEYS[10]], AT)  # the next call writes the outage's claims first
    assert not d.degraded
    fresh = await replica(store).claim(KEYS[:5], AT)  # a new process knows them
    assert fresh.confirmed == set(KEYS[:5])


async def test_a_confirmation_written_behind_the_answer_reaches_the_store() -> None:
    store = FakeStore()
    d = replica(store)
    claims = [await d.claim(KEYS[i : i + 10], AT) for i in range(0, 30, 10)]
    for claim in claims:
        d.confirm_behind(claim, claim.to_publish, AT)
    # this process knows at once; another replica once the write is done
    again = await d.claim(KEYS[:30], AT)
    assert again.confirmed == set(KEYS[:30]) and again.mine == set()
    await d.drain()
    assert set(store.confirmed) == {c.claim_id for c in claims}
    late = await replica(store).claim(KEYS[:30], AT)
    assert late.confirmed == set(KEYS[:30]) and late.to_publish == set()


async def test_a_fresh_batch_is_claimed_in_one_store_operation() -> None:
    store = FakeStore()
    calls: list[str] = []
    original = FakeCollection.find

    def counting_find(self: FakeCollection, query: dict[str, Any], projection: Any = None) -> Any:
        calls.append("find")
        return original(self, query, projection)

    FakeCollection.find = counting_find  # type: ignore[method-assign]
    try:
        claim = await replica(store).claim(KEYS[:20], AT)
    finally:
        FakeCollection.find = original  # type: ignore[method-assign]
    assert claim.mine == set(KEYS[:20]) and calls == []
