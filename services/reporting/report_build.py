"""The monthly operations report (运营报告): figures, trend, and what to do about them.

Pure: projection documents in, a report dict out, so every threshold and every sentence
is unit-tested without a store. `report_reads.monthly_report` loads the documents and
`report_render` turns a report into JSON, Markdown, HTML or CSV.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting import enforcement_figures, figures
from services.reporting.figures import Doc
from services.reporting.folds.periods import month_bounds, previous_month
from services.reporting.report_texts import RECOMMENDATIONS, TEXTS, format_number

# Thresholds of the recommendations (documented in docs/reporting.md).
ACTIVITY_DROP_PCT = -20.0
RULE_DOMINANCE_SHARE = 0.5
RULE_DOMINANCE_MIN = 5
REPEAT_OFFENDERS_MIN = 3
COMPLAINTS_PER_1000_MAX = 10.0
TOP_RULES = 5


def language_of(value: str | None) -> str:
    """The report language: Chinese for any zh* group language, English otherwise."""
    return "zh-CN" if (value or "").lower().startswith("zh") else "en"


def pct_change(current: float, previous: float) -> float | None:
    """Percent change; None when there is nothing to compare against."""
    if not previous:
        return None
    return round((current - previous) / previous * 100, 1)


@dataclass
class ReportInputs:
    """Everything a monthly report is computed from (projection documents, as stored)."""

    group_key: str
    month: str
    group: Mapping[str, Any] | None
    activity_month: Mapping[str, Any] | None
    activity_previous: Mapping[str, Any] | None
    activity_days: Sequence[Mapping[str, Any]] = ()
    members: int = 0
    violation_days: Sequence[Mapping[str, Any]] = ()
    offenders: Sequence[Mapping[str, Any]] = ()
    complaint_cases: Sequence[Mapping[str, Any]] = ()  # views from figures.complaint_case
    spotcheck_items: Sequence[Mapping[str, Any]] = ()  # from figures.spotcheck_items
    operators: Sequence[Mapping[str, Any]] = ()
    sla_hours: float = 24.0
    enforcement_months: Sequence[Mapping[str, Any]] = ()  # enforcement month documents
    extra: dict[str, Any] = field(default_factory=dict)


def report_inputs(
    group_key: str,
    month: str,
    group: Mapping[str, Any] | None,
    activity_months: Iterable[Mapping[str, Any]],
    activity_month_docs: Iterable[Mapping[str, Any]],
    violation_months: Sequence[Mapping[str, Any]],
    complaint_cases: Sequence[Mapping[str, Any]],
    spotcheck_days: Iterable[Mapping[str, Any]],
    reviews: Mapping[str, Mapping[str, Any]],
    operators: Sequence[Mapping[str, Any]],
    sla_hours: float,
    enforcement_months: Sequence[Mapping[str, Any]] = (),
) -> ReportInputs:
    """The inputs of one group's report for `month`, from the documents as read:
    activity months up to and including it (without their days; members are summed
    over them), the month's activity documents with days, its violations month
    documents, its complaint case views, its sampled days and reviews, its operators,
    its enforcement month documents."""
    months = {d["period"]: d for d in activity_months}
    members = sum(int(d.get("joins", 0)) - int(d.get("leaves", 0)) for d in months.values())
    first, last = month_bounds(month)
    return ReportInputs(
        group_key=group_key,
        month=month,
        group=group,
        activity_month=months.get(month),
        activity_previous=months.get(previous_month(month)),
        activity_days=figures.activity_days(activity_month_docs),
        members=max(0, members),
        violation_days=figures.violation_days(violation_months, first, last),
        offenders=figures.offenders(violation_months),
        complaint_cases=complaint_cases,
        spotcheck_items=figures.spotcheck_items(spotcheck_days, reviews),
        operators=operators,
        sla_hours=sla_hours,
        enforcement_months=enforcement_months,
    )


def _activity(inputs: ReportInputs) -> Doc:
    empty = {"period": inputs.month, "start": "", "end": ""}
    current = figures.activity_item(inputs.activity_month or empty)
    busiest = max(range(24), key=lambda h: (current["hourly"][h], -h))
    daily = [figures.activity_item(d) for d in inputs.activity_days]
    return {
        **{k: current[k] for k in ("messages", "active_users", "joins", "leaves")},
        "net_growth": current["net_growth"],
        "messages_per_active_user": current["messages_per_active_user"],
        "members": inputs.members,
        "kinds": current["kinds"],
        "hourly": current["hourly"],
        "busiest_hour": busiest if current["messages"] else None,
        "daily": [
            {k: d[k] for k in ("start", "messages", "active_users", "joins", "leaves")}
            for d in sorted(daily, key=lambda d: d["start"])
        ],
    }


def _trend(inputs: ReportInputs, current: Doc) -> Doc:
    empty = {"period": previous_month(inputs.month), "start": "", "end": ""}
    prev = figures.activity_item(inputs.activity_previous or empty)
    return {
        "previous_month": previous_month(inputs.month),
        "previous": {k: prev[k] for k in ("messages", "active_users", "joins", "net_growth")},
        "messages_pct": pct_change(current["messages"], prev["messages"]),
        "active_users_pct": pct_change(current["active_users"], prev["active_users"]),
        "joins_pct": pct_change(current["joins"], prev["joins"]),
    }


def _violations(inputs: ReportInputs) -> Doc:
    by_rule = figures.sum_counters(inputs.violation_days, "by_rule", escaped=True)
    total = sum(int(d.get("total", 0)) for d in inputs.violation_days)
    return {
        "total": total,
        "top_rules": [
            {"rule_id": rule, "count": n, "share": round(n / total, 3) if total else 0.0}
            for rule, n in list(by_rule.items())[:TOP_RULES]
        ],
        "by_rule": by_rule,
        "by_action": figures.sum_counters(inputs.violation_days, "by_action"),
    }


def _sanctions(inputs: ReportInputs) -> Doc:
    by_operator = [
        {
            "operator": o.get("operator"),
            "role": o.get("role"),
            "sanctions_applied": int(o.get("sanctions_applied", 0)),
            "sanctions_revoked": int(o.get("sanctions_revoked", 0)),
            "resolutions": int(o.get("resolutions", 0)),
        }
        for o in sorted(
            inputs.operators, key=lambda o: (str(o.get("operator")), str(o.get("role")))
        )
    ]
    return {
        "automatic": figures.sum_counters(inputs.violation_days, "by_action"),
        "manual": figures.sum_counters(inputs.violation_days, "sanctions"),
        "revoked": sum(int(d.get("revoked", 0)) for d in inputs.violation_days),
        "by_operator": by_operator,
    }


def _enforcement(inputs: ReportInputs) -> Doc:
    first, last = month_bounds(inputs.month)
    return enforcement_figures.report_section(inputs.enforcement_months, first, last)


def _repeat_offenders(inputs: ReportInputs) -> list[Doc]:
    rows = []
    for doc in inputs.offenders:
        count = int((doc.get("by_month") or {}).get(inputs.month, 0))
        if count >= figures.REPEAT_OFFENDER_MIN:
            rows.append({"user_key": doc["user_key"], "count": count})
    return sorted(rows, key=lambda r: (-r["count"], r["user_key"]))


def recommendations(report: Mapping[str, Any], language: str) -> list[Doc]:
    """What the figures call for, most urgent first; 'steady' when nothing does."""
    texts = RECOMMENDATIONS[language]
    out: list[Doc] = []

    def add(code: str, **values: Any) -> None:
        out.append({"code": code, "text": texts[code].format(**values), "values": values})

    c = report["complaints"]
    median_resolution = c["hours_to_resolution"]["median"]
    if c["overdue"] or (median_resolution is not None and median_resolution > c["sla_hours"]):
        add(
            "operator_coverage",
            sla=format_number(c["sla_hours"]),
            hours=format_number(median_resolution) if median_resolution is not None else "-",
            overdue=c["overdue"],
        )
    drop = report["trend"]["messages_pct"]
    if drop is not None and drop <= ACTIVITY_DROP_PCT:
        add("engagement", pct=format_number(abs(drop)))
    v = report["violations"]
    if v["total"] >= RULE_DOMINANCE_MIN and v["top_rules"]:
        top = v["top_rules"][0]
        if top["share"] >= RULE_DOMINANCE_SHARE:
            add("pin_rules", rule=top["rule_id"], share=format_number(round(top["share"] * 100, 1)))
    if len(report["repeat_offenders"]) >= REPEAT_OFFENDERS_MIN:
        add("repeat_offenders", count=len(report["repeat_offenders"]))
    rate = c["per_1000_members"]
    if rate is not None and rate > COMPLAINTS_PER_1000_MAX:
        add("complaint_rate", rate=format_number(rate))
    s = report["spot_checks"]
    if s["violation"]:
        add("spot_check_findings", count=s["violation"])
    if s["pending"]:
        add("spot_check_backlog", count=s["pending"])
    if report["activity"]["net_growth"] < 0:
        add("member_retention", net=report["activity"]["net_growth"])
    e = report["enforcement"]
    if e["not_done"]:
        t = e["totals"]
        add(
            "enforcement_not_done",
            count=e["not_done"],
            failed=t["failed"],
            unsupported=t["unsupported"],
            partial=t["partial"],
            unknown=t["unknown"],
        )
    if e["mode"] == "dry_run":
        add("enforcement_dry_run", count=e["totals"]["dry_run"])
    if not out:
        add("steady")
    return out


def build_report(inputs: ReportInputs) -> Doc:
    """The monthly report of one group, from its projection documents (pure)."""
    group = inputs.group or {}
    language = language_of(group.get("language"))
    activity = _activity(inputs)
    complaints = figures.complaint_figures(
        list(inputs.complaint_cases), inputs.members, inputs.sla_hours
    )
    report: Doc = {
        "group_key": inputs.group_key,
        "month": inputs.month,
        "language": language,
        "timezone": group.get("timezone", "UTC"),
        "title": f"{TEXTS[language]['title']} {inputs.group_key} {inputs.month}",
        "activity": activity,
        "trend": _trend(inputs, activity),
        "violations": _violations(inputs),
        "complaints": complaints,
        "sanctions": _sanctions(inputs),
        "enforcement": _enforcement(inputs),
        "repeat_offenders": _repeat_offenders(inputs),
        "spot_checks": figures.spotcheck_outcomes(inputs.spotcheck_items),
    }
    report["recommendations"] = recommendations(report, language)
    return report


# ---------------------------------------------------------------- the month and its clock


class ReportMonthError(ValueError):
    """A month no report can be made for (malformed, or outside the calendar)."""


def check_month(month: str) -> str:
    """`month` if it is a "YYYY-MM" within figures.FIRST_DAY..LAST_DAY, else
    ReportMonthError. The date arithmetic below (the previous month, the first instant
    after the month on the group's clock) overflows for 0001-01 and 9999-12, and
    0000-01 is no date at all; the API refuses such months with a 422 first, this keeps
    every other caller (the CLI) from meeting an OverflowError."""
    first_year, last_year = figures.FIRST_DAY.year, figures.LAST_DAY.year
    try:
        if len(month) != 7 or month[4] != "-":
            raise ValueError
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ReportMonthError(f"month must be YYYY-MM (got {month[:40]!r})") from None
    if not first_year <= first.year <= last_year:
        raise ReportMonthError(
            f"month must be between {first_year}-01 and {last_year}-12 (got {month!r})"
        )
    return month


def month_end(month: str, tz: ZoneInfo) -> datetime:
    """The first instant after the month on the group's clock."""
    _, last = month_bounds(month)
    following = date.fromisoformat(last) + timedelta(days=1)
    return datetime.combine(following, time(), tz).astimezone(UTC)


def zone_of(name: str | None) -> ZoneInfo:
    """A group's clock: its time zone, UTC when it has none or an unknown one."""
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def report_as_of(month: str, group: Mapping[str, Any] | None, now: datetime) -> datetime:
    """The moment open complaints are judged at: the month's end on the group's clock,
    or `now` for the running month."""
    return min(month_end(month, zone_of((group or {}).get("timezone"))), now)
