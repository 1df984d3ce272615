"""The read side's figures: projection documents in, the answers people read out.

Pure (no store, no I/O), so every figure is unit-tested without MongoDB: `reads` fetches
exactly the documents these functions need and hands them over; the monthly report
(`report_build`) is computed from the same functions. The calendar the API answers for
and the page limits live here too, so the routes, the reads and the report share them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.reporting.folds.base import unfield_key
from services.reporting.folds.periods import week_period

MAX_LIMIT = 1000
REPEAT_OFFENDER_MIN = 2
# The calendar the API answers for. Dates outside it are refused (422) before any date
# arithmetic: `date` overflows a few days from year 1 and 9999, which is where an
# attacker's from=0001-01-01&to=9999-12-31 lands. No event is accepted outside it either.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
# Longest from..to one request may name (about ten years); leave both out for everything.
MAX_RANGE_DAYS = 3660
Doc = dict[str, Any]


# ---------------------------------------------------------------- helpers


def aware(moment: datetime | None) -> datetime | None:
    """Stores may hand back naive UTC datetimes; the figures compare aware ones."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def hours_between(start: datetime | None, end: datetime | None) -> float | None:
    start, end = aware(start), aware(end)
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 3600, 2)


def shift_day(day: str, days: int) -> str:
    """An ISO date moved by `days`, held at the ends of the calendar instead of raising
    OverflowError (the API already keeps dates far from them; other callers may not)."""
    start = date.fromisoformat(day)
    try:
        return (start + timedelta(days=days)).isoformat()
    except OverflowError:
        return (date.max if days > 0 else date.min).isoformat()


def public(doc: Mapping[str, Any]) -> Doc:
    """A document without its storage id (ids are composite strings of no use to readers)."""
    return {k: v for k, v in doc.items() if k != "_id"}


def sum_counters(docs: Iterable[Mapping[str, Any]], name: str, escaped: bool = False) -> Doc:
    """Add up a counter map (e.g. `by_rule`) over documents, largest first."""
    total: Counter[str] = Counter()
    for doc in docs:
        for key, value in (doc.get(name) or {}).items():
            total[unfield_key(key) if escaped else key] += int(value)
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


def _add_counts(into: dict[str, Any], counts: Mapping[str, Any] | None) -> None:
    for key, value in (counts or {}).items():
        into[key] = into.get(key, 0) + value


def _within(day: str, day_from: str | None, day_to: str | None) -> bool:
    return (day_from is None or day >= day_from) and (day_to is None or day <= day_to)


# ---------------------------------------------------------------- groups


def members_estimate(doc: Mapping[str, Any] | None) -> int:
    if not doc:
        return 0
    return max(0, int(doc.get("joins", 0)) - int(doc.get("leaves", 0)))


def group_summary(doc: Mapping[str, Any]) -> Doc:
    """One group of the group list, from its `groups` document."""
    return {
        "group_key": doc["_id"],
        "platform": doc.get("platform"),
        "language": doc.get("language", "en"),
        "timezone": doc.get("timezone", "UTC"),
        "members": members_estimate(doc),
        "messages": int(doc.get("messages", 0)),
        "first_event_at": doc.get("first_event_at"),
        "last_event_at": doc.get("last_event_at"),
    }


# ---------------------------------------------------------------- activity
# The fold keeps one activity document per group and month with its days inside; days
# and weeks are read back out of them.


def activity_item(doc: Mapping[str, Any]) -> Doc:
    """One activity period as the API shows it; derived figures are computed here."""
    messages = int(doc.get("messages", 0))
    active = len(doc.get("users") or [])
    joins, leaves = int(doc.get("joins", 0)), int(doc.get("leaves", 0))
    hourly = doc.get("hourly") or {}
    return {
        "period": doc["period"],
        "start": doc["start"],
        "end": doc["end"],
        "messages": messages,
        "active_users": active,
        "joins": joins,
        "leaves": leaves,
        "net_growth": joins - leaves,
        "messages_per_active_user": round(messages / active, 2) if active else 0.0,
        "hourly": [int(hourly.get(str(h), 0)) for h in range(24)],
        "decisions": dict(sorted((doc.get("decisions") or {}).items())),
        "kinds": dict(sorted((doc.get("kinds") or {}).items())),
    }


def activity_days(month_docs: Iterable[Mapping[str, Any]]) -> list[Doc]:
    """The day records of activity month documents, oldest first, as period documents."""
    days: list[Doc] = []
    for doc in month_docs:
        for day, figures in (doc.get("days") or {}).items():
            days.append({**figures, "period": day, "start": day, "end": day})
    return sorted(days, key=lambda d: d["start"])


def activity_weeks(days: Iterable[Mapping[str, Any]]) -> list[Doc]:
    """ISO week records summed from day records (distinct users: the union of the days')."""
    weeks: dict[str, Doc] = {}
    for day in days:
        start = date.fromisoformat(day["start"])
        week = week_period(start)
        into = weeks.setdefault(
            week.label,
            {"period": week.label, "start": week.start, "end": week.end, "users": set()},
        )
        for name in ("messages", "joins", "leaves"):
            if name in day:
                into[name] = into.get(name, 0) + day[name]
        for name in ("hourly", "kinds", "decisions"):
            if name in day:
                _add_counts(into.setdefault(name, {}), day[name])
        into["users"].update(day.get("users") or [])
    return [
        {**w, "users": sorted(w["users"])} for w in sorted(weeks.values(), key=lambda w: w["start"])
    ]


def day_or_week_periods(
    days: Sequence[Mapping[str, Any]], granularity: str
) -> list[Mapping[str, Any]]:
    """Day records as they are ("day"), or summed into ISO weeks ("week")."""
    return list(days) if granularity == "day" else list(activity_weeks(days))


def in_window(
    period: Mapping[str, Any], date_from: str | None, date_to: str | None, cursor: str | None
) -> bool:
    """A period overlapping [from, to] that starts after the page cursor."""
    return (
        (not date_to or period["start"] <= date_to)
        and (not cursor or period["start"] > cursor)
        and (not date_from or period["end"] >= date_from)
    )


def activity_page(
    group_key: str, granularity: str, periods: Sequence[Mapping[str, Any]], limit: int
) -> Doc:
    """A page of periods (up to `limit` + 1 read, oldest first); `next` is the cursor of
    the next page (the start date of the last period returned), or None on the last."""
    items = [activity_item(d) for d in periods[:limit]]
    more = len(periods) > limit
    return {
        "group_key": group_key,
        "granularity": granularity,
        "items": items,
        "next": items[-1]["start"] if more and items else None,
    }


# ---------------------------------------------------------------- violations
# One violations document per group and month (counters, offenders, manual sanctions)
# and one per group and ISO week (the decisions themselves).


def violation_days(
    month_docs: Iterable[Mapping[str, Any]], day_from: str | None, day_to: str | None
) -> list[Doc]:
    """The daily counters of violations month documents within [from, to]."""
    return [
        {**figures, "day": day}
        for doc in month_docs
        for day, figures in (doc.get("days") or {}).items()
        if _within(day, day_from, day_to)
    ]


def offenders(month_docs: Iterable[Mapping[str, Any]]) -> list[Doc]:
    """Per user, the actions against them summed over the months given (`by_month` too)."""
    out: dict[str, Doc] = {}
    for doc in month_docs:
        for key, figures in (doc.get("offenders") or {}).items():
            user_key = unfield_key(key)
            into = out.setdefault(user_key, {"user_key": user_key, "count": 0, "by_month": {}})
            count = int(figures.get("count", 0))
            into["count"] += count
            into["by_month"][doc["month"]] = into["by_month"].get(doc["month"], 0) + count
            _add_counts(into.setdefault("by_action", {}), figures.get("by_action"))
            _add_counts(into.setdefault("by_rule", {}), figures.get("by_rule"))
            for name, pick in (("first_at", min), ("last_at", max)):
                if figures.get(name) is not None:
                    current = into.get(name)
                    into[name] = figures[name] if current is None else pick(current, figures[name])
    return list(out.values())


def repeat_offenders(month_docs: Iterable[Mapping[str, Any]], limit: int = 100) -> list[Doc]:
    """Users with two or more actions against them over all months, most first."""
    rows = [o for o in offenders(month_docs) if o["count"] >= REPEAT_OFFENDER_MIN]
    rows.sort(key=lambda o: (-o["count"], o["user_key"]))
    return [
        {
            "user_key": o["user_key"],
            "count": o["count"],
            "by_action": o.get("by_action", {}),
            "first_at": o.get("first_at"),
            "last_at": o.get("last_at"),
        }
        for o in rows[:limit]
    ]


def matching_decisions(
    week_docs: Iterable[Mapping[str, Any]],
    date_from: str | None,
    date_to: str | None,
    rule: str | None,
    action: str | None,
) -> list[Doc]:
    """The decisions of decision-week documents within [from, to] (of one rule and one
    action when given), newest first, then by decision id."""
    decisions = [
        entry
        for doc in week_docs
        for entry in doc.get("items") or []
        if (not date_from or entry["day"] >= date_from)
        and (not date_to or entry["day"] <= date_to)
        and (not rule or entry["rule_id"] == rule)
        and (not action or entry["action"] == action)
    ]
    decisions.sort(key=lambda d: d["decision_id"])
    decisions.sort(key=lambda d: d["at"], reverse=True)
    return decisions


def violations_page(
    group_key: str,
    decisions: Sequence[Mapping[str, Any]],
    limit: int,
    offset: int,
    daily: Sequence[Mapping[str, Any]],
    all_months: Iterable[Mapping[str, Any]],
) -> Doc:
    """A page of decisions (see matching_decisions), the counters of the days in range
    (see violation_days) and the repeat offenders of every month."""
    page = decisions[offset : offset + limit + 1]
    return {
        "group_key": group_key,
        "items": [{"decision_id": d["decision_id"], **d} for d in page[:limit]],
        "next_offset": offset + limit if len(page) > limit else None,
        "counts": {
            "total": sum(int(d.get("total", 0)) for d in daily),
            "by_rule": sum_counters(daily, "by_rule", escaped=True),
            "by_action": sum_counters(daily, "by_action"),
            "manual_sanctions": sum_counters(daily, "sanctions"),
        },
        "repeat_offenders": repeat_offenders(all_months),
    }


# ---------------------------------------------------------------- complaints


def first_actions(actions: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[datetime, str]]]:
    """Decision/sanction times per target user key, sorted, for the complaint join."""
    by_target: dict[str, list[tuple[datetime, str]]] = {}
    for action in actions:
        at = aware(action.get("at"))
        if at is not None:
            by_target.setdefault(action["user_key"], []).append((at, action["kind"]))
    for times in by_target.values():
        times.sort()
    return by_target


def actions_against(
    violation_docs: Iterable[Mapping[str, Any]], targets: Iterable[str], since: datetime | None
) -> dict[str, list[tuple[datetime, str]]]:
    """The decisions (`items`) and manual sanctions (`manual`) of violations documents
    against the given users at or after `since`, as first_actions gives them."""
    wanted = set(targets)
    actions: list[Doc] = []
    for doc in violation_docs:
        entries = [*(doc.get("items") or []), *(doc.get("manual") or {}).values()]
        for entry in entries:
            at = aware(entry.get("at"))
            if entry.get("user_key") in wanted and (
                since is None or (at is not None and at >= aware(since))  # type: ignore[operator]
            ):
                actions.append({"user_key": entry["user_key"], "at": at, "kind": entry["kind"]})
    return first_actions(actions)


def filed_ids(filing_docs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The complaint ids filed in complaints month documents, sorted."""
    return sorted({c["complaint_id"] for d in filing_docs for c in (d.get("cases") or {}).values()})


def merge_cases(
    filing_docs: Iterable[Mapping[str, Any]],
    resolution_docs: Iterable[Mapping[str, Any]],
    group_key: str,
    only_filed: bool = False,
) -> list[Doc]:
    """Complaint cases from the filings and resolutions of complaints month documents,
    newest filing first (cases resolved but never filed last), then by complaint id.

    A case resolved in several months takes the earliest resolution time and the other
    fields of the latest month's resolution (the last one folded, in stream order).
    """
    cases: dict[str, Doc] = {}
    for doc in sorted(filing_docs, key=lambda d: d["month"]):
        for case in (doc.get("cases") or {}).values():
            cases[case["complaint_id"]] = dict(case)
    resolutions: dict[str, Doc] = {}
    for doc in sorted(resolution_docs, key=lambda d: d["month"]):
        for resolution in (doc.get("resolutions") or {}).values():
            cid = resolution["complaint_id"]
            earlier = resolutions.get(cid)
            merged = dict(resolution)
            if earlier is not None and earlier.get("resolved_at") is not None:
                merged["resolved_at"] = min(earlier["resolved_at"], resolution["resolved_at"])
            resolutions[cid] = merged
    if not only_filed:
        for cid in resolutions:
            cases.setdefault(cid, {"group_key": group_key, "complaint_id": cid})
    out = []
    for cid, case in cases.items():
        resolution = resolutions.get(cid)
        case["resolved"] = resolution is not None
        if resolution is not None:
            case.update({k: v for k, v in resolution.items() if k != "complaint_id"})
        out.append(case)
    out.sort(key=lambda c: c["complaint_id"])
    with_time = [c for c in out if c.get("filed_at") is not None]
    with_time.sort(key=lambda c: c["filed_at"], reverse=True)
    return with_time + [c for c in out if c.get("filed_at") is None]


def earliest_filing(cases: Iterable[Mapping[str, Any]]) -> datetime | None:
    """When the first of these cases was filed (None if none has a filing time)."""
    filed = [t for c in cases if (t := aware(c.get("filed_at"))) is not None]
    return min(filed) if filed else None


def complaint_case(
    case: Mapping[str, Any],
    actions_by_target: Mapping[str, list[tuple[datetime, str]]],
    sla_hours: float,
    as_of: datetime,
) -> Doc:
    """A case with its handling figures: the first action is the earliest of the
    resolution and any decision or sanction against the target at or after filing."""
    filed_at = aware(case.get("filed_at"))
    resolved_at = aware(case.get("resolved_at"))
    first_at, first_kind = resolved_at, "resolution" if resolved_at else None
    if filed_at is not None:
        for at, kind in actions_by_target.get(case.get("target", ""), []):
            if at >= filed_at:
                if first_at is None or at < first_at:
                    first_at, first_kind = at, kind
                break
    resolved = bool(case.get("resolved"))
    age = hours_between(filed_at, resolved_at if resolved else aware(as_of))
    view = public(case)
    view.update(
        status="resolved" if resolved else "open",
        first_action_at=first_at,
        first_action=first_kind,
        hours_to_first_action=hours_between(filed_at, first_at),
        hours_to_resolution=hours_between(filed_at, resolved_at) if resolved else None,
        overdue=bool(age is not None and age > sla_hours and not resolved),
        resolved_late=bool(resolved and age is not None and age > sla_hours),
    )
    return view


def case_views(
    cases: Iterable[Mapping[str, Any]],
    actions_by_target: Mapping[str, list[tuple[datetime, str]]],
    sla_hours: float,
    as_of: datetime,
) -> list[Doc]:
    """complaint_case of every case, in the order given."""
    return [complaint_case(c, actions_by_target, sla_hours, as_of) for c in cases]


def _stats(values: list[float]) -> Doc:
    if not values:
        return {"count": 0, "mean": None, "median": None, "max": None}
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def complaint_figures(cases: Sequence[Mapping[str, Any]], members: int, sla_hours: float) -> Doc:
    """What complaint handling looks like over a set of case views (see complaint_case)."""
    resolved = [c for c in cases if c["status"] == "resolved"]
    upheld = sum(1 for c in resolved if c.get("outcome") == "upheld")
    return {
        "total": len(cases),
        "open": len(cases) - len(resolved),
        "resolved": len(resolved),
        "upheld": upheld,
        "rejected": sum(1 for c in resolved if c.get("outcome") == "rejected"),
        "upheld_ratio": round(upheld / len(resolved), 3) if resolved else None,
        "hours_to_first_action": _stats(
            [c["hours_to_first_action"] for c in cases if c["hours_to_first_action"] is not None]
        ),
        "hours_to_resolution": _stats(
            [c["hours_to_resolution"] for c in resolved if c["hours_to_resolution"] is not None]
        ),
        "overdue": sum(1 for c in cases if c["overdue"]),
        "resolved_late": sum(1 for c in cases if c["resolved_late"]),
        "sla_hours": sla_hours,
        "members": members,
        "per_1000_members": round(len(cases) / members * 1000, 2) if members > 0 else None,
        "categories": dict(Counter(str(c.get("category", "?")) for c in cases).most_common()),
    }


def complaints_page(
    group_key: str,
    status: str | None,
    cases: Sequence[Mapping[str, Any]],
    members: int,
    sla_hours: float,
    limit: int,
    offset: int,
) -> Doc:
    """The figures of every case and a page of the cases of one status (all when None)."""
    chosen = [c for c in cases if status is None or c["status"] == status]
    return {
        "group_key": group_key,
        "status": status,
        "figures": complaint_figures(cases, members, sla_hours),
        "items": chosen[offset : offset + limit],
        "next_offset": offset + limit if len(chosen) > offset + limit else None,
    }


# ---------------------------------------------------------------- operators


def operator_items(month_docs: Iterable[Mapping[str, Any]]) -> list[Doc]:
    """One record per group, month, operator and role; newest month first."""
    items = [
        {"group_key": doc["group_key"], "month": doc["month"], **figures}
        for doc in month_docs
        for figures in (doc.get("operators") or {}).values()
    ]
    items.sort(key=lambda i: (str(i["operator"]), str(i["role"])))
    items.sort(key=lambda i: i["month"], reverse=True)
    return items


# ---------------------------------------------------------------- spot checks


def spotcheck_days(
    month_docs: Iterable[Mapping[str, Any]], day_from: str | None, day_to: str | None
) -> list[Doc]:
    """The sampled days of spotchecks month documents within [from, to], newest first."""
    days = [
        {
            "group_key": doc["group_key"],
            "day": day,
            "month": doc["month"],
            "messages": figures.get("messages", 0),
            "sample": figures.get("sample") or [],
        }
        for doc in month_docs
        for day, figures in (doc.get("days") or {}).items()
        if _within(day, day_from, day_to)
    ]
    return sorted(days, key=lambda d: d["day"], reverse=True)


def sampled_event_ids(days: Iterable[Mapping[str, Any]]) -> list[str]:
    """The event ids of the samples of sampled days (see spotcheck_days)."""
    return [s["event_id"] for d in days for s in d.get("sample") or []]


def sample_day(month_doc: Mapping[str, Any], event_id: str) -> str | None:
    """The day of a spotchecks month document whose sample holds this message, or None."""
    for day, figures in (month_doc.get("days") or {}).items():
        if any(s.get("event_id") == event_id for s in figures.get("sample") or []):
            return str(day)
    return None


def spotcheck_items(
    days: Iterable[Mapping[str, Any]], reviews: Mapping[str, Mapping[str, Any]]
) -> list[Doc]:
    """The review queue: every sampled message with its review (pending when none yet)."""
    items: list[Doc] = []
    for day in days:
        for sample in day.get("sample") or []:
            review = reviews.get(sample["event_id"])
            item = {k: v for k, v in sample.items() if k != "h"}
            item["day"] = day["day"]
            item["status"] = review["outcome"] if review else "pending"
            item["review"] = (
                {k: review.get(k) for k in ("outcome", "note", "reviewer", "role", "reviewed_at")}
                if review
                else None
            )
            items.append(item)
    return items


def spotcheck_outcomes(items: Iterable[Mapping[str, Any]]) -> Doc:
    counts = Counter(str(i["status"]) for i in items)
    return {
        "sampled": sum(counts.values()),
        "reviewed": counts["ok"] + counts["violation"],
        "ok": counts["ok"],
        "violation": counts["violation"],
        "pending": counts["pending"],
    }


def spotcheck_queue(
    group_key: str,
    days: Sequence[Mapping[str, Any]],
    reviews: Mapping[str, Mapping[str, Any]],
    status: str | None,
    limit: int,
) -> Doc:
    """The outcomes of every sampled message of these days and those of one status
    (all for None or "all"), at most `limit`."""
    items = spotcheck_items(days, reviews)
    chosen = [i for i in items if status in (None, "all") or i["status"] == status]
    return {
        "group_key": group_key,
        "outcomes": spotcheck_outcomes(items),
        "items": chosen[:limit],
    }
