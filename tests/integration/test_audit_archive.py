"""The archive in a real MongoDB-protocol store: written in transactions like the sink does
(one chunk per stream, group and batch), verified, tampered with (verify names group and
position), read as a user's trail, replayed when the topics no longer hold the history,
and migrated from the earlier one-document-per-record format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.audit.migrate import migrate_archive
from services.audit.verify import verify_archive, verify_report
from services.moderation.engine import Engine, PartitionState
from services.moderation.replay import _archive_counts, replay
from services.reporting.archive_writer import ArchiveConflict, ArchiveWriter
from services.reporting.history import user_history
from shared.archive import (
    ARCHIVE,
    HEADS,
    LEGACY,
    ArchiveFormatError,
    chunk_records,
    decision_body,
    index_fields,
)
from shared.chain import record_id
from shared.codec import event_from_dict, event_to_dict
from shared.events import Decision, Event
from shared.mongo import database, make_mongo
from shared.rules import default_ruleset
from shared.settings import Settings
from tests.support.events import raw_event
from tools.archive_bench import write_in_transaction

pytestmark = pytest.mark.integration

G1 = "telegram:-100900"
G2 = "onebot:31337"


def event(eid: str, group: str, etype: str, user: str, at: str, **payload: Any) -> Event:
    return event_from_dict(raw_event(eid, etype, group, user, at, payload))


def msg(eid: str, group: str, user: str, at: str, text: str) -> Event:
    return event(eid, group, "message.posted", user, at, message_id=f"m-{eid}", text=text)


def history() -> list[tuple[int, Event]]:
    """(partition, event): G1 on partition 0, G2 on partition 1."""
    g1 = [
        event(
            "r1",
            G1,
            "ruleset.updated",
            "admin",
            "2026-05-01T00:00:00Z",
            version=4,
            rules={"language": "en", "timezone": "UTC"},
        ),
        msg("a1", G1, "alice", "2026-05-02T10:00:00Z", "hello all"),
        msg("a2", G1, "alice", "2026-05-02T10:05:00Z", "you retard"),
        event(
            "c1",
            G1,
            "complaint.filed",
            "bob",
            "2026-05-02T10:06:00Z",
            complaint_id="cp1",
            target_user_id="alice",
            category="abuse",
            reason="insult",
        ),
        event(
            "s1",
            G1,
            "sanction.applied",
            "mod",
            "2026-05-02T11:00:00Z",
            sanction_id="sx1",
            target_user_id="alice",
            action="mute",
            duration_s=600,
            reason="cool down",
            by_role="operator",
        ),
        event(
            "s1r",
            G1,
            "sanction.revoked",
            "mod",
            "2026-05-02T12:00:00Z",
            sanction_id="sx1",
            reason="appeal accepted",
        ),
        event(
            "c1r",
            G1,
            "complaint.resolved",
            "mod",
            "2026-05-02T12:30:00Z",
            complaint_id="cp1",
            outcome="upheld",
            note="handled",
        ),
        msg("a3", G1, "alice", "2026-05-03T10:00:00Z", "asshole"),
    ]
    g2 = [
        msg("b1", G2, "alice", "2026-05-02T09:00:00Z", "博彩 网赚 刷单"),
        msg("b2", G2, "zed", "2026-05-02T09:01:00Z", "nice weather"),
        msg("b3", G2, "zed", "2026-05-02T09:02:00Z", "代开发票"),
    ]
    return [(0, e) for e in g1] + [(1, e) for e in g2]


def live_decisions(events: list[tuple[int, Event]]) -> list[tuple[int, Decision]]:
    engine = Engine(default_ruleset())
    states: dict[int, PartitionState] = {}
    out = []
    for partition, e in events:
        for d in engine.apply(states.setdefault(partition, PartitionState()), e):
            out.append((partition, d))
    return out


async def write_batch(
    client: Any, db: Any, writer: ArchiveWriter, items: list[tuple[str, int, int, Any]]
) -> None:
    """What the reporting sink does per batch: append, write in its transaction, commit."""
    for stream, partition, offset, item in items:
        if stream == "events":
            writer.append(
                "events", item.group_key, item.event_id, partition, offset, event_to_dict(item)
            )
        else:
            writer.append(
                "decisions",
                item.group_key,
                item.decision_id,
                partition,
                offset,
                decision_body(item),
            )
    await write_in_transaction(client, db, writer)


@pytest.fixture()
async def store(settings: Settings) -> AsyncIterator[tuple[Settings, Any, Any]]:
    client = make_mongo(settings)
    try:
        db = database(client, settings)
        await ArchiveWriter.ensure_indexes(db)
        yield settings, client, db
    finally:
        await client.close()


async def archive_all(client: Any, db: Any) -> list[tuple[int, Decision]]:
    events = history()
    decisions = live_decisions(events)
    writer = ArchiveWriter()
    await writer.load_heads(db)
    items: list[tuple[str, int, int, Any]] = [
        ("events", p, i, e) for i, (p, e) in enumerate(events)
    ]
    items += [("decisions", p, i, d) for i, (p, d) in enumerate(decisions)]
    half = len(items) // 2
    await write_batch(client, db, writer, items[:half])
    # the next batch repeats two records (a redelivered event, a re-emitted decision)
    await write_batch(client, db, writer, [items[0], items[-1], *items[half:]])

    # an aborted transaction leaves nothing behind, and the writer links on the old heads
    class Boom(Exception):
        pass

    extra = msg("late", G1, "carol", "2026-05-04T10:00:00Z", "late message")
    with pytest.raises(Boom):
        writer.append("events", G1, "late", 0, 99, event_to_dict(extra))
        async with client.start_session() as session, await session.start_transaction():
            await writer.write(db, session)
            raise Boom
    writer.discard()
    assert await db[ARCHIVE].count_documents({"ids": record_id("events", G1, "late")}) == 0
    await write_batch(client, db, writer, [("events", 0, 99, extra)])
    return decisions


async def stored(db: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    """The chain records of the chunks matching `query`."""
    return [r async for doc in db[ARCHIVE].find(query) for r in chunk_records(doc)]


async def chunk_holding(db: Any, group: str, stream: str, seq: int) -> tuple[dict[str, Any], int]:
    """The chunk holding a chain's record `seq`, and the record's index in it."""
    doc = await db[ARCHIVE].find_one(
        {"group_key": group, "stream": stream, "seq_lo": {"$lte": seq}, "seq_hi": {"$gte": seq}}
    )
    assert doc is not None
    [index] = [i for i, r in enumerate(doc["records"]) if r["seq"] == seq]
    return doc, index


async def test_an_archive_written_batch_by_batch_verifies_intact(store: Any) -> None:
    _, client, db = store
    decisions = await archive_all(client, db)
    assert await verify_archive(db) == []
    g1_events = await stored(db, {"group_key": G1, "stream": "events"})
    assert sorted(d["seq"] for d in g1_events) == list(range(len(g1_events)))
    assert len(await stored(db, {"stream": "decisions"})) == len(decisions)
    # a redelivered event and a re-emitted decision were archived once
    ids = [i async for doc in db[ARCHIVE].find({}) for i in doc["ids"]]
    assert len(ids) == len(set(ids)) == len(history()) + len(decisions) + 1


async def test_a_batch_of_n_records_of_g_groups_is_g_documents_per_stream(store: Any) -> None:
    _, client, db = store
    groups = [f"discord:{g}" for g in range(5)]
    events = [
        msg(f"n{n}", groups[n % len(groups)], f"u{n % 9}", f"2026-05-02T10:{n // 60:02}:00Z", "hi")
        for n in range(300)
    ]
    decisions = live_decisions([(0, e) for e in events])
    writer = ArchiveWriter()
    await writer.load_heads(db)
    items: list[tuple[str, int, int, Any]] = [("events", 0, i, e) for i, e in enumerate(events)]
    items += [("decisions", 1, i, d) for i, (_, d) in enumerate(decisions)]
    await write_batch(client, db, writer, items)

    assert await db[ARCHIVE].count_documents({"stream": "events"}) == len(groups)
    assert await db[ARCHIVE].count_documents({"stream": "decisions"}) == len(
        {d.group_key for _, d in decisions}
    )
    assert len(await stored(db, {"stream": "events"})) == 300
    assert await verify_archive(db) == []


async def test_verify_names_the_group_and_position_of_an_altered_and_a_deleted_record(
    store: Any,
) -> None:
    _, client, db = store
    await archive_all(client, db)
    # rewrite what alice said (G1 events seq 2) and drop a decision of G2 (seq 1)
    chunk, i = await chunk_holding(db, G1, "events", 2)
    altered = await db[ARCHIVE].update_one(
        {"_id": chunk["_id"]}, {"$set": {f"records.{i}.body.payload.text": "a friendly message"}}
    )
    assert altered.modified_count == 1
    chunk, _ = await chunk_holding(db, G2, "decisions", 1)
    deleted = await db[ARCHIVE].update_one(
        {"_id": chunk["_id"]}, {"$pull": {"records": {"seq": 1}}}
    )
    assert deleted.modified_count == 1

    breaks = await verify_archive(db)

    assert [(b.group_key, b.stream, b.seq, b.kind) for b in breaks] == [
        (G2, "decisions", 1, "deleted"),  # sorted by group key: onebot before telegram
        (G1, "events", 2, "altered"),
    ]
    assert [b.id for b in breaks if b.kind == "altered"] == ["a2"]
    only_g1 = await verify_archive(db, G1)
    assert [(b.group_key, b.seq, b.kind) for b in only_g1] == [(G1, 2, "altered")]


async def test_verify_names_a_deleted_chunk_an_inserted_and_a_reordered_record(
    store: Any,
) -> None:
    _, client, db = store
    writer = ArchiveWriter()
    await writer.load_heads(db)
    for batch in range(3):  # three chunks per chain: seq 0-3, 4-7, 8-11
        items: list[tuple[str, int, int, Any]] = []
        for n in range(4 * batch, 4 * batch + 4):
            for group in (G1, G2):
                at = f"2026-05-02T10:{n:02}:00Z"
                items.append(("events", 0, len(items), msg(f"k{n}", group, "u", at, f"m{n}")))
        await write_batch(client, db, writer, items)
    assert await db[ARCHIVE].count_documents({}) == 6

    # G1: the middle chunk removed whole; G2: seq 5 and 6 swapped inside their chunk
    gone = await db[ARCHIVE].delete_one({"group_key": G1, "stream": "events", "seq_lo": 4})
    assert gone.deleted_count == 1
    chunk, i = await chunk_holding(db, G2, "events", 5)
    records = chunk["records"]
    records[i], records[i + 1] = records[i + 1], records[i]
    await db[ARCHIVE].update_one({"_id": chunk["_id"]}, {"$set": {"records": records}})

    breaks = await verify_archive(db)
    assert [(b.group_key, b.stream, b.seq, b.kind) for b in breaks] == [
        (G2, "events", 5, "altered"),
        (G1, "events", 4, "deleted"),
    ]
    assert breaks[0].id == "k5" and "out of order" in breaks[0].detail
    assert "seq 4..7 missing" in breaks[1].detail

    # G2 restored; then a copy of its seq 2 slipped in after seq 3
    records[i], records[i + 1] = records[i + 1], records[i]
    await db[ARCHIVE].update_one({"_id": chunk["_id"]}, {"$set": {"records": records}})
    first, _ = await chunk_holding(db, G2, "events", 2)
    await db[ARCHIVE].update_one({"_id": first["_id"]}, {"$push": {"records": first["records"][2]}})
    [found] = await verify_archive(db, G2)
    assert (found.group_key, found.seq, found.kind) == (G2, 2, "inserted")


async def test_the_user_trail_lists_flagged_messages_decisions_sanctions_and_complaints(
    store: Any,
) -> None:
    _, client, db = store
    await archive_all(client, db)

    trail = await user_history(db, "telegram:alice", None)

    assert [m["text"] for m in trail["flagged_messages"]] == ["you retard", "asshole"]
    assert {d["ruleset_version"] for d in trail["decisions"]} == {4}
    assert {d["action"] for d in trail["decisions"]} >= {"remove_message", "warn"}
    [sanction] = trail["sanctions"]
    assert (sanction["action"], sanction["role"]) == ("mute", "about")
    assert sanction["revoked"]["reason"] == "appeal accepted"
    [complaint] = trail["complaints"]
    assert (complaint["role"], complaint["reporter"]) == ("about", "telegram:bob")
    assert complaint["resolution"]["outcome"] == "upheld"
    times = [row["at"] for row in trail["timeline"]]
    assert times == sorted(times)
    # the same person on another platform is another user key
    assert (await user_history(db, "onebot:alice", None))["flagged_messages"][0]["text"] == (
        "博彩 网赚 刷单"
    )
    # an operator scoped to another group sees nothing of G1
    scoped = await user_history(db, "telegram:alice", {G2})
    assert scoped["decisions"] == [] and scoped["complaints"] == [] and scoped["sanctions"] == []
    bob = await user_history(db, "telegram:bob", None)
    assert [(c["role"], c["target"]) for c in bob["complaints"]] == [("by", "telegram:alice")]


async def test_replay_reads_the_archive_when_the_topics_do_not_hold_the_history(
    store: Any,
) -> None:
    settings, client, db = store
    decisions = await archive_all(client, db)
    # no topics exist for these settings: the history survives in the archive only
    result = await replay(
        settings,
        datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
        engine=Engine(default_ruleset()),
    )
    assert (result.events_source, result.decisions_source) == ("archive", "archive")
    assert result.reproduction.recorded == len(decisions)
    assert result.reproduced_pct == 100.0
    # what "auto" compares with the topics' lengths: records (not chunks) per partition
    assert await _archive_counts(db, "events") == {0: 9, 1: 3}  # G1 with "late", G2


async def test_a_writer_with_stale_heads_cannot_fork_a_chain(store: Any) -> None:
    _, client, db = store
    first, second = ArchiveWriter(), ArchiveWriter()
    await first.load_heads(db)
    await second.load_heads(db)
    await write_batch(
        client, db, first, [("events", 0, 0, msg("x1", G1, "u", "2026-05-01T00:00:00Z", "a"))]
    )
    # `second` still believes the chain is empty (it lost the partition meanwhile)
    with pytest.raises(ArchiveConflict):
        await write_batch(
            client, db, second, [("events", 0, 1, msg("x2", G1, "u", "2026-05-01T00:01:00Z", "b"))]
        )
    assert await db[ARCHIVE].count_documents({"ids": record_id("events", G1, "x2")}) == 0
    # after reloading its heads it links on correctly
    await second.load_heads(db)
    await write_batch(
        client, db, second, [("events", 0, 1, msg("x2", G1, "u", "2026-05-01T00:01:00Z", "b"))]
    )
    assert await verify_archive(db) == []


async def test_in_the_trail_a_message_reads_before_the_decisions_it_caused(store: Any) -> None:
    _, client, db = store
    await archive_all(client, db)
    trail = await user_history(db, "telegram:alice", None)
    at_a2 = [r["kind"] for r in trail["timeline"] if r["at"] == "2026-05-02T10:05:00Z"]
    assert at_a2 == ["message", "decision", "decision"]


async def format1_copy(source: Any, target: Any) -> int:
    """What the earlier release stored for the same records: one document per record with
    its query fields, the five per-record indexes, the same heads, no format marker."""
    docs = []
    async for chunk in source[ARCHIVE].find({}):
        for r in chunk["records"]:
            docs.append(
                {
                    "_id": record_id(r["stream"], r["group_key"], r["id"]),
                    **r,
                    **index_fields(r["stream"], r["group_key"], r["body"]),
                }
            )
    old = target[ARCHIVE]
    await old.create_index([("group_key", 1), ("stream", 1), ("seq", 1)], unique=True)
    await old.create_index([("stream", 1), ("partition", 1), ("offset", 1)])
    await old.create_index([("stream", 1), ("at", 1)])
    await old.create_index([("users", 1), ("at", -1)])
    await old.create_index([("refs", 1)])
    await old.insert_many(docs)
    await target[HEADS].insert_many([h async for h in source[HEADS].find({})])
    return len(docs)


async def test_an_archive_of_the_earlier_format_is_migrated_into_chunks_chain_intact(
    store: Any,
) -> None:
    settings, client, db = store
    await archive_all(client, db)
    old = client[f"{settings.mongo_db}_v1"]
    try:
        n = await format1_copy(db, old)
        # this release refuses to write to it, or to verify it, until it is migrated
        with pytest.raises(ArchiveFormatError, match="audit migrate"):
            await ArchiveWriter.ensure_indexes(old)
        with pytest.raises(ArchiveFormatError):
            await verify_archive(old)

        done = await migrate_archive(old, max_records=3)

        assert (done.records, done.kept_in) == (n, LEGACY)
        assert await old[LEGACY].count_documents({}) == n  # the originals, kept
        report = await verify_report(old)
        assert report.ok and report.records == n and report.chunks == done.chunks
        migrated = sorted(
            (await stored(old, {})), key=lambda r: (r["group_key"], r["stream"], r["seq"])
        )
        written = sorted(
            (await stored(db, {})), key=lambda r: (r["group_key"], r["stream"], r["seq"])
        )
        assert migrated == written  # byte for byte the same chain records
        for user in ("telegram:alice", "telegram:bob", "onebot:alice"):
            assert await user_history(old, user, None) == await user_history(db, user, None)
        # the reporting writer now accepts it and links on
        await ArchiveWriter.ensure_indexes(old)
        writer = ArchiveWriter()
        await writer.load_heads(old)
        late = msg("after", G1, "carol", "2026-05-05T10:00:00Z", "after the migration")
        await write_batch(client, old, writer, [("events", 0, 100, late)])
        assert await verify_archive(old) == []
        assert (await migrate_archive(old)).already
        # interrupted after the swap, before the marker: a rerun only completes it
        await old["archive_meta"].delete_many({})
        again = await migrate_archive(old)
        assert (again.records, again.kept_in) == (0, LEGACY)
        assert await verify_archive(old) == []
    finally:
        await client.drop_database(old.name)
