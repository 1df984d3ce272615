"""`modstream audit verify`: walk every chain of the archive and name where it breaks.

Read-only. Chunks are streamed from a cursor sorted by (group, stream, seq_lo) and their
records fed to the chain verifier in stored order, so a large archive costs one pass and
memory for one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.archive import ARCHIVE, HEADS, chunk_records, require_format
from shared.chain import STREAMS, Break, ChainVerifier


@dataclass
class VerifyReport:
    breaks: list[Break] = field(default_factory=list)
    chains: int = 0
    records: int = 0
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks


async def verify_report(db: AsyncDatabase, group: str | None = None) -> VerifyReport:
    """Every chain (of `group` only, when given) checked against its records and head.

    Raises ArchiveFormatError on an archive of the earlier format (not migrated)."""
    await require_format(db)
    report = VerifyReport()
    query: dict[str, Any] = {} if group is None else {"group_key": group}
    heads: dict[tuple[str, str], dict[str, Any]] = {
        (doc["group_key"], doc["stream"]): doc async for doc in db[HEADS].find(query)
    }
    current: ChainVerifier | None = None
    checked: set[tuple[str, str]] = set()

    def close(verifier: ChainVerifier) -> None:
        key = (verifier.group_key, verifier.stream)
        checked.add(key)
        report.chains += 1
        found = verifier.finish(heads.get(key))
        if found is not None:
            report.breaks.append(found)

    cursor = (
        db[ARCHIVE]
        .find(query, {"group_key": 1, "stream": 1, "seq_lo": 1, "records": 1})
        .sort([("group_key", ASCENDING), ("stream", ASCENDING), ("seq_lo", ASCENDING)])
    )
    async for doc in cursor:
        report.chunks += 1
        key = (str(doc.get("group_key")), str(doc.get("stream")))
        if current is None or (current.group_key, current.stream) != key:
            if current is not None:
                close(current)
            current = ChainVerifier(*key)
        records = chunk_records(doc)
        report.records += len(records)
        _feed_chunk(current, records)
    if current is not None:
        close(current)
    for (group_key, stream), head in sorted(heads.items()):
        if (group_key, stream) not in checked and int(head.get("seq", -1)) >= 0:
            report.chains += 1
            report.breaks.append(
                Break(
                    group_key, stream, 0, "deleted", f"all {int(head['seq']) + 1} record(s) missing"
                )
            )
    report.breaks.sort(
        key=lambda b: (b.group_key, STREAMS.index(b.stream) if b.stream in STREAMS else 9, b.seq)
    )
    return report


def _feed_chunk(verifier: ChainVerifier, records: list[dict[str, Any]]) -> None:
    """Feed one chunk's records in stored order. A gap whose missing record is stored
    later in the same chunk is records out of order, not a deletion."""
    if verifier.broken is not None:
        return
    for i, record in enumerate(records):
        found = verifier.feed(record)
        if found is None:
            continue
        if found.kind == "deleted":
            later = [r for r in records[i + 1 :] if r.get("seq") == found.seq]
            if later:
                verifier.broken = Break(
                    found.group_key,
                    found.stream,
                    found.seq,
                    "altered",
                    f"records out of order: seq {record.get('seq')} is stored before "
                    f"seq {found.seq}",
                    later[0].get("id"),
                )
        return


async def verify_archive(db: AsyncDatabase, group: str | None = None) -> list[Break]:
    """The breaks found (empty: every chain proves its records untampered)."""
    return (await verify_report(db, group)).breaks
