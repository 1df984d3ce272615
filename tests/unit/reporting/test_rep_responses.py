"""The response models write every answer exactly as the routes wrote it before they had
models (a `dict[str, Any]` through pydantic): same keys, same order, same values, so
documenting the API changed no body. Answers are computed by `figures` from documents
shaped as the folds write them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.reporting import figures, responses
from services.reporting.report_build import ReportInputs, build_report
from services.reporting.report_render import render_json

GROUP = "telegram:-1001"
T0 = datetime(2026, 3, 2, 8, 30, 15, 250000, tzinfo=UTC)
AS_OF = datetime(2026, 4, 1, tzinfo=UTC)
BEFORE = TypeAdapter(dict[str, Any])


def written(model: type[BaseModel], body: dict[str, Any]) -> bytes:
    """The body as a route with `response_model=model` writes it (FastAPI validates the
    returned dict against the model, then dumps it)."""
    adapter = TypeAdapter(model)
    return adapter.dump_json(adapter.validate_python(body))


def assert_unchanged(model: type[BaseModel], body: dict[str, Any]) -> None:
    assert written(model, body) == BEFORE.dump_json(body)


def decision(n: int, at: datetime, **over: Any) -> dict[str, Any]:
    return {
        "decision_id": f"d{n}",
        "kind": "decision",
        "group_key": GROUP,
        "user_key": "telegram:7",
        "target_user_id": "7",
        "rule_id": "ads.link",
        "ruleset_version": 3,
        "action": "warn",
        "duration_s": None,
        "reason": "link",
        "cause_event_ids": [f"e{n}"],
        "case_id": None,
        "decided_at": at,
        "at": at,
        "day": at.date().isoformat(),
        "month": at.date().isoformat()[:7],
        **over,
    }


def test_groups_and_activity() -> None:
    group = {
        "_id": GROUP,
        "platform": "telegram",
        "first_event_at": T0,
        "last_event_at": T0 + timedelta(days=3),
        "messages": 12,
        "joins": 5,
        "leaves": 1,
        "language": "zh-CN",
    }
    assert_unchanged(responses.GroupList, {"items": [figures.group_summary(group)]})
    month = {
        "group_key": GROUP,
        "granularity": "month",
        "period": "2026-03",
        "start": "2026-03-01",
        "end": "2026-03-31",
        "days": {
            "2026-03-02": {"messages": 3, "users": ["telegram:7"], "hourly": {"8": 3}},
            "2026-03-09": {"joins": 2, "decisions": {"warn": 1}, "kinds": {"text": 1}},
        },
    }
    for granularity in ("day", "week"):
        periods = figures.day_or_week_periods(figures.activity_days([month]), granularity)
        page = figures.activity_page(GROUP, granularity, periods, 1)
        assert page["next"] is not None
        assert_unchanged(responses.ActivityPage, page)
    assert_unchanged(responses.ActivityPage, figures.activity_page(GROUP, "month", [month], 5))


def test_violations() -> None:
    weeks = [{"items": [decision(1, T0), decision(2, T0 + timedelta(hours=1), case_id="c1")]}]
    months = [
        {
            "month": "2026-03",
            "days": {
                "2026-03-02": {"total": 2, "by_rule": {"ads·link": 2}, "by_action": {"warn": 2}}
            },
            "offenders": {
                "telegram:7": {
                    "count": 2,
                    "by_action": {"warn": 2},
                    "first_at": T0,
                    "last_at": T0 + timedelta(hours=1),
                }
            },
        }
    ]
    decisions = figures.matching_decisions(weeks, None, None, None, None)
    daily = figures.violation_days(months, None, None)
    page = figures.violations_page(GROUP, decisions, 1, 0, daily, months)
    assert page["next_offset"] == 1 and page["repeat_offenders"]
    assert_unchanged(responses.ViolationsPage, page)


def test_complaints_with_filed_resolved_and_unfiled_cases() -> None:
    filing = {
        "month": "2026-03",
        "cases": {
            "c1": {
                "group_key": GROUP,
                "complaint_id": "c1",
                "event_id": "e-c1",
                "filed_at": T0,
                "day": "2026-03-02",
                "month": "2026-03",
                "category": "ads",
                "reason": "",
                "reporter": "telegram:8",
                "target": "telegram:7",
                "target_message_id": None,
            },
            "c2": {
                "group_key": GROUP,
                "complaint_id": "c2",
                "filed_at": T0 + timedelta(hours=2),
                "category": "abuse",
                "target": "telegram:9",
                "extra_field": {"kept": T0},
            },
        },
        "resolutions": {
            "c1": {
                "complaint_id": "c1",
                "outcome": "upheld",
                "note": "ok",
                "resolved_by": "boss",
                "resolved_role": "admin",
                "resolved_at": T0 + timedelta(hours=30),
            },
            "c3": {
                "complaint_id": "c3",
                "outcome": "rejected",
                "note": "",
                "resolved_by": "boss",
                "resolved_role": "admin",
                "resolved_at": T0,
            },
        },
    }
    cases = figures.merge_cases([filing], [filing], GROUP)
    actions = figures.actions_against(
        [{"items": [decision(1, T0 + timedelta(hours=1))], "manual": {}}],
        (c.get("target", "") for c in cases),
        figures.earliest_filing(cases),
    )
    views = figures.case_views(cases, actions, 24.0, AS_OF)
    assert {v["complaint_id"] for v in views} == {"c1", "c2", "c3"}
    for status in (None, "open", "resolved"):
        page = figures.complaints_page(GROUP, status, views, 3, 24.0, 2, 0)
        assert_unchanged(responses.ComplaintsPage, page)


def test_operators_keep_the_documents_key_order() -> None:
    month = {
        "group_key": GROUP,
        "month": "2026-03",
        "operators": {
            "admin|boss": {
                "resolutions": 1,
                "upheld": 1,
                "operator": "boss",
                "role": "admin",
                "last_at": T0,
                "first_at": T0,
            },
            "operator|ops": {
                "operator": "ops",
                "role": "operator",
                "first_at": T0,
                "last_at": T0,
                "sanctions_applied": 2,
                "by_action": {"mute": 2},
            },
        },
    }
    page = {"group_key": GROUP, "month": None, "items": figures.operator_items([month])}
    assert_unchanged(responses.OperatorsPage, page)
    first = json.loads(written(responses.OperatorsPage, page))["items"][0]
    assert list(first) == [
        "group_key",
        "month",
        "resolutions",
        "upheld",
        "operator",
        "role",
        "last_at",
        "first_at",
    ]


def test_spot_checks_and_a_review() -> None:
    sample = {
        "h": "00ab",
        "event_id": "e1",
        "user_key": "telegram:7",
        "message_id": "m1",
        "text": "你好",
        "kind": "text",
        "attachments": [],
        "occurred_at": T0,
    }
    month = {
        "group_key": GROUP,
        "month": "2026-03",
        "days": {
            "2026-03-02": {
                "messages": 4,
                "sample": [sample, {**sample, "event_id": "e2", "h": "00ac"}],
            }
        },
    }
    days = figures.spotcheck_days([month], None, None)
    review = {
        "event_id": "e1",
        "outcome": "violation",
        "note": "",
        "reviewer": "boss",
        "role": "admin",
        "reviewed_at": T0 + timedelta(days=1),
    }
    for status in ("all", "pending", "violation"):
        queue = figures.spotcheck_queue(GROUP, days, {"e1": review}, status, 1000)
        assert_unchanged(responses.SpotcheckQueue, queue)
    recorded = {"group_key": GROUP, "event_id": "e1", "day": "2026-03-02", **review}
    assert_unchanged(responses.ReviewRecorded, recorded)


def test_user_history() -> None:
    at = "2026-03-02T08:30:15Z"
    closing = {"event_id": "r1", "at": at, "by": "telegram:1", "actor": None}
    history = {
        "user_key": "telegram:7",
        "groups": [GROUP],
        "flagged_messages": [
            {
                "event_id": "e1",
                "group_key": GROUP,
                "occurred_at": at,
                "message_id": "m1",
                "text": "buy",
                "decisions": ["d1"],
                "rules": ["ads.link"],
                "ruleset_versions": [3],
            }
        ],
        "decisions": [
            {
                "decision_id": "d1",
                "group_key": GROUP,
                "decided_at": at,
                "action": "mute",
                "duration_s": 600,
                "rule_id": "ads.link",
                "ruleset_version": 3,
                "reason": "link",
                "matched": "http://x",
                "case_id": None,
                "cause_event_ids": ["e1"],
            }
        ],
        "sanctions": [
            {
                "event_id": "s-e",
                "group_key": GROUP,
                "occurred_at": at,
                "actor": {"name": "boss", "role": "admin"},
                "role": "about",
                "sanction_id": "s1",
                "by": "telegram:1",
                "target": "telegram:7",
                "action": "ban",
                "duration_s": None,
                "reason": "spam",
                "by_role": "admin",
                "revoked": {**closing, "reason": "appeal"},
            }
        ],
        "complaints": [
            {
                "event_id": "c-e",
                "group_key": GROUP,
                "occurred_at": at,
                "actor": None,
                "role": "about",
                "complaint_id": "c1",
                "reporter": "telegram:8",
                "target": "telegram:7",
                "target_message_id": None,
                "category": "ads",
                "reason": "",
                "resolution": {**closing, "outcome": "upheld", "note": ""},
            }
        ],
        "timeline": [
            {"at": at, "kind": "message", "group_key": GROUP, "ref": "e1", "summary": "buy"}
        ],
    }
    assert_unchanged(responses.UserHistory, history)


def test_the_monthly_report_documents_its_json() -> None:
    case = figures.complaint_case(
        {"complaint_id": "c1", "filed_at": T0, "target": "telegram:7", "resolved": False},
        {},
        24.0,
        AS_OF,
    )
    report = build_report(
        ReportInputs(
            group_key=GROUP,
            month="2026-03",
            group={"language": "zh-CN", "timezone": "Asia/Shanghai"},
            activity_month={
                "period": "2026-03",
                "start": "2026-03-01",
                "end": "2026-03-31",
                "messages": 10,
                "users": ["a", "b"],
                "hourly": {"9": 10},
            },
            activity_previous=None,
            activity_days=[
                {"period": "2026-03-02", "start": "2026-03-02", "end": "2026-03-02", "messages": 10}
            ],
            members=40,
            violation_days=[{"total": 6, "by_rule": {"ads·link": 6}, "by_action": {"warn": 6}}],
            offenders=[{"user_key": "telegram:7", "by_month": {"2026-03": 6}}],
            complaint_cases=[case],
            spotcheck_items=[{"status": "pending"}],
            operators=[{"operator": "boss", "role": "admin", "sanctions_applied": 1}],
        )
    )
    model = responses.MonthlyReport.model_validate(report)
    assert model.model_dump(mode="json") == json.loads(render_json(report))


def test_a_figure_without_its_field_fails() -> None:
    with pytest.raises(ValidationError):
        responses.SpotcheckOutcomes.model_validate(
            {**figures.spotcheck_outcomes([]), "new_figure": 1}
        )
