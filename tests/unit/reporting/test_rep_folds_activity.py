"""activity and users folds: local days, ISO weeks, histograms, content kinds, one
document per group and month (days and users as sub-documents)."""

from __future__ import annotations

from typing import Any

from services.reporting import figures
from services.reporting.folds import activity, fold_decision, fold_event, users
from services.reporting.folds.base import Batch, GroupContext, field_key
from shared.events import EVENT_TYPES, Event
from shared.settings import Settings
from tests.support.folds import GROUP, SHANGHAI, decision

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


def fold(events: list[Event], ctx: GroupContext = SHANGHAI) -> Batch:
    batch = Batch()
    for e in events:
        fold_event(batch, e, ctx, SETTINGS, only={"activity", "users"})
    return batch


def update(batch: Batch, doc_id: str, collection: str = "activity") -> dict[str, Any]:
    return batch.docs[(collection, doc_id)].to_update()


def test_late_utc_evening_counts_on_the_next_local_day_in_shanghai() -> None:
    batch = fold([event("message.posted", "2026-01-04T23:30:00Z")])
    month = update(batch, f"{GROUP}|month|2026-01")
    assert month["$inc"]["days.2026-01-05.messages"] == 1
    assert month["$inc"]["days.2026-01-05.hourly.7"] == 1  # 07:30 local
    assert not any(k.startswith("days.2026-01-04") for k in month["$inc"])
    # Sunday 4 Jan UTC is Monday 5 Jan in Shanghai: ISO week 2, not week 1.
    week = update(batch, f"{GROUP}|2026-01", "users")
    assert "weeks.2026-W02.telegram:42.messages" in week["$inc"]


def test_same_moment_stays_on_the_utc_day_for_a_utc_group() -> None:
    batch = fold([event("message.posted", "2026-01-04T23:30:00Z")], GroupContext(GROUP))
    assert update(batch, f"{GROUP}|month|2026-01")["$inc"]["days.2026-01-04.hourly.23"] == 1
    assert (
        "weeks.2026-W01.telegram:42.messages" in update(batch, f"{GROUP}|2026-01", "users")["$inc"]
    )


def test_iso_week_of_early_january_belongs_to_the_previous_year() -> None:
    batch = fold([event("message.posted", "2027-01-01T12:00:00Z")], GroupContext(GROUP))
    # Week 53 of 2026 (Mon 28 Dec - Sun 3 Jan) has its Thursday in December 2026.
    week = update(batch, f"{GROUP}|2026-12", "users")
    assert week["$inc"]["weeks.2026-W53.telegram:42.messages"] == 1
    month = update(batch, f"{GROUP}|month|2027-01")
    assert month["$setOnInsert"]["end"] == "2027-01-31"
    [read] = figures.activity_weeks([{"start": "2027-01-01", "messages": 1, "users": ["a"]}])
    assert (read["period"], read["start"], read["end"]) == ("2026-W53", "2026-12-28", "2027-01-03")


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
    assert update(batch, f"{GROUP}|month|2026-01")["$inc"] == {
        "decisions.mute": 1,
        "days.2026-01-05.decisions.mute": 1,
    }


def test_users_fold_tracks_weekly_days_kinds_and_violations() -> None:
    batch = fold(
        [
            event("message.posted", "2026-01-05T02:00:00Z", "7", 1),
            event("message.posted", "2026-01-06T02:00:00Z", "7", 2, text="http://a.b"),
            event("message.posted", "2026-01-06T03:00:00Z", "7", 3),
        ]
    )
    fold_decision(batch, decision("2026-01-06T04:00:00+00:00", "warn", "7"), SHANGHAI)
    doc = update(batch, f"{GROUP}|2026-01", "users")
    user = f"weeks.2026-W02.{field_key('telegram:7')}"
    assert doc["$inc"][f"{user}.messages"] == 3
    assert doc["$inc"][f"{user}.kinds.link"] == 1 and doc["$inc"][f"{user}.kinds.text"] == 2
    assert doc["$inc"][f"{user}.violations"] == 1
    assert doc["$addToSet"][f"{user}.days"] == {"$each": ["2026-01-05", "2026-01-06"]}
    assert doc["$setOnInsert"] == {"group_key": GROUP, "month": "2026-01"}


def test_a_week_of_messages_is_one_document_per_projection() -> None:
    events = [event("message.posted", f"2026-01-0{d}T03:00:00Z", str(d), d) for d in range(5, 10)]
    batch = fold(events)
    assert sorted(batch.docs) == [
        (activity.NAME, f"{GROUP}|month|2026-01"),
        (users.NAME, f"{GROUP}|2026-01"),
    ]


def test_day_and_week_records_read_back_from_a_month_document() -> None:
    month = {
        "days": {
            "2026-01-31": {"messages": 2, "users": ["a", "b"], "hourly": {"9": 2}},
            "2026-01-30": {"messages": 1, "users": ["a"], "joins": 1, "kinds": {"text": 1}},
        }
    }
    february = {"days": {"2026-02-01": {"messages": 4, "users": ["c"], "hourly": {"9": 4}}}}
    days = figures.activity_days([february, month])
    assert [d["period"] for d in days] == ["2026-01-30", "2026-01-31", "2026-02-01"]
    [week] = figures.activity_weeks(days)
    item = figures.activity_item(week)
    assert (item["period"], item["start"], item["end"]) == ("2026-W05", "2026-01-26", "2026-02-01")
    assert (item["messages"], item["active_users"], item["joins"]) == (7, 3, 1)
    assert item["hourly"][9] == 6 and item["kinds"] == {"text": 1}


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
    assert ids == [f"{GROUP}|month|2026-01"]
    assert users.NAME in {coll for coll, _ in batch.docs}


def test_unknown_projection_in_only_is_ignored() -> None:
    batch = Batch()
    fold_event(
        batch, event("message.posted", "2026-01-05T00:00:00Z"), SHANGHAI, SETTINGS, only={"nope"}
    )
    assert batch.writes() == 0
