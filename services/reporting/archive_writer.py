"""The archive: every event and decision, chained per group, written by the reporting sink
inside the same MongoDB transaction as the projections and the checkpoint.

Why beside the stream: topics may one day lose old records (retention, a lost cluster);
the archive keeps the record replayable and provably untampered (see chain.py).

Rollback safety: `append` links records onto heads held in memory, but those heads only
become the writer's truth when the caller says the transaction committed (`commit`).
After an abort the caller calls `discard` and the next batch links onto the old heads
again. Heads are also compare-and-set in MongoDB, so a writer with stale heads (another
instance took the partition meanwhile) fails its transaction instead of forking a chain;
it then reloads heads (`load_heads`), as it does on every partition assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.archive import ARCHIVE, HEADS, archive_document
from shared.chain import GENESIS, head_id, link, record_id
from shared.consumer import Retryable


class ArchiveConflict(Retryable):
    """A chain head moved under this writer: abort the transaction and reload heads."""


@dataclass(frozen=True, slots=True)
class _Staged:
    stream: str
    group_key: str
    id: str
    partition: int
    offset: int
    body: dict[str, Any]


class ArchiveWriter:
    def __init__(self) -> None:
        # (stream, group_key) -> (last seq, last hash), as committed
        self.heads: dict[tuple[str, str], tuple[int, str]] = {}
        self._staged: list[_Staged] = []
        self._staged_ids: set[str] = set()
        self._pending: list[dict[str, Any]] = []
        self._pending_heads: dict[tuple[str, str], tuple[int, str]] = {}
        self._written_heads: dict[tuple[str, str], tuple[int, str]] = {}

    # ------------------------------------------------------------------ set-up

    @staticmethod
    async def ensure_indexes(db: AsyncDatabase) -> None:
        coll = db[ARCHIVE]
        await coll.create_index(
            [("group_key", ASCENDING), ("stream", ASCENDING), ("seq", ASCENDING)], unique=True
        )
        # replay from the archive: a partition's events in offset order
        await coll.create_index(
            [("stream", ASCENDING), ("partition", ASCENDING), ("offset", ASCENDING)]
        )
        # recorded decisions of a period
        await coll.create_index([("stream", ASCENDING), ("at", ASCENDING)])
        # a user's audit trail, and what closes their complaints and sanctions
        await coll.create_index([("users", ASCENDING), ("at", DESCENDING)])
        await coll.create_index([("refs", ASCENDING)])

    async def load_heads(
        self, db: AsyncDatabase, session: Any = None, groups: set[str] | None = None
    ) -> None:
        """(Re)read committed heads: on start, on partition assignment, after a conflict."""
        query: dict[str, Any] = {} if groups is None else {"group_key": {"$in": sorted(groups)}}
        fresh: dict[tuple[str, str], tuple[int, str]] = {}
        async for doc in db[HEADS].find(query, session=session):
            fresh[(doc["stream"], doc["group_key"])] = (int(doc["seq"]), str(doc["hash"]))
        if groups is None:
            self.heads = fresh
        else:
            for key in [k for k in self.heads if k[1] in groups]:
                del self.heads[key]
            self.heads.update(fresh)
        self.discard()

    # ------------------------------------------------------------------ a batch

    def _head(self, key: tuple[str, str]) -> tuple[int, str]:
        if key in self._pending_heads:
            return self._pending_heads[key]
        return self.heads.get(key, (-1, GENESIS))

    def _link(self, item: _Staged) -> dict[str, Any]:
        key = (item.stream, item.group_key)
        seq, prev = self._head(key)
        record = link(
            prev,
            seq + 1,
            stream=item.stream,
            group_key=item.group_key,
            id=item.id,
            partition=item.partition,
            offset=item.offset,
            body=item.body,
        )
        self._pending_heads[key] = (record["seq"], record["hash"])
        doc = archive_document(record)
        self._pending.append(doc)
        return doc

    def append(
        self,
        stream: str,
        group_key: str,
        id: str,
        partition: int,
        offset: int,
        body: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Link one event or decision; None when this batch already holds its id.

        `body` is the canonical JSON dict (`event_to_dict`, or `decision_body`).
        """
        rid = record_id(stream, group_key, id)
        if rid in self._staged_ids:
            return None
        item = _Staged(stream, group_key, id, partition, offset, body)
        self._staged.append(item)
        self._staged_ids.add(rid)
        return self._link(item)

    def pending(self) -> list[dict[str, Any]]:
        return list(self._pending)

    def pending_heads(self) -> list[dict[str, Any]]:
        return [
            {
                "_id": head_id(stream, group),
                "stream": stream,
                "group_key": group,
                "seq": s,
                "hash": h,
            }
            for (stream, group), (s, h) in self._pending_heads.items()
        ]

    def _relink_without(self, existing: set[str]) -> None:
        """Drop records archived before (a redelivery, a re-emitted decision) and link
        the rest again, so a duplicate never takes a seq and leaves a gap."""
        staged = [s for s in self._staged if record_id(s.stream, s.group_key, s.id) not in existing]
        self._pending = []
        self._pending_heads = {}
        self._staged = staged
        self._staged_ids = {record_id(s.stream, s.group_key, s.id) for s in staged}
        for item in staged:
            self._link(item)

    async def write(self, db: AsyncDatabase, session: Any) -> int:
        """Insert the batch's records and move the heads, inside the caller's transaction.

        Heads are compare-and-set first, then the records inserted. Returns the number of
        records written. Raises ArchiveConflict when a head moved under this writer; the
        caller aborts, calls `discard` and `load_heads`.
        """
        if not self._staged:
            return 0
        ids = [d["_id"] for d in self._pending]
        existing = {
            d["_id"]
            async for d in db[ARCHIVE].find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
        }
        if existing:
            self._relink_without(existing)
        for key, (seq, digest) in self._pending_heads.items():
            stream, group = key
            old = self.heads.get(key)
            hid = head_id(stream, group)
            new = {"stream": stream, "group_key": group, "seq": seq, "hash": digest}
            if old is None:
                # A new chain: the insert collides on _id if another writer started it.
                try:
                    await db[HEADS].insert_one({"_id": hid, **new}, session=session)
                except DuplicateKeyError as err:
                    raise ArchiveConflict(f"chain {hid} was started by another writer") from err
            else:
                result = await db[HEADS].update_one(
                    {"_id": hid, "seq": old[0], "hash": old[1]}, {"$set": new}, session=session
                )
                if result.matched_count != 1:
                    raise ArchiveConflict(f"chain {hid} moved past seq {old[0]} elsewhere")
        if self._pending:
            try:
                await db[ARCHIVE].insert_many(self._pending, ordered=False, session=session)
            except BulkWriteError as err:
                # a (group, stream, seq) already taken: another writer linked there
                raise ArchiveConflict(f"archive positions taken by another writer: {err}") from err
        self._written_heads = dict(self._pending_heads)
        return len(self._pending)

    def commit(self) -> None:
        """The transaction committed: the batch's heads are now the writer's heads."""
        self.heads.update(self._written_heads)
        self._clear()

    def discard(self) -> None:
        """The transaction aborted (or never ran): forget the batch, keep the old heads."""
        self._clear()

    def _clear(self) -> None:
        self._staged = []
        self._staged_ids = set()
        self._pending = []
        self._pending_heads = {}
        self._written_heads = {}
