"""The monthly report as a file: JSON (for tools), Markdown, HTML (one self-contained page,
from the Jinja template in templates/) and CSV (long format, for spreadsheets).

`render(report, fmt)` gives the body and its media type; `FORMATS` lists the formats. The
Markdown, HTML and CSV renderers share the summary rows and the report's language.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from services.reporting.report_texts import ACTION_NAMES, TEXTS, format_number
from shared.templates import template_environment

FORMATS: dict[str, str] = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}

_TEMPLATES = template_environment(Path(__file__).parent)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _fmt(value: Any, none: str = "-") -> str:
    if value is None:
        return none
    if isinstance(value, float):
        return format_number(value)
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
        (
            t["complaints"],
            t["overdue"].format(sla=format_number(c["sla_hours"])),
            str(c["overdue"]),
        ),
        (t["complaints"], t["per_1000_members"], _fmt(c["per_1000_members"])),
    ]
    s = report["sanctions"]
    for action, n in s["automatic"].items():
        rows.append((t["sanctions"], f"{t['automatic']}: {names.get(action, action)}", str(n)))
    for action, n in s["manual"].items():
        rows.append((t["sanctions"], f"{t['manual']}: {names.get(action, action)}", str(n)))
    rows.append((t["sanctions"], t["revoked"], str(s["revoked"])))
    rows += _enforcement_rows(report)
    sc = report["spot_checks"]
    for key in ("sampled", "reviewed", "ok", "violation", "pending"):
        rows.append((t["spot_checks"], t[key], str(sc[key])))
    return rows


# The enforcement figures a report shows, with their text keys; `dry_run` reads "would
# have been carried out".
ENFORCEMENT_COLUMNS = (
    ("decided", "decided"),
    ("executed", "executed"),
    ("dry_run", "would_have"),
    ("failed", "failed"),
    ("unsupported", "unsupported"),
    ("partial", "partial"),
    ("unknown", "unknown"),
)


def _shows_dry_run(enforcement: Mapping[str, Any]) -> bool:
    return enforcement["mode"] in ("dry_run", "mixed") or enforcement["totals"]["dry_run"] > 0


def _enforcement_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    t = TEXTS[report["language"]]
    e = report["enforcement"]
    shown = [
        (name, text) for name, text in ENFORCEMENT_COLUMNS if name != "dry_run" or _shows_dry_run(e)
    ]
    rows = [(t["enforcement"], t[text], str(e["totals"][name])) for name, text in shown]
    rows.append((t["enforcement"], t["unrecorded"], str(e["totals"]["unrecorded"])))
    return rows


def enforcement_table(report: Mapping[str, Any]) -> tuple[str | None, list[str], list[list[str]]]:
    """The enforcement-by-rule table shared by Markdown and HTML: the note on a dry run
    (None when the enforcer ran live), the header and the rows (per rule and platform)."""
    t = TEXTS[report["language"]]
    e = report["enforcement"]
    note = {"dry_run": t["mode_dry_run"], "mixed": t["mode_mixed"]}.get(str(e["mode"]))
    columns = [(n, x) for n, x in ENFORCEMENT_COLUMNS if n != "dry_run" or _shows_dry_run(e)]
    header = [t["rule"], t["platform"], *(t[text] for _, text in columns)]
    rows = [
        [r["rule_id"] or t["no_rule"], r["platform"], *(str(r[name]) for name, _ in columns)]
        for r in e["by_rule"]
    ]
    return note, header, rows


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
    note, header, enforcement_rows = enforcement_table(report)
    lines += ["", f"## {t['enforcement_by_rule']}", ""]
    if note:
        lines += [note, ""]
    if enforcement_rows:
        lines += _md_table(header, enforcement_rows)
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
    note, header, rows = enforcement_table(report)
    return template.render(
        r=report,
        t=TEXTS[report["language"]],
        sections=sections,
        enforcement={"note": note, "header": header, "rows": rows},
    )


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
    e = report["enforcement"]
    writer.writerow(["enforcement", "mode", "", e["mode"]])
    for key, n in e["totals"].items():
        writer.writerow(["enforcement", key, "", n])
    for r in e["by_rule"]:  # the platform is the group's: one per report
        for key, _ in (*ENFORCEMENT_COLUMNS, ("unrecorded", "")):
            writer.writerow(["enforcement", f"by_rule.{key}", r["rule_id"] or "", r[key]])
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
