"""The monthly report: trend, recommendations, languages and every output format."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.reporting import figures
from services.reporting.report_build import ReportInputs, build_report, month_end, pct_change
from services.reporting.report_render import render

GROUP = "onebot:123"
T0 = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)


def month_doc(period: str, messages: int, users: int, joins: int = 0, leaves: int = 0) -> dict:
    return {
        "period": period,
        "start": f"{period}-01",
        "end": f"{period}-28",
        "messages": messages,
        "users": [f"onebot:{i}" for i in range(users)],
        "joins": joins,
        "leaves": leaves,
        "hourly": {"20": messages},
    }


def inputs(language: str = "en", **over: Any) -> ReportInputs:
    values: dict[str, Any] = {
        "group_key": GROUP,
        "month": "2026-02",
        "group": {"language": language, "timezone": "Asia/Shanghai"},
        "activity_month": month_doc("2026-02", 100, 10, joins=5, leaves=2),
        "activity_previous": month_doc("2026-01", 100, 10),
        "members": 500,
    }
    values.update(over)
    return ReportInputs(**values)


def resolved_cases(
    n: int, hours: float, outcome: str, category: str, now: datetime
) -> list[dict[str, Any]]:
    """`n` complaint cases against onebot:9 filed at T0 and resolved `hours` later, as
    reporting reads them at `now` (24 h to resolve)."""
    return [
        figures.complaint_case(
            {
                "complaint_id": f"c{i}",
                "filed_at": T0,
                "target": "onebot:9",
                "resolved": True,
                "resolved_at": T0 + timedelta(hours=hours),
                "outcome": outcome,
                "category": category,
            },
            {},
            24,
            now,
        )
        for i in range(n)
    ]


def codes(report: dict) -> list[str]:
    return [r["code"] for r in report["recommendations"]]


def test_pct_change() -> None:
    assert pct_change(70, 100) == -30.0
    assert pct_change(150, 100) == 50.0
    assert pct_change(5, 0) is None


def test_quiet_month_recommends_keeping_the_plan() -> None:
    report = build_report(inputs())
    assert codes(report) == ["steady"]
    assert report["trend"]["messages_pct"] == 0.0
    assert report["activity"]["net_growth"] == 3
    assert report["activity"]["busiest_hour"] == 20


def test_activity_drop_over_20_percent_recommends_engagement() -> None:
    report = build_report(inputs(activity_month=month_doc("2026-02", 70, 10)))
    assert report["trend"]["messages_pct"] == -30.0
    assert "engagement" in codes(report)
    assert "30%" in report["recommendations"][0]["text"]
    mild = build_report(inputs(activity_month=month_doc("2026-02", 85, 10)))
    assert "engagement" not in codes(mild)


def test_dominant_rule_recommends_pinning_the_group_rules_in_chinese() -> None:
    days = [{"total": 8, "by_rule": {"ads%2Elink": 6, "flood": 2}, "by_action": {"warn": 8}}]
    report = build_report(inputs("zh-CN", violation_days=days))
    assert report["violations"]["top_rules"][0] == {
        "rule_id": "ads.link",
        "count": 6,
        "share": 0.75,
    }
    rec = next(r for r in report["recommendations"] if r["code"] == "pin_rules")
    assert "群规" in rec["text"] and "ads.link" in rec["text"] and "75%" in rec["text"]
    few = build_report(inputs(violation_days=[{"total": 3, "by_rule": {"a": 3}}]))
    assert "pin_rules" not in codes(few)


def test_slow_complaints_recommend_operator_coverage() -> None:
    slow = resolved_cases(3, 40, "upheld", "spam", T0 + timedelta(days=3))
    report = build_report(inputs(complaint_cases=slow))
    assert report["complaints"]["hours_to_resolution"]["median"] == 40.0
    assert codes(report)[0] == "operator_coverage"
    assert "40 h" in report["recommendations"][0]["text"]


def test_complaint_rate_and_repeat_offenders_and_spot_checks() -> None:
    cases = resolved_cases(6, 1, "rejected", "x", T0)
    offenders = [
        {"user_key": f"onebot:{i}", "by_month": {"2026-02": 2 + i, "2026-01": 9}} for i in range(3)
    ] + [{"user_key": "onebot:once", "by_month": {"2026-02": 1}}]
    items = [{"status": "violation"}, {"status": "pending"}, {"status": "ok"}]
    report = build_report(
        inputs(complaint_cases=cases, members=400, offenders=offenders, spotcheck_items=items)
    )
    assert report["complaints"]["per_1000_members"] == 15.0
    assert [r["user_key"] for r in report["repeat_offenders"]] == [
        "onebot:2",
        "onebot:1",
        "onebot:0",
    ]
    assert {
        "complaint_rate",
        "repeat_offenders",
        "spot_check_findings",
        "spot_check_backlog",
    } <= set(codes(report))
    assert report["spot_checks"] == {
        "sampled": 3,
        "reviewed": 2,
        "ok": 1,
        "violation": 1,
        "pending": 1,
    }


def test_more_leaves_than_joins_recommend_retention_work() -> None:
    report = build_report(inputs(activity_month=month_doc("2026-02", 100, 10, joins=1, leaves=4)))
    assert "member_retention" in codes(report)


def test_language_follows_the_group() -> None:
    zh = build_report(inputs("zh-CN"))
    en = build_report(inputs("en-GB"))
    assert zh["language"] == "zh-CN" and zh["title"].startswith("运营报告")
    assert en["language"] == "en" and en["title"].startswith("Operations report")
    md, _ = render(zh, "md")
    assert "发言量" in md and "新增用户" in md and "用户投诉处理" in md and "定期抽查" in md
    md_en, _ = render(en, "md")
    assert "Messages" in md_en and "发言量" not in md_en


def test_missing_month_documents_give_an_empty_report_not_an_error() -> None:
    report = build_report(inputs(group=None, activity_month=None, activity_previous=None))
    assert report["activity"]["messages"] == 0 and report["trend"]["messages_pct"] is None
    assert report["activity"]["busiest_hour"] is None and report["language"] == "en"


def full_report(language: str) -> dict:
    return build_report(
        inputs(
            language,
            violation_days=[
                {
                    "total": 6,
                    "by_rule": {"a|b": 5, "<script>": 1},
                    "by_action": {"mute": 6},
                    "sanctions": {"ban": 1},
                    "revoked": 1,
                }
            ],
            activity_days=[month_doc("2026-02", 3, 2) | {"start": "2026-02-01"}],
            offenders=[{"user_key": "onebot:1", "by_month": {"2026-02": 2}}],
        )
    )


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_json_round_trips(language: str) -> None:
    body, media = render(full_report(language), "json")
    assert media == "application/json"
    assert json.loads(body)["violations"]["by_rule"] == {"a|b": 5, "<script>": 1}


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_csv_is_parseable_with_one_value_per_row(language: str) -> None:
    body, media = render(full_report(language), "csv")
    assert media.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["section", "metric", "key", "value"]
    assert all(len(r) == 4 for r in rows)
    assert ["violations", "by_rule", "a|b", "5"] in rows
    assert ["daily", "messages", "2026-02-01", "3"] in rows
    assert sum(1 for r in rows if r[1] == "hourly") == 24


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in {"meta", "br", "link"}:
            self.stack.append(tag)
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_html_is_well_formed_and_escapes_data(language: str) -> None:
    body, media = render(full_report(language), "html")
    assert media.startswith("text/html")
    parser = _Collector()
    parser.feed(body)
    parser.close()
    assert parser.stack == []
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert parser.tags.count("table") >= 5
    assert f'lang="{language}"' in body


def test_markdown_tables_escape_pipes() -> None:
    body, media = render(full_report("en"), "md")
    assert media.startswith("text/markdown")
    assert "| a\\|b | 5 |" in body
    table_lines = [line for line in body.splitlines() if line.startswith("|")]
    for line in table_lines:
        assert line.endswith("|")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="json, md, html, csv"):
        render(full_report("en"), "pdf")


def test_month_end_is_local_midnight_of_the_next_month() -> None:
    assert month_end("2026-02", ZoneInfo("Asia/Shanghai")) == datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert month_end("2026-12", ZoneInfo("UTC")) == datetime(2027, 1, 1, tzinfo=UTC)
