"""The monthly operations report (运营报告): figures, trend, and what to do about them.

`build_report` is pure: projection documents in, a report dict out, so every threshold
and every sentence is unit-tested without a store. `monthly_report` loads the documents;
`render` turns a report into JSON, Markdown, HTML or CSV. Texts follow the group's
language (zh-CN or en) and use the terms of the community operations rules.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting import queries
from services.reporting.folds.periods import month_bounds, previous_month
from services.reporting.generations import collection_for
from shared.settings import Settings

Doc = dict[str, Any]
FORMATS: dict[str, str] = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}

# Thresholds of the recommendations (documented in docs/reporting.md).
ACTIVITY_DROP_PCT = -20.0
RULE_DOMINANCE_SHARE = 0.5
RULE_DOMINANCE_MIN = 5
REPEAT_OFFENDERS_MIN = 3
COMPLAINTS_PER_1000_MAX = 10.0
TOP_RULES = 5

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Operations report",
        "activity": "Activity",
        "messages": "Messages",
        "active_users": "Active users",
        "joins": "New members",
        "leaves": "Members left",
        "net_growth": "Net growth",
        "members": "Members (estimate)",
        "messages_per_active_user": "Messages per active user",
        "trend": "Change against {previous}",
        "violations": "Violations",
        "violations_total": "Automatic decisions",
        "top_rules": "Top rules",
        "rule": "Rule",
        "count": "Count",
        "share": "Share",
        "complaints": "Complaint handling",
        "total": "Filed",
        "open": "Open",
        "resolved": "Resolved",
        "upheld_ratio": "Upheld ratio",
        "hours_to_first_action": "Median hours to first action",
        "hours_to_resolution": "Median hours to resolution",
        "overdue": "Open beyond the {sla} h target",
        "per_1000_members": "Complaint rate (per 1,000 members)",
        "sanctions": "Sanctions",
        "automatic": "Automatic decisions",
        "manual": "Manual sanctions",
        "revoked": "Revoked",
        "repeat_offenders": "Repeat offenders",
        "user": "User",
        "spot_checks": "Spot checks",
        "sampled": "Sampled",
        "reviewed": "Reviewed",
        "ok": "Fine",
        "violation": "Violation found",
        "pending": "Pending review",
        "recommendations": "Recommendations",
        "none": "none",
        "action": "Action",
        "metric": "Metric",
        "value": "Value",
    },
    "zh-CN": {
        "title": "运营报告",
        "activity": "活跃度",
        "messages": "发言量",
        "active_users": "活跃用户",
        "joins": "新增用户",
        "leaves": "退群用户",
        "net_growth": "净增长",
        "members": "成员数（估算）",
        "messages_per_active_user": "人均发言量",
        "trend": "较{previous}变化",
        "violations": "违规行为",
        "violations_total": "违规处理次数",
        "top_rules": "主要违规规则",
        "rule": "规则",
        "count": "次数",
        "share": "占比",
        "complaints": "用户投诉处理",
        "total": "投诉数",
        "open": "待处理",
        "resolved": "已处理",
        "upheld_ratio": "投诉成立比例",
        "hours_to_first_action": "首次响应时间中位数（小时）",
        "hours_to_resolution": "处理完成时间中位数（小时）",
        "overdue": "超过 {sla} 小时未处理",
        "per_1000_members": "投诉率（每千名成员）",
        "sanctions": "处罚",
        "automatic": "自动处理",
        "manual": "人工处罚",
        "revoked": "已撤销",
        "repeat_offenders": "多次违规用户",
        "user": "用户",
        "spot_checks": "定期抽查",
        "sampled": "抽查条数",
        "reviewed": "已审核",
        "ok": "无问题",
        "violation": "发现违规",
        "pending": "待审核",
        "recommendations": "改进建议",
        "none": "无",
        "action": "处罚方式",
        "metric": "指标",
        "value": "数值",
    },
}

ACTION_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "warn": "warning",
        "remove_message": "message removed",
        "mute": "mute",
        "kick": "kick",
        "ban": "ban",
        "escalate": "escalated to an admin",
    },
    "zh-CN": {
        "warn": "警告",
        "remove_message": "删除消息",
        "mute": "禁言",
        "kick": "移出群聊",
        "ban": "封禁",
        "escalate": "上报管理员",
    },
}

RECOMMENDATIONS: dict[str, dict[str, str]] = {
    "en": {
        "operator_coverage": (
            "Complaints take longer than the {sla} h target (median {hours} h to resolve, "
            "{overdue} still open past it): add operator coverage so every complaint gets a "
            "prompt response."
        ),
        "engagement": (
            "Messages fell {pct}% against last month: plan engagement activities (topics for "
            "discussion, Q&A sessions, lucky draws) and ask members what they want."
        ),
        "pin_rules": (
            "Rule '{rule}' accounts for {share}% of violations: pin the group rules and remind "
            "members of them, explaining what this rule forbids."
        ),
        "repeat_offenders": (
            "{count} members were sanctioned more than once: educate them and apply the "
            "penalty standard step by step; report serious cases to an admin."
        ),
        "complaint_rate": (
            "The complaint rate is {rate} per 1,000 members: analyse the root causes of the "
            "complaints and adjust management to lower it."
        ),
        "spot_check_findings": (
            "Spot checks found {count} violating messages the rules missed: review the rule "
            "set so such content is caught automatically."
        ),
        "spot_check_backlog": (
            "{count} spot-check samples are still unreviewed: admins should finish the "
            "regular spot checks."
        ),
        "member_retention": (
            "More members left than joined ({net}): check the introduction for newcomers and "
            "collect feedback from those who leave."
        ),
        "steady": "No figure crossed a warning threshold this month: keep the current plan.",
    },
    "zh-CN": {
        "operator_coverage": (
            "投诉处理时间超过 {sla} 小时的目标（处理完成时间中位数 {hours} 小时，"
            "{overdue} 件超时未处理）：建议增加运营人员值守，确保及时响应。"
        ),
        "engagement": (
            "发言量较上月下降 {pct}%：建议策划社群活动（话题讨论、问答、抽奖等），并收集成员需求。"
        ),
        "pin_rules": (
            "规则“{rule}”占违规行为的 {share}%：建议置顶群规并提醒成员，说明该规则禁止的内容。"
        ),
        "repeat_offenders": (
            "{count} 名成员多次违规：建议对违规者进行教育，按处罚标准逐级处理，严重情况上报管理员。"
        ),
        "complaint_rate": (
            "投诉率为每千名成员 {rate} 件：建议分析投诉原因，改进管理，降低投诉率。"
        ),
        "spot_check_findings": (
            "定期抽查发现 {count} 条未被规则识别的违规内容：建议完善规则，使此类内容能被自动识别。"
        ),
        "spot_check_backlog": "还有 {count} 条抽查内容未审核：建议管理员完成定期抽查。",
        "member_retention": (
            "退群人数多于新增用户（净增长 {net}）：建议检查新成员的入群介绍，并收集退群成员的反馈。"
        ),
        "steady": "本月各项指标均未触及预警阈值：建议保持当前运营计划。",
    },
}


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
    complaint_cases: Sequence[Mapping[str, Any]] = ()  # views from queries.complaint_case
    spotcheck_items: Sequence[Mapping[str, Any]] = ()  # from queries.spotcheck_items
    operators: Sequence[Mapping[str, Any]] = ()
    sla_hours: float = 24.0
    extra: dict[str, Any] = field(default_factory=dict)


def _activity(inputs: ReportInputs) -> Doc:
    empty = {"period": inputs.month, "start": "", "end": ""}
    current = queries.activity_item(inputs.activity_month or empty)
    busiest = max(range(24), key=lambda h: (current["hourly"][h], -h))
    daily = [queries.activity_item(d) for d in inputs.activity_days]
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
    prev = queries.activity_item(inputs.activity_previous or empty)
    return {
        "previous_month": previous_month(inputs.month),
        "previous": {k: prev[k] for k in ("messages", "active_users", "joins", "net_growth")},
        "messages_pct": pct_change(current["messages"], prev["messages"]),
        "active_users_pct": pct_change(current["active_users"], prev["active_users"]),
        "joins_pct": pct_change(current["joins"], prev["joins"]),
    }


def _violations(inputs: ReportInputs) -> Doc:
    by_rule = queries.sum_counters(inputs.violation_days, "by_rule", escaped=True)
    total = sum(int(d.get("total", 0)) for d in inputs.violation_days)
    return {
        "total": total,
        "top_rules": [
            {"rule_id": rule, "count": n, "share": round(n / total, 3) if total else 0.0}
            for rule, n in list(by_rule.items())[:TOP_RULES]
        ],
        "by_rule": by_rule,
        "by_action": queries.sum_counters(inputs.violation_days, "by_action"),
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
        "automatic": queries.sum_counters(inputs.violation_days, "by_action"),
        "manual": queries.sum_counters(inputs.violation_days, "sanctions"),
        "revoked": sum(int(d.get("revoked", 0)) for d in inputs.violation_days),
        "by_operator": by_operator,
    }


def _repeat_offenders(inputs: ReportInputs) -> list[Doc]:
    rows = []
    for doc in inputs.offenders:
        count = int((doc.get("by_month") or {}).get(inputs.month, 0))
        if count >= queries.REPEAT_OFFENDER_MIN:
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
            sla=_num(c["sla_hours"]),
            hours=_num(median_resolution) if median_resolution is not None else "-",
            overdue=c["overdue"],
        )
    drop = report["trend"]["messages_pct"]
    if drop is not None and drop <= ACTIVITY_DROP_PCT:
        add("engagement", pct=_num(abs(drop)))
    v = report["violations"]
    if v["total"] >= RULE_DOMINANCE_MIN and v["top_rules"]:
        top = v["top_rules"][0]
        if top["share"] >= RULE_DOMINANCE_SHARE:
            add("pin_rules", rule=top["rule_id"], share=_num(round(top["share"] * 100, 1)))
    if len(report["repeat_offenders"]) >= REPEAT_OFFENDERS_MIN:
        add("repeat_offenders", count=len(report["repeat_offenders"]))
    rate = c["per_1000_members"]
    if rate is not None and rate > COMPLAINTS_PER_1000_MAX:
        add("complaint_rate", rate=_num(rate))
    s = report["spot_checks"]
    if s["violation"]:
        add("spot_check_findings", count=s["violation"])
    if s["pending"]:
        add("spot_check_backlog", count=s["pending"])
    if report["activity"]["net_growth"] < 0:
        add("member_retention", net=report["activity"]["net_growth"])
    if not out:
        add("steady")
    return out


def _num(value: float) -> str:
    return f"{value:g}"


def build_report(inputs: ReportInputs) -> Doc:
    """The monthly report of one group, from its projection documents (pure)."""
    group = inputs.group or {}
    language = language_of(group.get("language"))
    activity = _activity(inputs)
    complaints = queries.complaint_figures(
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
        "repeat_offenders": _repeat_offenders(inputs),
        "spot_checks": queries.spotcheck_outcomes(inputs.spotcheck_items),
    }
    report["recommendations"] = recommendations(report, language)
    return report


# ---------------------------------------------------------------- loading


class ReportMonthError(ValueError):
    """A month no report can be made for (malformed, or outside the calendar)."""


def check_month(month: str) -> str:
    """`month` if it is a "YYYY-MM" within queries.FIRST_DAY..LAST_DAY, else
    ReportMonthError. The date arithmetic below (the previous month, the first instant
    after the month on the group's clock) overflows for 0001-01 and 9999-12, and
    0000-01 is no date at all; the API refuses such months with a 422 first, this keeps
    every other caller (the CLI) from meeting an OverflowError."""
    first_year, last_year = queries.FIRST_DAY.year, queries.LAST_DAY.year
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


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


async def monthly_report(
    db: AsyncDatabase,
    group_key: str,
    month: str,
    settings: Settings,
    now: datetime | None = None,
) -> Doc:
    """Load the documents of one group and month and build its report. Open complaints are
    judged overdue as of the month's end, or `now` for the running month."""
    check_month(month)
    group = await queries.group_doc(db, group_key)
    tz = _zone((group or {}).get("timezone"))
    as_of = min(month_end(month, tz), now or datetime.now(UTC))
    first, last = month_bounds(month)
    prev = previous_month(month)

    activity = await collection_for(db, "activity")
    months = {
        d["period"]: d
        async for d in activity.find(
            {"group_key": group_key, "granularity": "month", "start": {"$lte": first}},
            {"days": 0},
        )
    }
    members = sum(int(d.get("joins", 0)) - int(d.get("leaves", 0)) for d in months.values())
    days = queries.activity_days(
        [
            d
            async for d in activity.find(
                {"group_key": group_key, "granularity": "month", "start": first}
            )
        ]
    )
    violations = await collection_for(db, "violations")
    violation_months = [
        d async for d in violations.find({"group_key": group_key, "kind": "month", "month": month})
    ]
    violation_days = queries.violation_days(violation_months, first, last)
    offenders = queries.offenders(violation_months)
    cases = await queries.complaint_cases(db, group_key, settings.complaint_sla_hours, as_of, month)
    spot_days = await queries.spotcheck_day_docs(db, group_key, first, last)
    reviews = await queries.reviews_in_month(db, group_key, month)
    ops = await queries.operator_docs(db, group_key, month)
    return build_report(
        ReportInputs(
            group_key=group_key,
            month=month,
            group=group,
            activity_month=months.get(month),
            activity_previous=months.get(prev),
            activity_days=days,
            members=max(0, members),
            violation_days=violation_days,
            offenders=offenders,
            complaint_cases=cases,
            spotcheck_items=queries.spotcheck_items(spot_days, reviews),
            operators=ops,
            sla_hours=settings.complaint_sla_hours,
        )
    )


# ---------------------------------------------------------------- rendering

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _fmt(value: Any, none: str = "-") -> str:
    if value is None:
        return none
    if isinstance(value, float):
        return _num(value)
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+g}%"


def summary_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(section, label, value) rows shared by the Markdown, HTML and CSV renderers."""
    t = TEXTS[report["language"]]
    names = ACTION_NAMES[report["language"]]
    a, tr, c = report["activity"], report["trend"], report["complaints"]
    trend = t["trend"].format(previous=tr["previous_month"])
    rows: list[tuple[str, str, str]] = [
        (t["activity"], t["messages"], f"{a['messages']} ({trend}: {_pct(tr['messages_pct'])})"),
        (
            t["activity"],
            t["active_users"],
            f"{a['active_users']} ({trend}: {_pct(tr['active_users_pct'])})",
        ),
        (t["activity"], t["joins"], f"{a['joins']} ({trend}: {_pct(tr['joins_pct'])})"),
        (t["activity"], t["leaves"], str(a["leaves"])),
        (t["activity"], t["net_growth"], str(a["net_growth"])),
        (t["activity"], t["members"], str(a["members"])),
        (t["activity"], t["messages_per_active_user"], _fmt(a["messages_per_active_user"])),
        (t["violations"], t["violations_total"], str(report["violations"]["total"])),
        (t["complaints"], t["total"], str(c["total"])),
        (t["complaints"], t["open"], str(c["open"])),
        (t["complaints"], t["resolved"], str(c["resolved"])),
        (t["complaints"], t["upheld_ratio"], _fmt(c["upheld_ratio"])),
        (t["complaints"], t["hours_to_first_action"], _fmt(c["hours_to_first_action"]["median"])),
        (t["complaints"], t["hours_to_resolution"], _fmt(c["hours_to_resolution"]["median"])),
        (t["complaints"], t["overdue"].format(sla=_num(c["sla_hours"])), str(c["overdue"])),
        (t["complaints"], t["per_1000_members"], _fmt(c["per_1000_members"])),
    ]
    s = report["sanctions"]
    for action, n in s["automatic"].items():
        rows.append((t["sanctions"], f"{t['automatic']}: {names.get(action, action)}", str(n)))
    for action, n in s["manual"].items():
        rows.append((t["sanctions"], f"{t['manual']}: {names.get(action, action)}", str(n)))
    rows.append((t["sanctions"], t["revoked"], str(s["revoked"])))
    sc = report["spot_checks"]
    for key in ("sampled", "reviewed", "ok", "violation", "pending"):
        rows.append((t["spot_checks"], t[key], str(sc[key])))
    return rows


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, default=_json_default)


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = [
        "| " + " | ".join(_md_cell(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    t = TEXTS[report["language"]]
    lines = [f"# {report['title']}", ""]
    section = None
    table: list[tuple[str, str]] = []

    def flush() -> None:
        if section is not None:
            lines.extend([f"## {section}", "", *_md_table((t["metric"], t["value"]), table), ""])

    for sec, label, value in summary_rows(report):
        if sec != section:
            flush()
            section, table = sec, []
        table.append((label, value))
    flush()
    lines += [f"## {t['top_rules']}", ""]
    top = report["violations"]["top_rules"]
    if top:
        lines += _md_table(
            (t["rule"], t["count"], t["share"]),
            [(r["rule_id"], r["count"], f"{r['share'] * 100:g}%") for r in top],
        )
    else:
        lines.append(t["none"])
    lines += ["", f"## {t['repeat_offenders']}", ""]
    if report["repeat_offenders"]:
        lines += _md_table(
            (t["user"], t["count"]),
            [(r["user_key"], r["count"]) for r in report["repeat_offenders"]],
        )
    else:
        lines.append(t["none"])
    lines += ["", f"## {t['recommendations']}", ""]
    lines += [f"- {r['text']}" for r in report["recommendations"]]
    return "\n".join(lines) + "\n"


def render_html(report: Mapping[str, Any]) -> str:
    template = _TEMPLATES.get_template("monthly_report.html.j2")
    sections: dict[str, list[tuple[str, str]]] = {}
    for sec, label, value in summary_rows(report):
        sections.setdefault(sec, []).append((label, value))
    return template.render(r=report, t=TEXTS[report["language"]], sections=sections)


def render_csv(report: Mapping[str, Any]) -> str:
    """Long format (section, metric, key, value): every figure, easy to pivot in a sheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "metric", "key", "value"])
    a = report["activity"]
    for key in ("messages", "active_users", "joins", "leaves", "net_growth", "members"):
        writer.writerow(["activity", key, "", a[key]])
    writer.writerow(["activity", "messages_per_active_user", "", a["messages_per_active_user"]])
    for hour, n in enumerate(a["hourly"]):
        writer.writerow(["activity", "hourly", hour, n])
    for kind, n in a["kinds"].items():
        writer.writerow(["activity", "kinds", kind, n])
    for day in a["daily"]:
        for key in ("messages", "active_users", "joins", "leaves"):
            writer.writerow(["daily", key, day["start"], day[key]])
    for key in ("messages_pct", "active_users_pct", "joins_pct"):
        writer.writerow(["trend", key, report["trend"]["previous_month"], report["trend"][key]])
    v = report["violations"]
    writer.writerow(["violations", "total", "", v["total"]])
    for rule, n in v["by_rule"].items():
        writer.writerow(["violations", "by_rule", rule, n])
    for action, n in v["by_action"].items():
        writer.writerow(["violations", "by_action", action, n])
    c = report["complaints"]
    for key in ("total", "open", "resolved", "upheld", "rejected", "upheld_ratio", "overdue"):
        writer.writerow(["complaints", key, "", c[key]])
    for key in ("resolved_late", "sla_hours", "per_1000_members"):
        writer.writerow(["complaints", key, "", c[key]])
    for key in ("hours_to_first_action", "hours_to_resolution"):
        for stat in ("median", "mean", "max"):
            writer.writerow(["complaints", key, stat, c[key][stat]])
    for category, n in c["categories"].items():
        writer.writerow(["complaints", "categories", category, n])
    s = report["sanctions"]
    for kind in ("automatic", "manual"):
        for action, n in s[kind].items():
            writer.writerow(["sanctions", kind, action, n])
    writer.writerow(["sanctions", "revoked", "", s["revoked"]])
    for r in report["repeat_offenders"]:
        writer.writerow(["repeat_offenders", "count", r["user_key"], r["count"]])
    for key, n in report["spot_checks"].items():
        writer.writerow(["spot_checks", key, "", n])
    for r in report["recommendations"]:
        writer.writerow(["recommendations", r["code"], "", r["text"]])
    return out.getvalue()


_RENDERERS = {
    "json": render_json,
    "md": render_markdown,
    "html": render_html,
    "csv": render_csv,
}


def render(report: Mapping[str, Any], fmt: str) -> tuple[str, str]:
    """(body, media type) of a report in one of FORMATS."""
    if fmt not in _RENDERERS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    return _RENDERERS[fmt](report), FORMATS[fmt]
