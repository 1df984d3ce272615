"""The per-group hash chain of the archive (pure: no I/O).

Every archived event and decision becomes one link of the chain of its (group, stream):
its hash covers its position (seq), where it came from (partition, offset), its body and
the hash of its predecessor. Altering a body breaks that record's hash; deleting a record
leaves a gap in seq; inserting or reordering records breaks `prev` (or the hash, since
seq is hashed too). The head kept beside the chain catches a removed or appended tail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Stream = Literal["events", "decisions"]
STREAMS: tuple[Stream, ...] = ("events", "decisions")
GENESIS = ""

# What a break means to an auditor; `detail` says exactly what was found.
BreakKind = Literal["altered", "deleted", "inserted", "relinked", "head"]

_HASHED_FIELDS = ("stream", "group_key", "seq", "id", "partition", "offset", "body", "prev")


def canonical_json(value: Any) -> bytes:
    """One byte string per value whatever the key order a store hands back."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: record.get(k) for k in _HASHED_FIELDS})).hexdigest()


def record_id(stream: str, group_key: str, item_id: str) -> str:
    """The archive's _id: one record per group and event or decision id, whatever is
    redelivered. Ids are unique within a group only (another group may use the same id,
    and must not keep this group's record out of the archive)."""
    return f"{stream}:{group_key}:{item_id}"


def head_id(stream: str, group_key: str) -> str:
    return f"{stream}:{group_key}"


def link(
    prev_hash: str,
    seq: int,
    *,
    stream: str,
    group_key: str,
    id: str,
    partition: int,
    offset: int,
    body: dict[str, Any],
) -> dict[str, Any]:
    """The chain record that follows `prev_hash` at position `seq`."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {STREAMS}, not {stream!r}")
    record: dict[str, Any] = {
        "stream": stream,
        "group_key": group_key,
        "seq": seq,
        "id": id,
        "partition": partition,
        "offset": offset,
        "body": body,
        "prev": prev_hash,
    }
    record["hash"] = record_hash(record)
    return record


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain stops proving anything, and why."""

    group_key: str
    stream: str
    seq: int
    kind: BreakKind
    detail: str
    id: str | None = None

    def describe(self) -> str:
        what = f" ({self.id})" if self.id else ""
        return f"{self.group_key} [{self.stream}] seq {self.seq}{what}: {self.kind}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ChainVerifier:
    """Checks one (group, stream) chain a record at a time, so a verifier can stream a
    cursor instead of loading a chain into memory. Stops at the first break."""

    def __init__(self, group_key: str, stream: str) -> None:
        self.group_key = group_key
        self.stream = stream
        self.expected_seq = 0
        self.prev_hash = GENESIS
        self.broken: Break | None = None
        self.count = 0

    def _break(self, seq: int, kind: BreakKind, detail: str, rid: str | None) -> Break:
        self.broken = Break(self.group_key, self.stream, seq, kind, detail, rid)
        return self.broken

    def feed(self, record: dict[str, Any]) -> Break | None:
        if self.broken is not None:
            return self.broken
        seq = record.get("seq")
        rid = record.get("id")
        if not isinstance(seq, int):
            return self._break(self.expected_seq, "altered", f"seq is {seq!r}", rid)
        if seq > self.expected_seq:
            missing = (
                f"seq {self.expected_seq}"
                if seq == self.expected_seq + 1
                else f"seq {self.expected_seq}..{seq - 1}"
            )
            return self._break(self.expected_seq, "deleted", f"{missing} missing", rid)
        if seq < self.expected_seq:
            return self._break(seq, "inserted", f"a second record at seq {seq}", rid)
        if record.get("group_key") != self.group_key or record.get("stream") != self.stream:
            return self._break(seq, "altered", "the record names another group or stream", rid)
        if record_hash(record) != record.get("hash"):
            return self._break(seq, "altered", "content does not match its hash", rid)
        if record.get("prev") != self.prev_hash:
            return self._break(
                seq,
                "relinked",
                "does not follow its predecessor (a record inserted, replaced or reordered)",
                rid,
            )
        self.prev_hash = record["hash"]
        self.expected_seq = seq + 1
        self.count += 1
        return None

    def finish(self, head: dict[str, Any] | None) -> Break | None:
        """Compare the chain's end with its recorded head (seq and hash of the last link)."""
        if self.broken is not None or head is None:
            return self.broken
        head_seq = int(head.get("seq", -1))
        last = self.expected_seq - 1
        if head_seq > last:
            return self._break(
                last + 1,
                "deleted",
                f"the head says seq {head_seq} is the last; seq {last + 1}..{head_seq} missing",
                None,
            )
        if head_seq < last:
            return self._break(
                head_seq + 1, "inserted", f"records after the head (seq {head_seq})", None
            )
        if head.get("hash") != self.prev_hash:
            return self._break(last, "head", "the last record is not the one the head names", None)
        return None


def verify_chain(
    records: Iterable[dict[str, Any]], head: dict[str, Any] | None = None
) -> Break | None:
    """The first break of one (group, stream) chain given its records in seq order.

    The group and stream are read from the first record; an empty chain with a head that
    names records is a deletion of them all.
    """
    verifier: ChainVerifier | None = None
    for record in records:
        if verifier is None:
            verifier = ChainVerifier(str(record.get("group_key")), str(record.get("stream")))
        if verifier.feed(record) is not None:
            return verifier.broken
    if verifier is None:
        if head is not None and int(head.get("seq", -1)) >= 0:
            stream, _, group = str(head.get("_id", ":")).partition(":")
            return Break(
                group, stream, 0, "deleted", f"all {int(head['seq']) + 1} record(s) missing"
            )
        return None
    return verifier.finish(head)
