"""The archive writer's in-memory side: linking, duplicates, and rollback safety."""

from __future__ import annotations

from services.reporting.archive_writer import ArchiveWriter
from shared.chain import verify_chain

GROUP = "onebot:42"


def body(n: int, user: str = "7") -> dict[str, object]:
    return {
        "event_id": f"e{n}",
        "type": "message.posted",
        "occurred_at": f"2026-03-01T10:00:0{n}Z",
        "platform": "onebot",
        "group_id": "42",
        "user_id": user,
        "payload": {"message_id": f"m{n}", "text": "hi"},
    }


def test_appended_records_form_a_verifiable_chain_per_group_and_stream() -> None:
    w = ArchiveWriter()
    for n in range(3):
        w.append("events", GROUP, f"e{n}", 0, n, body(n))
    w.append("events", "onebot:43", "x0", 1, 0, body(9))
    records = w.pending()
    mine = [r for r in records if r["group_key"] == GROUP]
    assert [r["seq"] for r in mine] == [0, 1, 2]
    assert verify_chain(mine) is None
    other = [r for r in records if r["group_key"] == "onebot:43"]
    assert other[0]["seq"] == 0 and other[0]["prev"] == ""


def test_a_duplicate_id_in_a_batch_is_skipped_not_rechained() -> None:
    w = ArchiveWriter()
    w.append("events", GROUP, "e0", 0, 0, body(0))
    assert w.append("events", GROUP, "e0", 0, 5, body(0)) is None
    assert [r["seq"] for r in w.pending()] == [0]


def test_discard_forgets_the_batch_and_the_next_links_onto_the_old_head() -> None:
    w = ArchiveWriter()
    w.heads[("events", GROUP)] = (4, "h4")
    w.append("events", GROUP, "e5", 0, 5, body(5))
    w.discard()
    assert w.pending() == []
    rec = w.append("events", GROUP, "e5", 0, 5, body(5))
    assert rec is not None and rec["seq"] == 5 and rec["prev"] == "h4"


def test_heads_advance_only_on_commit_after_a_write() -> None:
    w = ArchiveWriter()
    w.append("events", GROUP, "e0", 0, 0, body(0))
    w.commit()  # nothing was written: nothing to advance
    assert w.heads == {}


def test_the_stored_document_is_queryable_by_user_and_time() -> None:
    w = ArchiveWriter()
    complaint = {
        **body(1),
        "type": "complaint.filed",
        "payload": {"complaint_id": "c1", "target_user_id": "99", "category": "spam"},
    }
    doc = w.append("events", GROUP, "e1", 0, 1, complaint)
    assert doc is not None
    assert doc["_id"] == f"events:{GROUP}:e1"  # ids are unique within a group only
    assert doc["users"] == ["onebot:7", "onebot:99"]
    assert doc["refs"] == ["complaint:c1"]
    assert doc["at"].isoformat() == "2026-03-01T10:00:01+00:00"
