"""Event-id claims: which request publishes an event, so racing retries are answered once.

An id is owned by its group: the claim key is (event id, group key), so one group's token
can neither claim nor probe another group's ids. A claim is taken atomically before the
event is published (a unique multikey index on the claim documents' `ids`: two requests
racing with the same batch cannot both insert a key), and confirmed once the broker has
acknowledged the events.

A claim that was never confirmed (its request crashed, or is still publishing) does not
make the event a duplicate: whoever meets it publishes the event again and answers
`duplicate`. That can put an event on the topic twice, never zero times; the consumers
drop a repeated (group, event id), so it is still counted once.

How long an id is remembered here: in the store, for as long as the claims collection is
kept (no expiry; one document per accepted batch); in memory, the most recent
`cache_size` confirmed keys of this process. While the store is unreachable ingest
claims from memory only (this process's recent keys): a retry that reaches another
replica, or comes after this process forgot it, is published again, and the counts then
rest on the consumers' dedup.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.logging import get_logger

COLLECTION = "ingest_claims"
CONFIRMED = "ingest_claims_confirmed"
# After a failed store call, how long the store is left alone before it is tried again:
# requests meanwhile are answered at once from memory instead of each waiting out the
# driver's timeout.
STORE_RETRY_S = 10.0
# Attempts to insert a claim that keeps racing another request's (each attempt removes the
# keys the other took, so two attempts settle any race of two requests).
CLAIM_ATTEMPTS = 5


def claim_key(group_key: str, event_id: str) -> str:
    """The key an event is remembered by: event ids hold no whitespace, so the first space
    separates them from the group key unambiguously."""
    return f"{event_id} {group_key}"


@dataclass(slots=True)
class Claim:
    """The outcome of claiming a request's keys."""

    # Keys this request claimed: it publishes them and answers `accepted`.
    mine: set[str] = field(default_factory=set)
    # Keys on the topic already (a confirmed claim): answered `duplicate`, not published.
    confirmed: set[str] = field(default_factory=set)
    # Keys another request claimed and has not confirmed (in flight, or it crashed): this
    # request publishes them too (consumers drop the repeat) and answers `duplicate`.
    unconfirmed: set[str] = field(default_factory=set)
    claim_id: str | None = None
    # Claimed from memory only: the claim is written to the store once it is back.
    local: bool = False

    @property
    def to_publish(self) -> set[str]:
        return self.mine | self.unconfirmed


class DedupStore:
    def __init__(
        self, db: AsyncDatabase, cache_size: int = 200_000, deadline_s: float = 3.0
    ) -> None:
        self._claims = db[COLLECTION]
        self._confirmed = db[CONFIRMED]
        # Keys known to be on the topic (confirmed here or found confirmed in the store).
        self._cache: OrderedDict[str, None] = OrderedDict()
        self._cache_size = cache_size
        # Keys claimed by requests of this process that are still publishing.
        self._inflight: set[str] = set()
        # Confirmed while the store was unreachable: written once it is back.
        self._pending: list[tuple[list[str], datetime]] = []
        self._flush_lock = asyncio.Lock()
        self._down_until = 0.0
        # One bound on all store calls of a claim (a slow store that still answers would
        # otherwise cost a request several operation timeouts in a row).
        self._deadline_s = deadline_s
        self._log = get_logger()
        # Confirmations written behind the answers (confirm_behind), one write at a time.
        self._to_confirm: list[dict[str, Any]] = []
        self._confirming: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """True while keys are checked against this process's memory only."""
        return bool(self._pending) or time.monotonic() < self._down_until

    def _store_failed(self, err: Exception) -> None:
        if time.monotonic() >= self._down_until:
            self._log.warning("dedup store unreachable; claiming from memory only", error=str(err))
        self._down_until = time.monotonic() + STORE_RETRY_S

    def _cache_add(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._cache[key] = None
            self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def claim(self, keys: list[str], at: datetime) -> Claim:
        """Claim the keys not on the topic yet. `keys` must hold no repeats."""
        result = Claim()
        unknown: list[str] = []
        for key in keys:
            if key in self._cache:
                result.confirmed.add(key)
            elif key in self._inflight:
                result.unconfirmed.add(key)
            else:
                unknown.append(key)
        if not unknown:
            return result
        # Taken before the first await: a concurrent request of this process that meets
        # these keys now sees them in flight.
        self._inflight.update(unknown)
        try:
            if time.monotonic() >= self._down_until:
                try:
                    async with asyncio.timeout(self._deadline_s):
                        await self._claim_in_store(unknown, at, result)
                    return result
                except (PyMongoError, TimeoutError) as err:
                    self._store_failed(err)
            result.mine.update(k for k in unknown if k not in result.confirmed | result.unconfirmed)
            result.local = True
            return result
        finally:
            # Only this request's own claims stay in flight (until confirm or release).
            self._inflight.difference_update(k for k in unknown if k not in result.mine)

    async def _claim_in_store(self, unknown: list[str], at: datetime, result: Claim) -> None:
        """The insert is the lookup: a fresh batch (the common case) costs one store
        operation; only when the unique index refuses it are the keys sorted into those on
        the topic and those in flight, and the rest inserted again."""
        if not self._flush_lock.locked():  # another request is writing the backlog already
            await self._flush()
        wanted = list(unknown)
        for attempt in range(CLAIM_ATTEMPTS):
            if attempt:
                await self._classify(wanted, result)
            wanted = [k for k in wanted if k not in result.confirmed | result.unconfirmed]
            if not wanted:
                return
            claim_id = uuid.uuid4().hex
            try:
                await self._claims.insert_one({"_id": claim_id, "ids": wanted, "at": at})
            except DuplicateKeyError:
                continue  # some are claimed already: look which, and claim the rest
            result.mine.update(wanted)
            result.claim_id = claim_id
            return
        # Still racing after every attempt: publish without a claim (never lose an event;
        # the consumers drop the repeat).
        result.unconfirmed.update(wanted)

    async def _classify(self, keys: list[str], result: Claim) -> None:
        """Sort keys already claimed in the store into confirmed and unconfirmed."""
        wanted = set(keys)
        owners: dict[str, str] = {}
        async for doc in self._claims.find({"ids": {"$in": keys}}, {"ids": 1}):
            for key in doc["ids"]:
                if key in wanted:
                    owners[key] = doc["_id"]
        if not owners:
            return
        confirmed_ids = {
            doc["_id"]
            async for doc in self._confirmed.find({"_id": {"$in": sorted(set(owners.values()))}})
        }
        for key, owner in owners.items():
            (result.confirmed if owner in confirmed_ids else result.unconfirmed).add(key)
        self._cache_add(k for k in result.confirmed if k in wanted)

    async def confirm(self, claim: Claim, published: Iterable[str], at: datetime) -> None:
        """The broker acknowledged these keys' events: they are duplicates from now on,
        here at once and in the store when this returns."""
        self.confirm_behind(claim, published, at)
        await self.drain()

    def confirm_behind(self, claim: Claim, published: Iterable[str], at: datetime) -> None:
        """`confirm`, with the store write done behind the answer: this process knows the
        keys are on the topic at once; the store learns it moments later, in one write
        for every claim confirmed meanwhile. Until it does (or if this process dies
        first), another replica meeting these keys publishes them again and the
        consumers drop the repeat: the answer waits for one store round trip less."""
        keys = list(published)
        self._inflight.difference_update(claim.mine)
        self._cache_add(keys)
        if claim.local:
            self._pending.append((sorted(claim.mine), at))
            return
        if claim.claim_id is None:
            return
        self._to_confirm.append({"_id": claim.claim_id, "at": at})
        if self._confirming is None or self._confirming.done():
            self._confirming = asyncio.create_task(self._write_confirms())

    async def _write_confirms(self) -> None:
        while self._to_confirm:
            docs, self._to_confirm = self._to_confirm, []
            try:
                async with asyncio.timeout(self._deadline_s):
                    await self._confirmed.insert_many(docs, ordered=False)
            except (PyMongoError, TimeoutError) as err:
                # Left unconfirmed in the store: a later copy is published again and
                # dropped downstream. Nothing is lost.
                self._store_failed(err)
            except Exception as err:  # never silently: nothing awaits this task's result
                self._log.error("confirmations not written", error=repr(err), claims=len(docs))

    async def drain(self) -> None:
        """Finish the confirmations still to be written (on shutdown)."""
        while self._confirming is not None and not self._confirming.done():
            await asyncio.gather(self._confirming, return_exceptions=True)

    async def release(self, claim: Claim) -> None:
        """Publishing failed: give the keys back so a retry can claim and publish them."""
        self._inflight.difference_update(claim.mine)
        if claim.claim_id is None:
            return
        try:
            await self._claims.delete_one({"_id": claim.claim_id})
        except PyMongoError as err:
            # Left unconfirmed: a retry finds it and publishes the events itself.
            self._store_failed(err)

    async def _flush(self) -> None:
        """Write the claims taken from memory during an outage, oldest first, as confirmed.
        One flusher at a time: concurrent requests would otherwise write a batch twice."""
        async with self._flush_lock:
            while self._pending:
                keys, at = self._pending[0]
                claim_id = uuid.uuid4().hex
                try:
                    await self._claims.insert_one({"_id": claim_id, "ids": keys, "at": at})
                except DuplicateKeyError:
                    # Another replica claimed some of these meanwhile (both published;
                    # the consumers kept one): record only the keys still free.
                    taken = {
                        k
                        async for d in self._claims.find({"ids": {"$in": keys}}, {"ids": 1})
                        for k in d["ids"]
                    }
                    self._pending[0] = ([k for k in keys if k not in taken], at)
                    if not self._pending[0][0]:
                        self._pending.pop(0)
                    continue
                await self._confirmed.insert_one({"_id": claim_id, "at": at})
                self._pending.pop(0)

    async def ensure_indexes(self) -> None:
        await self._claims.create_index("ids", unique=True)
