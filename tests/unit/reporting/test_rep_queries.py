"""Read-time figures: activity items, the complaint join, spot-check queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.reporting import figures as fig

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def test_activity_item_derives_growth_rate_and_full_histogram() -> None:
    item = fig.activity_item(
        {
            "period": "2026-01-05",
            "start": "2026-01-05",
            "end": "2026-01-05",
            "messages": 9,
            "users": ["a", "b", "c", "d"],
            "joins": 1,
            "leaves": 3,
            "hourly": {"7": 5, "23": 4},
            "decisions": {"warn": 2},
        }
    )
    assert item["active_users"] == 4
    assert item["messages_per_active_user"] == 2.25
    assert item["net_growth"] == -2
    assert len(item["hourly"]) == 24 and item["hourly"][7] == 5 and item["hourly"][23] == 4
    assert item["decisions"] == {"warn": 2}


def test_activity_item_with_no_users_has_zero_rate() -> None:
    item = fig.activity_item({"period": "p", "start": "s", "end": "e", "joins": 2})
    assert item["messages_per_active_user"] == 0.0 and item["net_growth"] == 2


def case(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "_id": "g|c1",
        "complaint_id": "c1",
        "group_key": "g",
        "filed_at": T0,
        "target": "telegram:9",
        "category": "spam",
        "resolved": False,
    }
    base.update(fields)
    return base


def test_first_action_is_the_earliest_decision_after_filing_not_before() -> None:
    actions = fig.first_actions(
        [
            {"user_key": "telegram:9", "at": T0 - timedelta(hours=1), "kind": "decision"},
            {"user_key": "telegram:9", "at": T0 + timedelta(hours=2), "kind": "sanction"},
            {"user_key": "telegram:9", "at": T0 + timedelta(hours=1), "kind": "decision"},
        ]
    )
    view = fig.complaint_case(
        case(resolved=True, resolved_at=T0 + timedelta(hours=30), outcome="upheld"),
        actions,
        24,
        T0 + timedelta(days=5),
    )
    assert view["first_action"] == "decision"
    assert view["hours_to_first_action"] == 1.0
    assert view["hours_to_resolution"] == 30.0
    assert view["status"] == "resolved" and view["resolved_late"] and not view["overdue"]
    assert "_id" not in view


def test_resolution_is_the_first_action_when_nothing_else_happened() -> None:
    view = fig.complaint_case(case(resolved=True, resolved_at=T0 + timedelta(hours=3)), {}, 24, T0)
    assert view["first_action"] == "resolution" and view["hours_to_first_action"] == 3.0


def test_open_case_is_overdue_only_past_the_sla() -> None:
    fresh = fig.complaint_case(case(), {}, 24, T0 + timedelta(hours=23))
    late = fig.complaint_case(case(), {}, 24, T0 + timedelta(hours=25))
    assert not fresh["overdue"] and late["overdue"]
    assert late["status"] == "open" and late["first_action_at"] is None


def test_naive_datetimes_from_the_store_are_read_as_utc() -> None:
    naive = T0.replace(tzinfo=None)
    view = fig.complaint_case(case(filed_at=naive), {}, 24, T0 + timedelta(hours=30))
    assert view["overdue"]


def test_complaint_figures() -> None:
    views = [
        fig.complaint_case(
            case(
                _id=f"g|c{i}",
                complaint_id=f"c{i}",
                resolved=True,
                resolved_at=T0 + timedelta(hours=h),
                outcome=o,
                category=cat,
            ),
            {},
            24,
            T0,
        )
        for i, (h, o, cat) in enumerate(
            [(2, "upheld", "spam"), (4, "rejected", "spam"), (30, "upheld", "abuse")]
        )
    ]
    views.append(fig.complaint_case(case(complaint_id="c9"), {}, 24, T0 + timedelta(days=2)))
    figures = fig.complaint_figures(views, members=200, sla_hours=24)
    assert figures["total"] == 4 and figures["open"] == 1 and figures["resolved"] == 3
    assert figures["upheld_ratio"] == round(2 / 3, 3)
    assert figures["hours_to_resolution"]["median"] == 4.0
    assert figures["overdue"] == 1 and figures["resolved_late"] == 1
    assert figures["per_1000_members"] == 20.0
    assert figures["categories"] == {"spam": 3, "abuse": 1}


def test_complaint_rate_is_undefined_without_members() -> None:
    assert fig.complaint_figures([], members=0, sla_hours=24)["per_1000_members"] is None


def test_spotcheck_queue_marks_reviewed_and_pending_items() -> None:
    days = [
        {
            "day": "2026-01-05",
            "sample": [
                {"h": "01", "event_id": "e1", "text": "a"},
                {"h": "02", "event_id": "e2", "text": "b"},
            ],
        },
        {"day": "2026-01-06", "sample": [{"h": "03", "event_id": "e3", "text": "c"}]},
    ]
    reviews = {
        "e1": {"outcome": "violation", "note": "ad", "reviewer": "boss", "role": "admin"},
        "e3": {"outcome": "ok"},
    }
    items = fig.spotcheck_items(days, reviews)
    assert [i["status"] for i in items] == ["violation", "pending", "ok"]
    assert items[0]["review"]["reviewer"] == "boss" and "h" not in items[0]
    assert fig.spotcheck_outcomes(items) == {
        "sampled": 3,
        "reviewed": 2,
        "ok": 1,
        "violation": 1,
        "pending": 1,
    }


def test_sum_counters_unescapes_rule_ids_and_orders_by_count() -> None:
    docs = [{"by_rule": {"ads%2Elink": 2, "flood": 1}}, {"by_rule": {"flood": 3}}, {}]
    assert list(fig.sum_counters(docs, "by_rule", escaped=True).items()) == [
        ("flood", 4),
        ("ads.link", 2),
    ]
