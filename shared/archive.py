"""The archive's storage format: collection names, the stored chunk, its indexes and query
fields, and the format version.

The archive (every event and decision, hash-chained per group, see `shared/chain.py`) is
written by reporting inside its projection transactions and read by the audit commands,
the user history and replays; this module is the one definition they share.

Format 2 (this one) stores one document per (stream, group) and batch, a **chunk**: the
chain records of that batch exactly as `link()` makes them, plus query fields that cover
all of them (seq, offset and time ranges; the union of record ids, user keys, refs and
types). A store pays per document and per index entry, so a batch of N records of G
groups costs 2G documents instead of N. Format 1 (the earlier release) stored one
document per record; `modstream audit migrate` rewrites such an archive into chunks.
The chain itself is the same in both: only the storage changed.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from shared.chain import record_id
from shared.events import Decision

ARCHIVE = "archive"
HEADS = "archive_heads"
# One document, `{_id: "archive", format: 2}`: which format `archive` is stored in.
META = "archive_meta"
META_ID = "archive"
FORMAT = 2
# Where `modstream audit migrate` leaves the format-1 documents it rewrote (the operator
# drops it once `modstream audit verify` passes on the migrated archive).
LEGACY = "archive_format1"

# A chunk holds at most this many records and about this many bytes (far below the
# store's 16 MiB document limit: a single event may be up to ~1 MiB).
MAX_CHUNK_RECORDS = 1000
MAX_CHUNK_BYTES = 4 * 1024 * 1024
# What a record costs beside its body: ids, hashes, field names.
_RECORD_OVERHEAD = 320

# The chain record as `link()` makes it, in its order.
RECORD_FIELDS = ("stream", "group_key", "seq", "id", "partition", "offset", "body", "prev", "hash")

# (keys, options) of every index of the archive collection.
INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    # the chain's order; a writer whose heads are stale collides here (ArchiveConflict)
    ([("group_key", ASCENDING), ("stream", ASCENDING), ("seq_lo", ASCENDING)], {"unique": True}),
    # multikey: a record already archived (same stream, group and id) is never archived again
    ([("ids", ASCENDING)], {"unique": True}),
    # replay from the archive: a partition's records in offset order
    ([("stream", ASCENDING), ("partition", ASCENDING), ("offset_lo", ASCENDING)], {}),
    # recorded decisions of a period: chunks with at_hi >= from and at_lo < to
    ([("stream", ASCENDING), ("at_hi", ASCENDING), ("at_lo", ASCENDING)], {}),
    # a user's audit trail, and what closes their complaints and sanctions
    ([("users", ASCENDING), ("at_hi", DESCENDING)], {}),
    ([("refs", ASCENDING)], {}),
]
# The per-record indexes of format 1 (`refs_1` is the same in both formats).
FORMAT1_INDEXES = (
    "group_key_1_stream_1_seq_1",
    "stream_1_partition_1_offset_1",
    "stream_1_at_1",
    "users_1_at_-1",
)


class ArchiveFormatError(RuntimeError):
    """The archive is stored in a format this release does not read; the message says
    what to do."""


FORMAT1_MESSAGE = (
    "the archive holds format-1 documents (one per record, written by the earlier "
    "release); stop reporting and run `modstream audit migrate` (see docs/audit.md)"
)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def index_fields(stream: str, group_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """Fields outside the hash that make the archive queryable: when (`at`, a real date,
    since RFC 3339 strings do not sort by time) and which user keys a record concerns."""
    platform = group_key.split(":", 1)[0]
    users: list[str] = []
    refs: list[str] = []
    if stream == "decisions":
        at = _parse_time(body.get("decided_at"))
        if body.get("target_user_id"):
            users.append(f"{platform}:{body['target_user_id']}")
        if body.get("decision_id"):
            refs.append(f"decision:{body['decision_id']}")
        etype = "decision"
    else:
        at = _parse_time(body.get("occurred_at"))
        etype = str(body.get("type", ""))
        if body.get("user_id"):
            users.append(f"{platform}:{body['user_id']}")
        payload = body.get("payload") or {}
        if isinstance(payload, dict):
            if payload.get("target_user_id"):
                users.append(f"{platform}:{payload['target_user_id']}")
            # complaint.resolved and sanction.revoked only name what they close
            if payload.get("complaint_id"):
                refs.append(f"complaint:{payload['complaint_id']}")
            if payload.get("sanction_id"):
                refs.append(f"sanction:{payload['sanction_id']}")
            # enforcement.recorded: a decision and what was done about it share a ref
            if etype == "enforcement.recorded" and payload.get("decision_id"):
                refs.append(f"decision:{payload['decision_id']}")
    return {
        "at": at,
        "type": etype,
        "users": sorted(set(users)),
        "refs": refs,
    }


def record_fields(record: dict[str, Any]) -> dict[str, Any]:
    """`index_fields` of one chain record (an unreadable body has none)."""
    body = record.get("body")
    return index_fields(
        str(record.get("stream")),
        str(record.get("group_key")),
        body if isinstance(body, dict) else {},
    )


def sort_time(at: datetime | None) -> tuple[int, datetime]:
    """A sort key for `at`: no time first (as the store sorts null), naive read as UTC."""
    if at is None:
        return (0, datetime.min.replace(tzinfo=UTC))
    return (1, at if at.tzinfo is not None else at.replace(tzinfo=UTC))


def chunk_id(stream: str, group_key: str, seq_lo: Any) -> str:
    """A chunk's _id: its chain and the seq it starts at."""
    return f"{stream}:{group_key}@{seq_lo}"


def record_size(body: dict[str, Any]) -> int:
    """About how many bytes a record of this body takes in a chunk."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)) + (
        _RECORD_OVERHEAD
    )


def chunk_document(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The stored form of consecutive chain records of one (stream, group) and partition:
    the records untouched, plus the fields the readers query by. (Records are read with
    `get`: a migrated archive may hold an edited record, which verify will name.)"""
    if not records:
        raise ValueError("a chunk holds at least one record")
    first, last = records[0], records[-1]
    stream, group = first.get("stream"), first.get("group_key")
    offsets = [r["offset"] for r in records if isinstance(r.get("offset"), int)]
    ats: list[datetime] = []
    users: set[str] = set()
    refs: set[str] = set()
    types: set[str] = set()
    for record in records:
        fields = record_fields(record)
        if fields["at"] is not None:
            ats.append(fields["at"])
        users.update(fields["users"])
        refs.update(fields["refs"])
        types.add(fields["type"])
    return {
        "_id": chunk_id(str(stream), str(group), first.get("seq")),
        "v": FORMAT,
        "stream": stream,
        "group_key": group,
        "seq_lo": first.get("seq"),
        "seq_hi": last.get("seq"),
        "partition": first.get("partition"),
        "offset_lo": min(offsets) if offsets else None,
        "offset_hi": max(offsets) if offsets else None,
        "at_lo": min(ats) if ats else None,
        "at_hi": max(ats) if ats else None,
        "ids": [record_id(str(stream), str(group), str(r.get("id"))) for r in records],
        "users": sorted(users),
        "refs": sorted(refs),
        "types": sorted(types),
        "records": list(records),
    }


def chunk_records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The chain records a stored chunk holds, in stored order. Whatever is not a record
    (an edited chunk) reads as an empty one, so the chain verifier names it."""
    records = doc.get("records")
    if not isinstance(records, list):
        return []
    return [r if isinstance(r, dict) else {} for r in records]


async def records_in_offset_order(
    chunks: AsyncIterable[dict[str, Any]],
) -> AsyncIterator[dict[str, Any]]:
    """The records of one partition's chunks in offset order, given the chunks sorted by
    `offset_lo`. Chunks of groups sharing a partition interleave (one batch holds
    several groups), so records wait in a heap until no later chunk can precede them."""
    heap: list[tuple[int, int, dict[str, Any]]] = []
    tie = 0
    async for doc in chunks:
        lo = doc.get("offset_lo")
        if isinstance(lo, int):
            while heap and heap[0][0] < lo:
                yield heapq.heappop(heap)[2]
        for record in chunk_records(doc):
            offset = record.get("offset")
            tie += 1
            heapq.heappush(heap, (offset if isinstance(offset, int) else -1, tie, record))
    while heap:
        yield heapq.heappop(heap)[2]


async def stored_format(db: Any, session: Any = None) -> int | None:
    """The format `archive` is stored in: the marker's, else 1 when it holds documents
    (the earlier release wrote no marker), else None (an archive not begun)."""
    meta = await db[META].find_one({"_id": META_ID}, session=session)
    if meta is not None:
        return int(meta.get("format", 0))
    if await db[ARCHIVE].find_one({}, {"_id": 1}, session=session) is None:
        return None
    return 1


def check_format(found: int | None) -> None:
    """Raise ArchiveFormatError unless an archive stored in `found` (None: not begun) is
    this release's format."""
    if found is None or found == FORMAT:
        return
    if found == 1:
        raise ArchiveFormatError(FORMAT1_MESSAGE)
    raise ArchiveFormatError(f"the archive is in format {found}; this release reads {FORMAT}")


async def require_format(db: Any) -> None:
    """Raise ArchiveFormatError unless `archive` is (or can begin as) this format."""
    check_format(await stored_format(db))


async def mark_format(db: Any, session: Any = None) -> None:
    await db[META].update_one(
        {"_id": META_ID}, {"$set": {"format": FORMAT}}, upsert=True, session=session
    )


async def create_indexes(coll: Any) -> None:
    for keys, options in INDEXES:
        await coll.create_index(keys, **options)


def decision_body(decision: Decision) -> dict[str, Any]:
    """A decision's canonical dict, as it travels on the decisions topic."""
    return decision.model_dump(mode="json", exclude_none=True)
