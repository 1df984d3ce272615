"""Which events of a batch were folded before: the first occurrence of each (group, event id).

Ingest can put an event on the topic twice (a retry racing an unconfirmed claim, a
process killed after publishing, a store outage); reporting must still count it once.
Whether a record repeats an earlier event is a fact of the log, not of a projection: the
record at offset o repeats one when the same (group, event id) first occurred at an
earlier offset of the same partition. So one record of first occurrences per partition
serves every projection and generation: the live sink and a rebuild ask the same
question and get the same answer, whichever of them recorded the first occurrence.

The record is written inside the batch's transaction, one document per batch holding the
keys that first occur in it (so the write budget grows by one write per batch, not one per
event). Concurrent writers (a rebuild beside the live sink) may both record a key: both
record the same first offset, so the facts never disagree. Kept for as long as the
collection is (no expiry), so a repeat is dropped however late it comes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "reporting_event_ids"


def event_key(partition: int, group_key: str, event_id: str) -> str:
    """Offsets compare only within a partition, so the partition is part of the key (a
    group's events all share one). Event ids hold no whitespace, so the key is unambiguous."""
    return f"{partition} {event_id} {group_key}"


@dataclass(slots=True)
class FirstOccurrences:
    """The pure part: given the known first offsets, which records repeat an event."""

    known: dict[str, int]
    repeats: set[int] = field(default_factory=set)
    new: dict[str, int] = field(default_factory=dict)

    @classmethod
    def classify(
        cls, records: Sequence[tuple[int, str]], known: dict[str, int]
    ) -> FirstOccurrences:
        """`records` are (offset, key) in offset order."""
        result = cls(dict(known))
        for offset, key in records:
            first = result.known.get(key)
            if first is None:
                result.known[key] = offset
                result.new[key] = offset
            elif first < offset:
                result.repeats.add(offset)
            # first == offset: this very record, folded again (a crash, a rebuild)
        return result


class EventIdLog:
    """The adapter: reads and writes first occurrences inside the sink's transaction."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._coll = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._coll.create_index("ids")

    async def repeats(
        self, topic: str, partition: int, records: Sequence[tuple[int, str]], session: Any
    ) -> set[int]:
        """Offsets of the records that repeat an earlier event; records the new keys."""
        if not records:
            return set()
        keys = sorted({key for _, key in records})
        known: dict[str, int] = {}
        wanted = set(keys)
        async for doc in self._coll.find(
            {"ids": {"$in": keys}}, {"ids": 1, "offs": 1}, session=session
        ):
            for key, offset in zip(doc["ids"], doc["offs"], strict=True):
                if key in wanted and (key not in known or offset < known[key]):
                    known[key] = offset
        result = FirstOccurrences.classify(records, known)
        if result.new:
            ids = list(result.new)
            await self._coll.insert_one(
                {
                    "_id": f"{topic}:{partition}:{records[0][0]}:{uuid.uuid4().hex[:12]}",
                    "ids": ids,
                    "offs": [result.new[k] for k in ids],
                },
                session=session,
            )
        return result.repeats


class PassFirstOccurrences:
    """First occurrences as one pass over the log from its start sees them: a rebuild.

    A rebuild reads every partition from its first offset, so the first occurrence of
    every key it meets is one it read itself: the answer needs no store. Asking the store
    instead cost a rebuild that followed the live sink nearly all its time (SecantusDB
    checks each returned document's keys against the whole `$in` list: 45 s of a 50 s
    rebuild of 40,000 events, growing with the history). Nothing is written: the live
    sink records first occurrences for everyone.

    Keys are kept as 16-byte BLAKE2b digests with their first offset (about 100 bytes a
    key: 100 MB for a million events; two keys colliding is a 1-in-10^26 chance at that
    size). A batch folded again (its transaction failed) finds its own offsets, which are
    not repeats, as in the store.
    """

    def __init__(self) -> None:
        self._first: dict[tuple[str, int], dict[bytes, int]] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def repeats(
        self, topic: str, partition: int, records: Sequence[tuple[int, str]], session: Any
    ) -> set[int]:
        first = self._first.setdefault((topic, partition), {})
        repeats: set[int] = set()
        for offset, key in records:
            digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
            known = first.get(digest)
            if known is None or offset < known:
                first[digest] = offset
            elif known < offset:
                repeats.add(offset)
        return repeats
