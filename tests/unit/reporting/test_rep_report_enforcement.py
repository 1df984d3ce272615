"""The monthly report's enforcement section: decided against carried out and failed, per
rule and platform, in every format and both languages; a dry-run group's report says
what would have been done."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import pytest

from services.reporting import responses
from services.reporting.folds import fold_decision, fold_event
from services.reporting.folds.base import Batch
from services.reporting.report_build import ReportInputs, build_report
from services.reporting.report_render import render
from shared.events import Decision, Event
from shared.settings import Settings
from tests.support.folds import GROUP, SHANGHAI, decision, enforced, of, store


def enforcement_docs(records: Sequence[Event | Decision]) -> list[dict[str, Any]]:
    batch = Batch()
    for record in records:
        if isinstance(record, Decision):
            fold_decision(batch, record, SHANGHAI, only={"enforcement"})
        else:
            fold_event(batch, record, SHANGHAI, Settings(), only={"enforcement"})
    return of(store([batch]), "enforcement")


def report(records: Sequence[Event | Decision], language: str = "en") -> dict[str, Any]:
    return build_report(
        ReportInputs(
            group_key=GROUP,
            month="2026-01",
            group={"language": language, "timezone": "Asia/Shanghai"},
            activity_month=None,
            activity_previous=None,
            enforcement_months=enforcement_docs(records),
        )
    )


def live() -> list[Event | Decision]:
    at = "2026-01-05T01:00:00+00:00"
    return [
        decision(at, "mute", n=1),
        decision(at, "mute", n=2),
        decision(at, "ban", n=3),
        decision(at, "warn", n=4).model_copy(update={"rule_id": "<b>|x"}),
        enforced("2026-01-05T01:00:01Z", "executed", "mute", 1),
        enforced("2026-01-05T01:00:01Z", "failed", "mute", 2, error="not enough rights"),
        enforced("2026-01-05T01:00:01Z", "unsupported", "ban", 3),
        enforced("2026-01-05T01:00:01Z", "executed", "warn", 4, rule_id="<b>|x"),
        # February (local): another month's report
        decision("2026-01-31T17:00:00+00:00", "mute", n=5),
    ]


def dry() -> list[Event | Decision]:
    at = "2026-01-05T01:00:00+00:00"
    return [
        decision(at, "mute", n=1),
        decision(at, "kick", n=2),
        enforced("2026-01-05T01:00:01Z", "dry_run", "mute", 1),
        enforced("2026-01-05T01:00:01Z", "dry_run", "kick", 2),
    ]


def rows(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


def test_decided_against_carried_out_and_failed_per_rule_and_platform() -> None:
    r = report(live())
    e = r["enforcement"]
    assert e["mode"] == "live"
    assert e["totals"] == {
        "decided": 4,
        "executed": 2,
        "dry_run": 0,
        "failed": 1,
        "unsupported": 1,
        "partial": 0,
        "unknown": 0,
        "unrecorded": 0,
    }
    assert [
        (b["rule_id"], b["platform"], b["decided"], b["executed"], b["failed"])
        for b in e["by_rule"]
    ] == [
        ("<b>|x", "telegram", 1, 1, 0),
        ("ads.link", "telegram", 3, 1, 1),
    ]
    assert e["not_done"] == 2
    [rec] = [x for x in r["recommendations"] if x["code"] == "enforcement_not_done"]
    assert rec["values"] == {"count": 2, "failed": 1, "unsupported": 1, "partial": 0, "unknown": 0}
    assert "not fully carried out" in rec["text"]
    responses.MonthlyReport.model_validate(r)


def test_live_report_formats_show_the_enforcement_table() -> None:
    r = report(live())
    md, _ = render(r, "md")
    assert "## Enforcement by rule" in md
    assert "| Rule | Platform | Decided | Carried out | Failed |" in md
    assert "| ads.link | telegram | 3 | 1 | 1 | 1 | 0 | 0 |" in md
    assert "| <b>\\|x | telegram |" in md  # a pipe in a rule id does not break the table
    assert "Would have" not in md and "dry run" not in md
    html, _ = render(r, "html")
    assert 'class="enforcement"' in html and "&lt;b&gt;|x" in html and "<b>|x" not in html
    body = rows(render(r, "csv")[0])
    assert ["enforcement", "mode", "", "live"] in body
    assert ["enforcement", "decided", "", "4"] in body
    assert ["enforcement", "by_rule.failed", "ads.link", "1"] in body
    assert ["enforcement", "by_rule.executed", "<b>|x", "1"] in body
    assert json.loads(render(r, "json")[0])["enforcement"]["totals"]["failed"] == 1


@pytest.mark.parametrize(
    ("language", "would_have", "note"),
    [
        ("en", "Would have been carried out (dry run)", "Enforcement ran in dry run"),
        ("zh-CN", "本应执行（试运行）", "本月处于试运行模式"),
    ],
)
def test_a_dry_run_group_says_what_would_have_been_done(
    language: str, would_have: str, note: str
) -> None:
    r = report(dry(), language)
    e = r["enforcement"]
    assert e["mode"] == "dry_run" and e["totals"]["dry_run"] == 2 and e["totals"]["executed"] == 0
    md, _ = render(r, "md")
    assert f"| {would_have} | 2 |" in md  # the summary row
    assert note in md
    assert would_have in md.split(note, 1)[1]  # and the column of the table after the note
    html, _ = render(r, "html")
    assert 'data-mode="dry_run"' in html and note in html and would_have in html
    body = rows(render(r, "csv")[0])
    assert ["enforcement", "mode", "", "dry_run"] in body
    assert ["enforcement", "by_rule.dry_run", "ads.link", "2"] in body
    codes = [x["code"] for x in r["recommendations"]]
    assert "enforcement_dry_run" in codes and "enforcement_not_done" not in codes


def test_a_month_switched_to_live_shows_both() -> None:
    records = [*dry(), decision("2026-01-20T01:00:00+00:00", "mute", n=9)]
    records.append(enforced("2026-01-20T01:00:01Z", "executed", "mute", 9))
    r = report(records, "zh-CN")
    assert r["enforcement"]["mode"] == "mixed"
    md, _ = render(r, "md")
    assert (
        "本月部分时间处于试运行模式" in md
        and "| 已执行 | 1 |" in md
        and "| 本应执行（试运行） | 2 |" in md
    )


def test_no_enforcement_records_is_an_empty_section_not_an_error() -> None:
    r = report([])
    assert r["enforcement"] == {
        "mode": None,
        "totals": dict.fromkeys(
            (
                "decided",
                "executed",
                "dry_run",
                "failed",
                "unsupported",
                "partial",
                "unknown",
                "unrecorded",
            ),
            0,
        ),
        "not_done": 0,
        "by_rule": [],
    }
    assert [x["code"] for x in r["recommendations"]] == ["steady"]
    md, _ = render(r, "md")
    assert "## Enforcement by rule\n\nnone" in md
