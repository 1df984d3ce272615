"""The lookup made while a request validates: it may be stale by the time the claim is
taken, and the claim must still accept each event exactly once."""

from __future__ import annotations

import asyncio

from services.ingest.dedup import claim_key, claim_keys_of
from tests.unit.ingest.test_dedup_claims import AT, KEYS, FakeStore, replica


async def test_a_stale_lookup_still_accepts_each_event_once() -> None:
    store = FakeStore()
    a, b = replica(store), replica(store)
    lookup_a = await a.look_up(KEYS)
    lookup_b = await b.look_up(KEYS)
    assert lookup_a is not None and lookup_b is not None and not lookup_a.confirmed
    # Both looked before either claimed: both go straight to the insert; one wins.
    claims = await asyncio.gather(a.claim(KEYS, AT, lookup_a), b.claim(KEYS, AT, lookup_b))
    mine = [c.mine for c in claims]
    assert [sum(k in m for m in mine) for k in KEYS] == [1] * len(KEYS)
    assert set().union(*(c.to_publish for c in claims)) == set(KEYS)


async def test_a_lookup_finds_what_is_on_the_topic_already() -> None:
    store = FakeStore()
    first = replica(store)
    claim = await first.claim(KEYS[:10], AT)
    await first.confirm(claim, claim.to_publish, AT)
    lookup = await replica(store).look_up(KEYS[:20])
    assert lookup is not None and lookup.confirmed == frozenset(KEYS[:10])
    retry = await replica(store).claim(KEYS[:20], AT, lookup)
    assert retry.confirmed == set(KEYS[:10]) and retry.mine == set(KEYS[10:20])


async def test_a_lookup_of_other_keys_is_not_trusted() -> None:
    store = FakeStore()
    first = replica(store)
    claim = await first.claim(KEYS[:5], AT)
    await first.confirm(claim, claim.to_publish, AT)
    d = replica(store)
    lookup = await d.look_up(KEYS[40:])  # not the keys claimed below
    again = await d.claim(KEYS[:5], AT, lookup)
    assert again.mine == set() and again.confirmed == set(KEYS[:5])


async def test_the_store_down_gives_no_lookup() -> None:
    store = FakeStore()
    store.down = True
    assert await replica(store).look_up(KEYS) is None


def test_keys_of_raw_items_are_the_keys_of_their_events() -> None:
    items = [
        {"event_id": "e1", "platform": "slack", "group_id": "C1"},
        {"event_id": 7, "platform": "slack", "group_id": "C1"},
        "not an event",
        {"event_id": "e2", "platform": "telegram", "group_id": "-100"},
    ]
    assert claim_keys_of(items) == [
        claim_key("slack:C1", "e1"),
        claim_key("telegram:-100", "e2"),
    ]
