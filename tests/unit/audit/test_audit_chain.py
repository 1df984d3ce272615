"""The hash chain: an intact chain verifies; each kind of tampering is named with its place."""

from __future__ import annotations

import copy
from typing import Any

from shared.chain import GENESIS, link, record_hash, verify_chain

GROUP = "telegram:-100500"


def chain(n: int, stream: str = "events") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    prev = GENESIS
    for seq in range(n):
        body = {
            "event_id": f"e{seq}",
            "type": "message.posted",
            "payload": {"text": f"hello {seq}"},
        }
        rec = link(
            prev,
            seq,
            stream=stream,
            group_key=GROUP,
            id=f"e{seq}",
            partition=3,
            offset=10 + seq,
            body=body,
        )
        out.append(rec)
        prev = rec["hash"]
    return out


def head_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"_id": f"events:{GROUP}", "seq": records[-1]["seq"], "hash": records[-1]["hash"]}


def test_an_intact_chain_verifies() -> None:
    records = chain(5)
    assert verify_chain(records, head_of(records)) is None


def test_the_hash_does_not_depend_on_key_order() -> None:
    rec = chain(1)[0]
    reordered = dict(reversed(list(rec.items())))
    reordered["body"] = dict(reversed(list(rec["body"].items())))
    assert record_hash(reordered) == rec["hash"]


def test_an_altered_body_is_named_with_group_and_position() -> None:
    records = chain(5)
    head = head_of(records)
    records[2]["body"]["payload"]["text"] = "something else"
    found = verify_chain(records, head)
    assert found is not None
    assert (found.group_key, found.stream, found.seq, found.kind) == (GROUP, "events", 2, "altered")
    assert found.id == "e2"


def test_a_deleted_record_is_a_gap_at_its_position() -> None:
    records = chain(5)
    head = head_of(records)
    del records[3]
    found = verify_chain(records, head)
    assert found is not None
    assert (found.seq, found.kind) == (3, "deleted")
    assert "seq 3 missing" in found.detail


def test_a_deleted_tail_is_caught_by_the_head() -> None:
    records = chain(5)
    head = head_of(records)
    found = verify_chain(records[:3], head)
    assert found is not None
    assert (found.seq, found.kind) == (3, "deleted")


def test_reordered_records_are_detected() -> None:
    records = chain(5)
    head = head_of(records)
    # swap two records' places, renumbering them so the seq run stays unbroken
    a, b = copy.deepcopy(records[1]), copy.deepcopy(records[2])
    a["seq"], b["seq"] = 2, 1
    found = verify_chain([records[0], b, a, *records[3:]], head)
    assert found is not None
    assert found.seq == 1
    assert found.kind == "altered"


def test_a_forged_record_with_a_valid_hash_breaks_the_link() -> None:
    """Someone rewrites record 2 and recomputes its hash: its successor no longer follows."""
    records = chain(5)
    head = head_of(records)
    forged = link(
        records[1]["hash"],
        2,
        stream="events",
        group_key=GROUP,
        id="e2",
        partition=3,
        offset=12,
        body={"event_id": "e2", "type": "message.posted", "payload": {"text": "forged"}},
    )
    records[2] = forged
    found = verify_chain(records, head)
    assert found is not None
    assert (found.seq, found.kind) == (3, "relinked")


def test_a_record_appended_behind_the_head_is_reported() -> None:
    records = chain(4)
    head = head_of(records[:3])
    found = verify_chain(records, head)
    assert found is not None
    assert (found.seq, found.kind) == (3, "inserted")


def test_a_chain_emptied_entirely_is_reported_from_its_head() -> None:
    records = chain(2)
    found = verify_chain([], head_of(records))
    assert found is not None
    assert (found.group_key, found.stream, found.kind) == (GROUP, "events", "deleted")
