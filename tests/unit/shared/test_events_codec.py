from __future__ import annotations

import json
from typing import Any

import pytest

from shared.codec import (
    CURRENT_VERSIONS,
    RecordRejected,
    decode_event,
    encode_event,
    event_from_dict,
)
from shared.events import EVENT_TYPES, MessagePostedEvent

BASE = {
    "event_id": "ev-1",
    "schema_version": 1,
    "occurred_at": "2026-01-02T03:04:05+08:00",
    "platform": "telegram",
    "group_id": "-1001",
    "user_id": "42",
}

PAYLOADS: dict[str, dict[str, Any]] = {
    "message.posted": {"message_id": "m1", "text": "hi", "mentions": ["7"], "attachments": []},
    "member.joined": {"invited_by": "7"},
    "member.left": {"kicked_by": "7"},
    "complaint.filed": {
        "complaint_id": "c1",
        "target_user_id": "9",
        "category": "spam",
        "reason": "ads",
    },
    "complaint.resolved": {"complaint_id": "c1", "outcome": "upheld", "note": "removed"},
    "sanction.applied": {
        "sanction_id": "s1",
        "target_user_id": "9",
        "action": "mute",
        "duration_s": 600,
        "reason": "flood",
        "by_role": "operator",
    },
    "sanction.revoked": {"sanction_id": "s1", "reason": "appeal upheld"},
    "ruleset.updated": {"version": 2, "rules": {"language": "en"}},
    "enforcement.recorded": {
        "decision_id": "d-1",
        "action": "mute",
        "outcome": "executed",
        "platform_call": "POST /restrictChatMember",
        "attempts": 1,
        "calls": [{"step": "mute", "call": "POST /restrictChatMember", "result": "done"}],
    },
}


@pytest.mark.parametrize("etype", sorted(EVENT_TYPES))
def test_every_type_round_trips_through_the_one_codec(etype: str) -> None:
    event = event_from_dict({**BASE, "type": etype, "payload": PAYLOADS[etype]})
    assert type(event) is EVENT_TYPES[etype]
    assert event.group_key == "telegram:-1001"
    assert event.occurred_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert event.occurred_at.hour == 19  # 03:04 at +08:00 is 19:04 UTC the day before
    again = decode_event(encode_event(event))
    assert again == event
    assert again.schema_version == CURRENT_VERSIONS[etype]


def test_v1_message_attachments_are_upcast_to_v2_objects() -> None:
    raw = {
        **BASE,
        "type": "message.posted",
        "payload": {
            "message_id": "m1",
            "text": "look",
            "attachments": ["https://x.test/cat.JPG?s=1", "https://x.test/a.pdf"],
        },
    }
    event = event_from_dict(raw)
    assert isinstance(event, MessagePostedEvent)
    assert event.schema_version == 2
    assert [(a.kind, a.url) for a in event.payload.attachments] == [
        ("image", "https://x.test/cat.JPG?s=1"),
        ("file", "https://x.test/a.pdf"),
    ]


def test_missing_field_is_named() -> None:
    with pytest.raises(RecordRejected, match=r"payload\.message_id"):
        event_from_dict({**BASE, "type": "message.posted", "payload": {"text": "x"}})


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (
            json.dumps({**BASE, "type": "member.exploded", "payload": {}}).encode(),
            "unknown event type",
        ),
        (
            json.dumps(
                {**BASE, "schema_version": 9, "type": "member.joined", "payload": {}}
            ).encode(),
            "newer than this release",
        ),
        (
            json.dumps(
                {**BASE, "occurred_at": "2026-01-02T03:04:05", "type": "member.joined"}
            ).encode(),
            "time zone",
        ),
        (json.dumps([1, 2]).encode(), "JSON object"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(RecordRejected, match=reason):
        decode_event(raw)


def test_keys_that_mongodb_would_interpret_are_refused() -> None:
    for bad in ({"$where": "1"}, {"a.b": 1}, {"ok": [{"$gt": 1}]}):
        with pytest.raises(RecordRejected, match="may not start with"):
            event_from_dict(
                {**BASE, "type": "ruleset.updated", "payload": {"version": 1, "rules": bad}}
            )


def test_unknown_fields_are_refused_not_silently_dropped() -> None:
    with pytest.raises(RecordRejected, match="Extra inputs"):
        event_from_dict({**BASE, "type": "member.joined", "payload": {}, "surprise": 1})
