"""activity and users folds: local days, ISO weeks, histograms, content kinds."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting.folds import activity, fold_decision, fold_event, users
from services.reporting.folds.base import Batch, GroupContext
from shared.events import EVENT_TYPES, Decision, Event
from shared.settings import Settings

GROUP = "telegram:-1001"
SHANGHAI = GroupContext(GROUP, ZoneInfo("Asia/Shanghai"), "zh-CN")
SETTINGS = Settings(spot_checks_per_day=2)


def event(kind: str, at: str, user: str = "42", n: int = 0, **payload: Any) -> Event:
    defaults: dict[str, dict[str, Any]] = {
        "message.posted": {"message_id": f"m{n}", "text": "hello"},
    }
    return EVENT_TYPES[kind].model_validate(  # type: ignore[return-value]
        {
            "event_id": f"ev-{kind}-{at}-{user}-{n}",
            "schema_version": 1,
            "occurred_at": at,
            "platform": "telegram",
            "group_id": "-1001",
            "user_id": user,
            "payload": {**defaults.get(kind, {}), **payload},
        }
    )


def decision(at: str, action: str = "warn", target: str = "42", n: int = 0) -> Decision:
    return Decision(
        decision_id=f"d{n}",
        group_key=GROUP,
        target_user_id=target,
        action=action,  # type: ignore[arg-type]
        rule_id="ads.link",
        ruleset_version=1,
        reason="advertising",
        cause_event_ids=[f"ev{n}"],
        decided_at=datetime.fromisoformat(at),
    )


def fold(events: list[Event], ctx: GroupContext = SHANGHAI) -> Batch:
    batch = Batch()
    for e in events:
        fold_event(batch, e, ctx, SETTINGS, only={"activity", "users"})
    return batch


def update(batch: Batch, doc_id: str, collection: str = "activity") -> dict[str, Any]:
    return batch.docs[(collection, doc_id)].to_update()


def test_late_utc_evening_counts_on_the_next_local_day_in_shanghai() -> None:
    batch = fold([event("message.posted", "2026-01-04T23:30:00Z")])
    day = update(batch, f"{GROUP}|day|2026-01-05")
    assert day["$inc"]["messages"] == 1
    assert day["$inc"]["hourly.7"] == 1  # 07:30 local
    assert ("activity", f"{GROUP}|day|2026-01-04") not in batch.docs
    # Sunday 4 Jan UTC is Monday 5 Jan in Shanghai: ISO week 2, not week 1.
    week = update(batch, f"{GROUP}|week|2026-W02")
    assert week["$setOnInsert"]["start"] == "2026-01-05"
    assert week["$setOnInsert"]["end"] == "2026-01-11"


def test_same_moment_stays_on_the_utc_day_for_a_utc_group() -> None:
    batch = fold([event("message.posted", "2026-01-04T23:30:00Z")], GroupContext(GROUP))
    assert update(batch, f"{GROUP}|day|2026-01-04")["$inc"]["hourly.23"] == 1
    assert ("activity", f"{GROUP}|week|2026-W01") in batch.docs


def test_iso_week_of_early_january_belongs_to_the_previous_year() -> None:
    batch = fold([event("message.posted", "2027-01-01T12:00:00Z")], GroupContext(GROUP))
    week = update(batch, f"{GROUP}|week|2026-W53")
    assert week["$setOnInsert"]["start"] == "2026-12-28"
    month = update(batch, f"{GROUP}|month|2027-01")
    assert month["$setOnInsert"]["end"] == "2027-01-31"


def test_month_doc_counts_messages_users_hours_kinds_and_membership() -> None:
    batch = fold(
        [
            event("message.posted", "2026-03-02T01:00:00Z", "1", 1),
            event("message.posted", "2026-03-02T01:10:00Z", "1", 2, text="see https://x.io"),
            event(
                "message.posted",
                "2026-03-03T09:00:00Z",
                "2",
                3,
                text="",
                attachments=[{"kind": "image", "url": "https://img/1.png"}],
            ),
            event("member.joined", "2026-03-04T00:00:00Z", "3"),
            event("member.joined", "2026-03-04T00:00:00Z", "4"),
            event("member.left", "2026-03-05T00:00:00Z", "1"),
        ]
    )
    month = update(batch, f"{GROUP}|month|2026-03")
    assert month["$inc"]["messages"] == 3
    assert month["$addToSet"]["users"] == {"$each": ["telegram:1", "telegram:2"]}
    assert month["$inc"]["hourly.9"] == 2 and month["$inc"]["hourly.17"] == 1
    assert month["$inc"]["kinds.text"] == 1
    assert month["$inc"]["kinds.link"] == 1
    assert month["$inc"]["kinds.image"] == 1
    assert month["$inc"]["joins"] == 2 and month["$inc"]["leaves"] == 1
    assert month["$setOnInsert"]["group_key"] == GROUP


def test_decisions_count_by_action_on_the_local_day() -> None:
    batch = Batch()
    fold_decision(batch, decision("2026-01-04T20:00:00+00:00", "mute"), SHANGHAI, only={"activity"})
    assert update(batch, f"{GROUP}|day|2026-01-05")["$inc"] == {"decisions.mute": 1}


def test_users_fold_tracks_weekly_days_kinds_and_violations() -> None:
    batch = fold(
        [
            event("message.posted", "2026-01-05T02:00:00Z", "7", 1),
            event("message.posted", "2026-01-06T02:00:00Z", "7", 2, text="http://a.b"),
            event("message.posted", "2026-01-06T03:00:00Z", "7", 3),
        ]
    )
    fold_decision(batch, decision("2026-01-06T04:00:00+00:00", "warn", "7"), SHANGHAI)
    doc = update(batch, f"{GROUP}|telegram:7|2026-W02", "users")
    assert doc["$inc"]["messages"] == 3
    assert doc["$inc"]["kinds.link"] == 1 and doc["$inc"]["kinds.text"] == 2
    assert doc["$inc"]["violations"] == 1
    assert doc["$addToSet"]["days"] == {"$each": ["2026-01-05", "2026-01-06"]}
    assert doc["$setOnInsert"]["user_key"] == "telegram:7"
    assert doc["$setOnInsert"]["week_start"] == "2026-01-05"


def test_folding_the_same_records_twice_gives_identical_updates() -> None:
    events = [event("message.posted", f"2026-01-0{d}T0{d}:00:00Z", str(d), d) for d in range(1, 8)]
    a, b = Batch(), Batch()
    for batch in (a, b):
        for e in events:
            fold_event(batch, e, SHANGHAI, SETTINGS)
    assert {k: v.to_update() for k, v in a.docs.items()} == {
        k: v.to_update() for k, v in b.docs.items()
    }
    assert a.inserts == b.inserts


def test_activity_doc_ids_are_unique_per_granularity() -> None:
    batch = fold([event("message.posted", "2026-01-05T00:00:00Z")])
    ids = [doc_id for (coll, doc_id) in batch.docs if coll == activity.NAME]
    assert sorted(ids) == sorted(
        [f"{GROUP}|day|2026-01-05", f"{GROUP}|week|2026-W02", f"{GROUP}|month|2026-01"]
    )
    assert users.NAME in {coll for coll, _ in batch.docs}


def test_unknown_projection_in_only_is_ignored() -> None:
    batch = Batch()
    fold_event(
        batch, event("message.posted", "2026-01-05T00:00:00Z"), SHANGHAI, SETTINGS, only={"nope"}
    )
    assert batch.writes() == 0
