"""What the archive's storage costs the store: one document per record (format 1) against
one chunk per (stream, group) and batch (format 2).

`python -m tools.archive_bench [--events 20000] [--batch 500] [--partitions 12]`

Starts a SecantusDB (the embedded stack's store), takes the simulated community's events
(tools.simulator), encoded as reporting encodes them (`event_to_dict`), places them on
partitions as Kafka would (an approximation: crc32 of the group key) and archives them
per partition in batches of `--batch`, each batch in its own transaction as the sink
does, twice, into two fresh databases:

- **format 1**: the earlier release's writer, reimplemented minimally here: per-record
  documents with their five secondary indexes, the same duplicate check and head
  compare-and-set;
- **format 2**: `ArchiveWriter`, as reporting runs it.

Both link the same chain records (`shared.chain.link`). Printed: records per second,
the store process's CPU seconds (from /proc/<pid>/stat), this process's CPU seconds, and
the documents the archive holds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.archive_writer import ArchiveWriter
from shared.archive import ARCHIVE, HEADS, index_fields
from shared.chain import GENESIS, head_id, link, record_id
from shared.codec import event_from_dict, event_to_dict
from tools.embedded import EmbeddedStack
from tools.simulator import simulate

START = datetime(2026, 9, 1, tzinfo=UTC)
# (stream, group_key, id, partition, offset, body)
Item = tuple[str, str, str, int, int, dict[str, Any]]


def store_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batches(events: int, batch: int, partitions: int, seed: int) -> list[list[Item]]:
    """The simulated events per partition in offset order, cut into batches."""
    parts: dict[int, list[Item]] = defaultdict(list)
    for raw in simulate(seed, events, START):
        event = event_from_dict(raw)
        p = zlib.crc32(event.group_key.encode()) % partitions
        offset = len(parts[p])
        parts[p].append(
            ("events", event.group_key, event.event_id, p, offset, event_to_dict(event))
        )
    out: list[list[Item]] = []
    for p in sorted(parts):
        items = parts[p]
        out.extend(items[i : i + batch] for i in range(0, len(items), batch))
    return out


class PerRecordWriter:
    """The earlier release's archive writer, minimally: one document per record."""

    def __init__(self) -> None:
        self.heads: dict[tuple[str, str], tuple[int, str]] = {}

    @staticmethod
    async def ensure_indexes(db: AsyncDatabase) -> None:
        coll = db[ARCHIVE]
        await coll.create_index(
            [("group_key", ASCENDING), ("stream", ASCENDING), ("seq", ASCENDING)], unique=True
        )
        await coll.create_index(
            [("stream", ASCENDING), ("partition", ASCENDING), ("offset", ASCENDING)]
        )
        await coll.create_index([("stream", ASCENDING), ("at", ASCENDING)])
        await coll.create_index([("users", ASCENDING), ("at", DESCENDING)])
        await coll.create_index([("refs", ASCENDING)])

    async def write(self, db: AsyncDatabase, session: Any, items: list[Item]) -> dict[Any, Any]:
        """Link, check for records archived before, move the heads, insert; returns the
        heads to keep once the transaction commits."""
        ids = [record_id(s, g, i) for s, g, i, *_ in items]
        existing = {
            d["_id"]
            async for d in db[ARCHIVE].find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
        }
        heads = dict(self.heads)
        docs = []
        for stream, group, id_, partition, offset, body in items:
            if record_id(stream, group, id_) in existing:
                continue
            seq, prev = heads.get((stream, group), (-1, GENESIS))
            record = link(
                prev,
                seq + 1,
                stream=stream,
                group_key=group,
                id=id_,
                partition=partition,
                offset=offset,
                body=body,
            )
            heads[(stream, group)] = (record["seq"], record["hash"])
            docs.append(
                {
                    "_id": record_id(stream, group, id_),
                    **record,
                    **index_fields(stream, group, body),
                }
            )
        for key, (seq, digest) in heads.items():
            if heads[key] == self.heads.get(key):
                continue
            stream, group = key
            new = {"stream": stream, "group_key": group, "seq": seq, "hash": digest}
            old = self.heads.get(key)
            if old is None:
                await db[HEADS].insert_one({"_id": head_id(stream, group), **new}, session=session)
            else:
                result = await db[HEADS].update_one(
                    {"_id": head_id(stream, group), "seq": old[0], "hash": old[1]},
                    {"$set": new},
                    session=session,
                )
                assert result.matched_count == 1
        if docs:
            await db[ARCHIVE].insert_many(docs, ordered=False, session=session)
        return heads


@dataclass(frozen=True, slots=True)
class Run:
    layout: str
    records: int
    seconds: float
    store_cpu: float
    client_cpu: float
    documents: int

    @property
    def per_second(self) -> float:
        return self.records / self.seconds


async def _format1(client: AsyncMongoClient, db: AsyncDatabase, work: list[list[Item]]) -> None:
    writer = PerRecordWriter()
    for items in work:
        async with client.start_session() as session, await session.start_transaction():
            heads = await writer.write(db, session, items)
        writer.heads = heads


async def write_in_transaction(
    client: AsyncMongoClient, db: AsyncDatabase, writer: ArchiveWriter
) -> None:
    """What the reporting sink does with the batch appended to `writer`: write it in one
    transaction, then commit it (or discard it, whatever stopped the write)."""
    try:
        async with client.start_session() as session, await session.start_transaction():
            await writer.write(db, session)
    except BaseException:
        writer.discard()
        raise
    writer.commit()


async def _format2(client: AsyncMongoClient, db: AsyncDatabase, work: list[list[Item]]) -> None:
    writer = ArchiveWriter()
    await writer.load_heads(db)
    for items in work:
        for item in items:
            writer.append(*item)
        await write_in_transaction(client, db, writer)


async def measure(url: str, pid: int, layout: str, work: list[list[Item]]) -> Run:
    client: AsyncMongoClient = AsyncMongoClient(url)
    try:
        db = client[f"archive_bench_{layout}"]
        await client.drop_database(db.name)
        if layout == "format1":
            await PerRecordWriter.ensure_indexes(db)
        else:
            await ArchiveWriter.ensure_indexes(db)
        store0, client0, wall0 = store_cpu_seconds(pid), time.process_time(), time.perf_counter()
        await (_format1 if layout == "format1" else _format2)(client, db, work)
        wall = time.perf_counter() - wall0
        store = store_cpu_seconds(pid) - store0
        mine = time.process_time() - client0
        documents = await db[ARCHIVE].count_documents({})
        await client.drop_database(db.name)
    finally:
        await client.close()
    return Run(layout, sum(map(len, work)), wall, store, mine, documents)


def table(runs: list[Run]) -> Iterator[str]:
    yield "| layout | records | records/s | store CPU s | store CPU ms/record | client CPU s | documents |"
    yield "|---|---:|---:|---:|---:|---:|---:|"
    for r in runs:
        yield (
            f"| {r.layout} | {r.records} | {r.per_second:,.0f} | {r.store_cpu:.2f} | "
            f"{r.store_cpu / r.records * 1000:.3f} | {r.client_cpu:.2f} | {r.documents} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    work = batches(args.events, args.batch, args.partitions, args.seed)
    groups = {(item[3], item[1]) for items in work for item in items}
    print(
        f"{args.events} records of {len(groups)} groups on {args.partitions} partitions, "
        f"{len(work)} batches of up to {args.batch} (one transaction each)"
    )
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp))
        stack.start_mongo()
        try:
            pid = stack.procs["mongo"].pid
            runs = [
                asyncio.run(measure(stack.mongo_url, pid, layout, work))
                for layout in (
                    "format1",
                    "format2",
                )
            ]
        finally:
            stack.stop()
    for line in table(runs):
        print(line)
    old, new = runs
    print(
        f"format 2: {new.per_second / old.per_second:.1f}x the records/s, "
        f"{old.store_cpu / max(new.store_cpu, 1e-9):.1f}x less store CPU"
    )


if __name__ == "__main__":
    main()
