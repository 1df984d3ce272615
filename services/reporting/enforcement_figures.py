"""What was decided against what happened on the platform, from the enforcement
projection's month documents (pure, like `figures`): the API's enforcement page and the
monthly report's section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.reporting.figures import Doc
from services.reporting.folds.base import unfield_key
from services.reporting.folds.enforcement import DRY_RUN_KEPT
from shared.events import EnforcementOutcome

OUTCOMES: tuple[str, ...] = EnforcementOutcome.__args__  # type: ignore[attr-defined]
# Outcomes that left the decision not (fully) carried out.
NOT_DONE = ("failed", "unsupported", "partial", "unknown")
COUNTERS = ("decided", "off", *OUTCOMES, "recorded", "unrecorded")
# The fold keeps the latest DRY_RUN_KEPT dry-run records of each month, so the latest
# that many of any range of whole months are exact.
WOULD_HAVE_LIMIT = DRY_RUN_KEPT


def _within(day: str, day_from: str | None, day_to: str | None) -> bool:
    return (day_from is None or day >= day_from) and (day_to is None or day <= day_to)


def _empty() -> Doc:
    return {**dict.fromkeys(COUNTERS, 0), "modes": {}, "scheduled": {}}


def _add_counts(into: dict[str, int], counts: Mapping[str, Any] | None) -> None:
    for key, n in (counts or {}).items():
        into[key] = into.get(key, 0) + int(n)


def _add(into: Doc, counts: Mapping[str, Any]) -> None:
    """Add a row's counts (or a stored cell's, read by `_stored`) to `into`."""
    for name in ("decided", "off", *OUTCOMES):
        into[name] += int(counts.get(name, 0))
    _add_counts(into["modes"], counts.get("modes"))
    for phase, outcomes in (counts.get("scheduled") or {}).items():
        _add_counts(into["scheduled"].setdefault(phase, {}), outcomes)


def _stored(cell: Mapping[str, Any]) -> Doc:
    """A stored cell (`decided`, `off`, `apply.<outcome>`, `mode.<mode>`, `scheduled`) in
    the shape of a row."""
    return {
        **{k: v for k, v in cell.items() if k in ("decided", "off")},
        **(cell.get("apply") or {}),
        "modes": cell.get("mode") or {},
        "scheduled": cell.get("scheduled") or {},
    }


def _finish(cell: Doc) -> Doc:
    """`recorded` (apply records) and `unrecorded` (decisions the enforcer has not
    recorded: not yet, or not at all; decisions of mode off are not expected to be)."""
    cell["recorded"] = sum(cell[o] for o in OUTCOMES)
    cell["unrecorded"] = max(0, cell["decided"] - cell["off"] - cell["recorded"])
    cell["modes"] = dict(sorted(cell["modes"].items()))
    cell["scheduled"] = {
        phase: dict(sorted(counts.items())) for phase, counts in sorted(cell["scheduled"].items())
    }
    return cell


def enforcement_rows(
    month_docs: Iterable[Mapping[str, Any]], day_from: str | None, day_to: str | None
) -> list[Doc]:
    """Per rule, platform and action, the decisions and the enforcer's records of the
    days within [from, to], by rule id (no rule first), platform and action."""
    cells: dict[tuple[str, str, str], Doc] = {}
    for doc in month_docs:
        platform = str(doc.get("platform") or str(doc.get("group_key", "")).split(":", 1)[0])
        for day, rules in (doc.get("days") or {}).items():
            if not _within(day, day_from, day_to):
                continue
            for rule_key, actions in rules.items():
                rule = unfield_key(rule_key)
                for action, counts in actions.items():
                    _add(cells.setdefault((rule, platform, action), _empty()), _stored(counts))
    rows = []
    for (rule, platform, action), cell in sorted(cells.items()):
        rows.append({"rule_id": rule or None, "platform": platform, "action": action})
        rows[-1].update(_finish(cell))
    return rows


def totals(rows: Iterable[Mapping[str, Any]]) -> Doc:
    into = _empty()
    for row in rows:
        _add(into, row)
    return _finish(into)


def mode_of(total: Mapping[str, Any]) -> str | None:
    """How the enforcer ran over the period, by the mode its apply records name (not by
    their outcomes: a dry run records `failed` for a decision it could not carry out
    either): `dry_run`, `live`, `mixed` (the mode changed), or None (nothing recorded)."""
    modes = {m for m, n in total["modes"].items() if n and m in ("dry_run", "live")}
    if len(modes) > 1:
        return "mixed"
    return modes.pop() if modes else None


def would_have(
    month_docs: Iterable[Mapping[str, Any]],
    day_from: str | None,
    day_to: str | None,
    limit: int = WOULD_HAVE_LIMIT,
) -> list[Doc]:
    """The latest dry-run records (what would have been done) within [from, to], newest
    first, at most `limit`."""
    items = [
        item
        for doc in month_docs
        for item in doc.get("dry_run") or []
        if _within(str(item.get("day", "")), day_from, day_to)
    ]
    items.sort(key=lambda i: str(i["k"]))
    return [{k: v for k, v in item.items() if k != "k"} for item in items[:limit]]


def enforcement_page(
    group_key: str,
    month_docs: Sequence[Mapping[str, Any]],
    day_from: str | None,
    day_to: str | None,
    limit: int,
) -> Doc:
    rows = enforcement_rows(month_docs, day_from, day_to)
    total = totals(rows)
    return {
        "group_key": group_key,
        "mode": mode_of(total),
        "totals": total,
        "items": rows,
        "would_have": would_have(month_docs, day_from, day_to, limit),
    }


# ---------------------------------------------------------------- the monthly report

REPORT_COUNTERS = ("decided", *OUTCOMES, "unrecorded")


def report_section(month_docs: Sequence[Mapping[str, Any]], first: str, last: str) -> Doc:
    """The report's enforcement section: totals and, per rule and platform, decided
    against what the enforcer did (over every action)."""
    rows = enforcement_rows(month_docs, first, last)
    by_rule: dict[tuple[str, str], Doc] = {}
    for row in rows:
        into = by_rule.setdefault(
            (row["rule_id"] or "", row["platform"]),
            {
                "rule_id": row["rule_id"],
                "platform": row["platform"],
                **dict.fromkeys(REPORT_COUNTERS, 0),
            },
        )
        for name in REPORT_COUNTERS:
            into[name] += row[name]
    total = totals(rows)
    return {
        "mode": mode_of(total),
        "totals": {name: total[name] for name in REPORT_COUNTERS},
        "not_done": sum(total[o] for o in NOT_DONE),
        "by_rule": [by_rule[key] for key in sorted(by_rule)],
    }
