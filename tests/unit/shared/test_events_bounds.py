"""The envelope refuses what would stall or mislead a consumer: times outside the window
every fold can compute with, and platform-derived ids on another group's events."""

from __future__ import annotations

from typing import Any

import pytest

from shared.codec import RecordRejected, event_from_dict
from shared.events import foreign_platform_id


def event(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "event_id": "e1",
        "type": "message.posted",
        "schema_version": 2,
        "occurred_at": "2026-09-01T10:00:00Z",
        "platform": "telegram",
        "group_id": "-100",
        "user_id": "7",
        "payload": {"message_id": "1", "text": "hi"},
    }
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    "occurred_at",
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+14:00",  # overflowed in the UTC conversion (a 500 before)
        "0001-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_times_outside_the_window_are_refused_naming_the_field(occurred_at: str) -> None:
    with pytest.raises(RecordRejected) as err:
        event_from_dict(event(occurred_at=occurred_at))
    assert "occurred_at" in err.value.reason
    assert "2000-01-01" in err.value.reason


def test_an_event_more_than_a_day_ahead_of_its_receipt_is_refused() -> None:
    with pytest.raises(RecordRejected) as err:
        event_from_dict(
            event(occurred_at="2026-09-03T10:00:01Z", received_at="2026-09-02T10:00:00Z")
        )
    assert "occurred_at" in err.value.reason and "received_at" in err.value.reason
    ok = event_from_dict(
        event(occurred_at="2026-09-03T09:59:59Z", received_at="2026-09-02T10:00:00Z")
    )
    assert ok.event_id == "e1"


@pytest.mark.parametrize(
    ("event_id", "platform", "group", "owned"),
    [
        ("telegram:-100:msg:42", "telegram", "-100", True),
        ("telegram:-100:msg:42", "telegram", "-200", False),
        ("telegram:-100:msg:42", "slack", "-100", False),
        ("telegram:-100", "telegram", "-100", False),  # nothing after the group: not derived
        ("onebot:10001:msg:555:9", "onebot", "555", True),
        ("onebot:10001:msg:555:9", "onebot", "10001", False),
        ("discord:881:msg:5", "discord", "881", True),
        ("slack:C1:joined:U1:Ev1", "slack", "C1", True),
        ("slack:C1:joined:U1:Ev1", "slack", "C2", False),
        ("sim-1-5", "telegram", "-200", True),  # not a platform namespace: the sender's own
        ("api:anything", "api", "g", True),
    ],
)
def test_platform_derived_ids_belong_to_their_group(
    event_id: str, platform: str, group: str, owned: bool
) -> None:
    assert (foreign_platform_id(event_id, platform, group) is None) is owned


def test_a_borrowed_id_is_refused_at_validation() -> None:
    with pytest.raises(RecordRejected) as err:
        event_from_dict(event(event_id="telegram:-999:msg:1"))
    assert "another telegram group" in err.value.reason
