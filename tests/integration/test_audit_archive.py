"""The archive in a real MongoDB-protocol store: written in transactions like the sink does,
verified, tampered with (verify names group and position), read as a user's trail, and
replayed when the topics no longer hold the history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.audit.verify import verify_archive
from services.moderation.engine import Engine, PartitionState
from services.moderation.replay import replay
from services.reporting.archive_writer import ArchiveConflict, ArchiveWriter
from services.reporting.history import user_history
from shared.archive import ARCHIVE, decision_body
from shared.chain import record_id
from shared.codec import event_from_dict, event_to_dict
from shared.events import Decision, Event
from shared.mongo import database, make_mongo
from shared.rules import default_ruleset
from shared.settings import Settings

pytestmark = pytest.mark.integration

G1 = "telegram:-100900"
G2 = "onebot:31337"


def event(eid: str, group: str, etype: str, user: str, at: str, **payload: Any) -> Event:
    platform, _, group_id = group.partition(":")
    return event_from_dict(
        {
            "event_id": eid,
            "type": etype,
            "schema_version": 2 if etype == "message.posted" else 1,
            "occurred_at": at,
            "platform": platform,
            "group_id": group_id,
            "user_id": user,
            "payload": payload,
        }
    )


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
    try:
        async with client.start_session() as session, await session.start_transaction():
            await writer.write(db, session)
    except BaseException:
        writer.discard()
        raise
    writer.commit()


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
    assert await db[ARCHIVE].count_documents({"_id": record_id("events", G1, "late")}) == 0
    await write_batch(client, db, writer, [("events", 0, 99, extra)])
    return decisions


async def test_an_archive_written_batch_by_batch_verifies_intact(store: Any) -> None:
    _, client, db = store
    decisions = await archive_all(client, db)
    assert await verify_archive(db) == []
    g1_events = [d async for d in db[ARCHIVE].find({"group_key": G1, "stream": "events"})]
    assert sorted(d["seq"] for d in g1_events) == list(range(len(g1_events)))
    assert await db[ARCHIVE].count_documents({"stream": "decisions"}) == len(decisions)


async def test_verify_names_the_group_and_position_of_an_altered_and_a_deleted_record(
    store: Any,
) -> None:
    _, client, db = store
    await archive_all(client, db)
    # rewrite what alice said (G1 events seq 2) and drop a decision of G2 (seq 1)
    altered = await db[ARCHIVE].update_one(
        {"group_key": G1, "stream": "events", "seq": 2},
        {"$set": {"body.payload.text": "a friendly message"}},
    )
    assert altered.modified_count == 1
    deleted = await db[ARCHIVE].delete_one({"group_key": G2, "stream": "decisions", "seq": 1})
    assert deleted.deleted_count == 1

    breaks = await verify_archive(db)

    assert [(b.group_key, b.stream, b.seq, b.kind) for b in breaks] == [
        (G2, "decisions", 1, "deleted"),  # sorted by group key: onebot before telegram
        (G1, "events", 2, "altered"),
    ]
    assert [b.id for b in breaks if b.kind == "altered"] == ["a2"]
    only_g1 = await verify_archive(db, G1)
    assert [(b.group_key, b.seq, b.kind) for b in only_g1] == [(G1, 2, "altered")]


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
    assert await db[ARCHIVE].count_documents({"_id": record_id("events", G1, "x2")}) == 0
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
