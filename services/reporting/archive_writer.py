"""The archive: every event and decision, chained per group, written by the reporting sink
inside the same MongoDB transaction as the projections and the checkpoint.

Why beside the stream: topics may one day lose old records (retention, a lost cluster);
the archive keeps the record replayable and provably untampered (see chain.py).

Storage (shared/archive.py): one document per (stream, group) and batch, a chunk holding
that batch's chain records; the store pays per document and per index entry, not per
record.

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

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.reporting.reads import scope_filter
from shared.archive import (
    ARCHIVE,
    FORMAT1_INDEXES,
    HEADS,
    MAX_CHUNK_BYTES,
    MAX_CHUNK_RECORDS,
    check_format,
    chunk_document,
    create_indexes,
    mark_format,
    record_size,
    stored_format,
)
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
    size: int


class ArchiveWriter:
    def __init__(
        self, max_records: int = MAX_CHUNK_RECORDS, max_bytes: int = MAX_CHUNK_BYTES
    ) -> None:
        # (stream, group_key) -> (last seq, last hash), as committed
        self.heads: dict[tuple[str, str], tuple[int, str]] = {}
        self.max_records = max_records
        self.max_bytes = max_bytes
        # staged items and their linked records, in lockstep
        self._staged: list[_Staged] = []
        self._staged_ids: set[str] = set()
        self._pending: list[dict[str, Any]] = []
        self._pending_heads: dict[tuple[str, str], tuple[int, str]] = {}
        self._written_heads: dict[tuple[str, str], tuple[int, str]] = {}

    # ------------------------------------------------------------------ set-up

    @staticmethod
    async def ensure_indexes(db: AsyncDatabase) -> None:
        """The archive's indexes and format marker, at start-up. Raises ArchiveFormatError
        on an archive of the earlier release (one document per record) until it is
        migrated: this writer would add chunks its readers could not tell apart."""
        found = await stored_format(db)
        check_format(found)
        coll = db[ARCHIVE]
        if found is None:
            # An empty archive the earlier release set up: its per-record unique index on
            # (group_key, stream, seq) would refuse a second chunk of a chain.
            existing = await coll.index_information()
            for name in FORMAT1_INDEXES:
                if name in existing:
                    await coll.drop_index(name)
        await create_indexes(coll)
        if found is None:
            await mark_format(db)

    async def load_heads(
        self, db: AsyncDatabase, session: Any = None, groups: set[str] | None = None
    ) -> None:
        """(Re)read committed heads: on start, on partition assignment, after a conflict."""
        query = scope_filter(groups)
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
        self._pending.append(record)
        return record

    def append(
        self,
        stream: str,
        group_key: str,
        id: str,
        partition: int,
        offset: int,
        body: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Link one event or decision and return its chain record; None when this batch
        already holds its id.

        `body` is the canonical JSON dict (`event_to_dict`, or `decision_body`).
        """
        rid = record_id(stream, group_key, id)
        if rid in self._staged_ids:
            return None
        item = _Staged(stream, group_key, id, partition, offset, body, record_size(body))
        self._staged.append(item)
        self._staged_ids.add(rid)
        return self._link(item)

    def pending_records(self) -> list[dict[str, Any]]:
        """The batch's chain records, in the order they were linked."""
        return list(self._pending)

    def pending(self) -> list[dict[str, Any]]:
        """The chunks `write` would insert: per (stream, group), the batch's records of
        one partition, split only past `max_records` or `max_bytes`."""
        runs: dict[tuple[str, str], list[list[dict[str, Any]]]] = {}
        sizes: dict[tuple[str, str], int] = {}
        for item, record in zip(self._staged, self._pending, strict=True):
            key = (item.stream, item.group_key)
            chain = runs.setdefault(key, [])
            run = chain[-1] if chain else None
            if (
                run is None
                or run[-1]["partition"] != record["partition"]
                or len(run) >= self.max_records
                or sizes[key] + item.size > self.max_bytes
            ):
                run = []
                chain.append(run)
                sizes[key] = 0
            run.append(record)
            sizes[key] += item.size
        return [chunk_document(run) for chain in runs.values() for run in chain]

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
        """Insert the batch's chunks and move the heads, inside the caller's transaction.

        Heads are compare-and-set first, then the chunks inserted. Returns the number of
        records written. Raises ArchiveConflict when a head moved under this writer; the
        caller aborts, calls `discard` and `load_heads`.
        """
        if not self._staged:
            return 0
        ids = [record_id(s.stream, s.group_key, s.id) for s in self._staged]
        wanted = set(ids)
        existing: set[str] = set()
        async for doc in db[ARCHIVE].find({"ids": {"$in": ids}}, {"ids": 1}, session=session):
            existing.update(i for i in doc.get("ids") or [] if i in wanted)
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
        chunks = self.pending()
        if chunks:
            try:
                await db[ARCHIVE].insert_many(chunks, ordered=False, session=session)
            except BulkWriteError as err:
                # a (group, stream, seq_lo) or a record id already taken: another writer
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
