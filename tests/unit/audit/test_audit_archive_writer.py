"""The archive writer's in-memory side: linking, duplicates, rollback safety, and the
chunks it stores (one per stream and group of a batch, holding the records untouched)."""

from __future__ import annotations

from services.reporting.archive_writer import ArchiveWriter
from shared.archive import chunk_records
from shared.chain import link, verify_chain

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
    records = w.pending_records()
    mine = [r for r in records if r["group_key"] == GROUP]
    assert [r["seq"] for r in mine] == [0, 1, 2]
    assert verify_chain(mine) is None
    other = [r for r in records if r["group_key"] == "onebot:43"]
    assert other[0]["seq"] == 0 and other[0]["prev"] == ""


def test_a_duplicate_id_in_a_batch_is_skipped_not_rechained() -> None:
    w = ArchiveWriter()
    w.append("events", GROUP, "e0", 0, 0, body(0))
    assert w.append("events", GROUP, "e0", 0, 5, body(0)) is None
    assert [r["seq"] for r in w.pending_records()] == [0]
    [chunk] = w.pending()
    assert chunk["ids"] == [f"events:{GROUP}:e0"]


def test_discard_forgets_the_batch_and_the_next_links_onto_the_old_head() -> None:
    w = ArchiveWriter()
    w.heads[("events", GROUP)] = (4, "h4")
    w.append("events", GROUP, "e5", 0, 5, body(5))
    w.discard()
    assert w.pending() == [] and w.pending_records() == []
    rec = w.append("events", GROUP, "e5", 0, 5, body(5))
    assert rec is not None and rec["seq"] == 5 and rec["prev"] == "h4"


def test_heads_advance_only_on_commit_after_a_write() -> None:
    w = ArchiveWriter()
    w.append("events", GROUP, "e0", 0, 0, body(0))
    w.commit()  # nothing was written: nothing to advance
    assert w.heads == {}


def test_the_stored_chunk_is_queryable_by_user_and_time() -> None:
    w = ArchiveWriter()
    complaint = {
        **body(1),
        "type": "complaint.filed",
        "payload": {"complaint_id": "c1", "target_user_id": "99", "category": "spam"},
    }
    rec = w.append("events", GROUP, "e1", 0, 1, complaint)
    assert rec is not None
    [doc] = w.pending()
    assert doc["ids"] == [f"events:{GROUP}:e1"]  # ids are unique within a group only
    assert doc["users"] == ["onebot:7", "onebot:99"]
    assert doc["refs"] == ["complaint:c1"]
    assert doc["types"] == ["complaint.filed"]
    assert doc["at_lo"].isoformat() == doc["at_hi"].isoformat() == "2026-03-01T10:00:01+00:00"


def test_a_batch_of_n_records_of_g_groups_is_g_chunks_per_stream() -> None:
    w = ArchiveWriter()
    groups = [f"onebot:{g}" for g in range(4)]
    for n in range(200):  # interleaved, as a partition's batch is
        group = groups[n % 4]
        w.append("events", group, f"e{n}", 0, n, body(n % 10, user=str(n % 7)))
        if n % 5 == 0:
            decision = {"decision_id": f"d{n}", "decided_at": "2026-03-01T10:00:00Z"}
            w.append("decisions", group, f"d{n}", 2, n, decision)
    chunks = w.pending()
    assert sorted((c["stream"], c["group_key"]) for c in chunks) == sorted(
        [("events", g) for g in groups] + [("decisions", g) for g in groups]
    )
    assert sum(len(c["records"]) for c in chunks) == len(w.pending_records()) == 240
    for chunk in chunks:
        records = chunk_records(chunk)
        assert verify_chain(records) is None
        assert (chunk["seq_lo"], chunk["seq_hi"]) == (0, len(records) - 1)
        assert chunk["offset_lo"] == min(r["offset"] for r in records)
        assert chunk["offset_hi"] == max(r["offset"] for r in records)
        assert chunk["ids"] == [
            f"{chunk['stream']}:{chunk['group_key']}:{r['id']}" for r in records
        ]


def test_chunk_records_are_exactly_the_chain_records_link_makes() -> None:
    w = ArchiveWriter()
    w.heads[("events", GROUP)] = (6, "h6")
    rec = w.append("events", GROUP, "e7", 3, 70, body(7))
    [chunk] = w.pending()
    expected = link(
        "h6", 7, stream="events", group_key=GROUP, id="e7", partition=3, offset=70, body=body(7)
    )
    assert chunk["records"] == [expected] == [rec]
    assert chunk["_id"] == f"events:{GROUP}@7" and chunk["partition"] == 3


def test_a_chunk_is_cut_at_the_record_limit_and_on_a_partition_change() -> None:
    w = ArchiveWriter(max_records=3)
    for n in range(7):
        w.append("events", GROUP, f"e{n}", 0 if n < 5 else 1, n, body(n))
    assert [(c["seq_lo"], c["seq_hi"], c["partition"]) for c in w.pending()] == [
        (0, 2, 0),
        (3, 4, 0),
        (5, 6, 1),
    ]


def test_a_decision_and_its_enforcement_record_share_a_ref() -> None:
    """An auditor finds what was done about a decision by the decision's ref."""
    from shared.archive import index_fields

    decision = index_fields("decisions", "discord:1", {"decision_id": "d-7", "target_user_id": "9"})
    record = index_fields(
        "events",
        "discord:1",
        {"type": "enforcement.recorded", "user_id": "9", "payload": {"decision_id": "d-7"}},
    )
    assert "decision:d-7" in decision["refs"] and "decision:d-7" in record["refs"]
