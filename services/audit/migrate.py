"""`modstream audit migrate`: rewrite an archive of the earlier release (format 1, one
document per record) into chunks (format 2), preserving the chain.

Records are copied verbatim (the fields `link()` made: the same hashes, seqs and prevs),
chain by chain in seq order, into a staging collection with the new indexes; the heads
are not touched. Only when every record was copied is the old collection renamed
`archive_format1` (kept until the operator drops it) and the staging collection renamed
`archive`, and the format marker written. Run it with reporting stopped: an archive
that grows during the copy is refused. A crash during the copy leaves the old archive in
place (a rerun starts the copy over); one during the swap leaves collections renamed
but no marker, which a rerun completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.archive import (
    ARCHIVE,
    FORMAT,
    LEGACY,
    MAX_CHUNK_BYTES,
    MAX_CHUNK_RECORDS,
    RECORD_FIELDS,
    ArchiveFormatError,
    chunk_document,
    create_indexes,
    mark_format,
    record_size,
    stored_format,
)

STAGING = "archive_migrating"
_INSERT_CHUNKS = 50


@dataclass
class MigrateReport:
    """What a migration did: records copied into how many chunks (0 and 0 when there
    was nothing to migrate), and where the old documents are kept."""

    records: int = 0
    chunks: int = 0
    already: bool = False
    kept_in: str | None = None


def _record(doc: dict[str, Any]) -> dict[str, Any]:
    """A format-1 document's chain record: its hashed fields and hash, nothing else."""
    return {k: doc[k] for k in RECORD_FIELDS if k in doc}


class _Chunker:
    """Consecutive records of one chain and partition, cut at the writer's limits."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.run: list[dict[str, Any]] = []
        self.size = 0

    def add(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Add a record; returns the chunks it closed."""
        body = record.get("body")
        size = record_size(body if isinstance(body, dict) else {})
        closed = []
        if self.run and not self._continues(record, size):
            closed.extend(self.flush())
        self.run.append(record)
        self.size += size
        if not isinstance(record.get("seq"), int):
            # an edited seq: a chunk of its own, so seq_lo stays unique per chain
            closed.extend(self.flush())
        return closed

    def _continues(self, record: dict[str, Any], size: int) -> bool:
        last = self.run[-1]
        return (
            (last.get("stream"), last.get("group_key"), last.get("partition"))
            == (record.get("stream"), record.get("group_key"), record.get("partition"))
            and isinstance(record.get("seq"), int)
            and len(self.run) < self.max_records
            and self.size + size <= self.max_bytes
        )

    def flush(self) -> list[dict[str, Any]]:
        if not self.run:
            return []
        chunk = chunk_document(self.run)
        self.run, self.size = [], 0
        return [chunk]


async def migrate_archive(
    db: AsyncDatabase,
    *,
    max_records: int = MAX_CHUNK_RECORDS,
    max_bytes: int = MAX_CHUNK_BYTES,
) -> MigrateReport:
    """Rewrite a format-1 archive into chunks (see the module's docstring)."""
    names = set(await db.list_collection_names())
    if ARCHIVE not in names and STAGING in names and LEGACY in names:
        # a previous run renamed the old archive away but stopped before the new one
        await db[STAGING].rename(ARCHIVE)
        await mark_format(db)
        return MigrateReport(kept_in=LEGACY)
    found = await stored_format(db)
    if found == FORMAT:
        return MigrateReport(already=True)
    if found is None:
        return MigrateReport()
    if found != 1:
        raise ArchiveFormatError(f"the archive is in format {found}; cannot migrate it")
    if LEGACY in names:
        sample = await db[ARCHIVE].find_one({}, {"v": 1})
        if sample is not None and sample.get("v") == FORMAT:
            # a previous run swapped the collections but stopped before the marker
            await mark_format(db)
            return MigrateReport(kept_in=LEGACY)
        raise ArchiveFormatError(
            f"a collection {LEGACY!r} exists (an earlier migration's copy?): drop or rename "
            "it first"
        )
    if STAGING in names:
        await db.drop_collection(STAGING)
    staging = db[STAGING]
    await create_indexes(staging)
    report = MigrateReport()
    before = await db[ARCHIVE].count_documents({})
    chunker = _Chunker(max_records, max_bytes)
    out: list[dict[str, Any]] = []

    async def put(chunks: list[dict[str, Any]]) -> None:
        out.extend(chunks)
        report.chunks += len(chunks)
        if len(out) >= _INSERT_CHUNKS:
            await staging.insert_many(out, ordered=True)
            out.clear()

    cursor = (
        db[ARCHIVE]
        .find({}, {"_id": 0, **dict.fromkeys(RECORD_FIELDS, 1)})
        .sort([("group_key", ASCENDING), ("stream", ASCENDING), ("seq", ASCENDING)])
    )
    try:
        async for doc in cursor:
            report.records += 1
            await put(chunker.add(_record(doc)))
        await put(chunker.flush())
        if out:
            await staging.insert_many(out, ordered=True)
    except BulkWriteError as err:
        await db.drop_collection(STAGING)
        detail = (err.details.get("writeErrors") or [{}])[0].get("errmsg", str(err))
        raise ArchiveFormatError(
            f"two records of the archive claim one place or id ({detail}): the archive was "
            "edited; nothing was migrated"
        ) from err
    after = await db[ARCHIVE].count_documents({})
    if after != before or report.records != before:
        await db.drop_collection(STAGING)
        raise ArchiveFormatError(
            f"the archive changed during the migration ({before} documents, then {after}): "
            "stop reporting and run it again"
        )
    await db[ARCHIVE].rename(LEGACY)
    await staging.rename(ARCHIVE)
    await mark_format(db)
    report.kept_in = LEGACY
    return report
