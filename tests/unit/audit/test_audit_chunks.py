"""Reading chunks back: a partition's records in offset order although the chunks of its
groups interleave, and the query fields a chunk carries for the records it holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from shared.archive import chunk_document, chunk_records, records_in_offset_order
from shared.chain import GENESIS, link


def chain(group: str, offsets: list[int], stream: str = "events") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    prev = GENESIS
    for seq, offset in enumerate(offsets):
        body = {"event_id": f"{group}-{seq}", "occurred_at": "2026-03-01T10:00:00Z"}
        rec = link(
            prev,
            seq,
            stream=stream,
            group_key=group,
            id=f"{group}-{seq}",
            partition=0,
            offset=offset,
            body=body,
        )
        out.append(rec)
        prev = rec["hash"]
    return out


async def _aiter(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item


def merged(chunks: list[dict[str, Any]]) -> list[int]:
    ordered = sorted(chunks, key=lambda c: c["offset_lo"])

    async def collect() -> list[int]:
        return [r["offset"] async for r in records_in_offset_order(_aiter(ordered))]

    return asyncio.run(collect())


def test_interleaved_chunks_of_one_partition_read_in_offset_order() -> None:
    a = chain("onebot:1", [0, 2, 3, 7, 8, 9])
    b = chain("onebot:2", [1, 4, 5, 6, 10])
    # two batches: offsets 0..5 and 6..10
    chunks = [
        chunk_document(a[:3]),
        chunk_document(b[:3]),
        chunk_document(a[3:]),
        chunk_document(b[3:]),
    ]
    assert merged(chunks) == list(range(11))


def test_a_chunk_stores_its_records_untouched_and_covers_them_with_query_fields() -> None:
    records = chain("telegram:-5", [10, 11, 12], stream="decisions")
    doc = chunk_document(records)
    assert chunk_records(doc) == records
    assert (doc["seq_lo"], doc["seq_hi"], doc["offset_lo"], doc["offset_hi"]) == (0, 2, 10, 12)
    assert doc["types"] == ["decision"] and doc["v"] == 2
    assert chunk_records({**doc, "records": "gone"}) == []
    assert chunk_records({**doc, "records": [records[0], 5]})[1] == {}
