"""Reads of the projections for the API and the monthly report.

Two layers: pure functions that turn projection documents into the figures people read
(unit-tested without a store), and thin async loaders that fetch exactly the documents
those functions need, always filtered by `group_key` first so the indexes of
`folds.index_specs()` serve them. Every value reaching a filter has been validated as a
plain string by the API; nothing here builds a filter from a caller's dict.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.folds.base import IndexSpec, unfield_key
from services.reporting.folds.periods import week_period
from services.reporting.folds.spotchecks import REVIEWS
from services.reporting.generations import collection_for

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

REVIEW_INDEXES: list[IndexSpec] = [
    ([("group_key", 1), ("month", 1)], {"name": "group_month"}),
    ([("group_key", 1), ("event_id", 1)], {"name": "group_event"}),
]


# ---------------------------------------------------------------- pure helpers


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


def members_estimate(doc: Mapping[str, Any] | None) -> int:
    if not doc:
        return 0
    return max(0, int(doc.get("joins", 0)) - int(doc.get("leaves", 0)))


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


# ---------------------------------------------------------------- coarse documents
# The folds keep one document per group and month (per ISO week for decision lists) with
# days, cases, operators and offenders as sub-documents; these turn them back into the
# per-day, per-case, per-operator records the figures above are computed from.


def _add_counts(into: dict[str, Any], counts: Mapping[str, Any] | None) -> None:
    for key, value in (counts or {}).items():
        into[key] = into.get(key, 0) + value


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


def violation_days(
    month_docs: Iterable[Mapping[str, Any]], day_from: str | None, day_to: str | None
) -> list[Doc]:
    """The daily counters of violations month documents within [from, to]."""
    return [
        {**figures, "day": day}
        for doc in month_docs
        for day, figures in (doc.get("days") or {}).items()
        if (day_from is None or day >= day_from) and (day_to is None or day <= day_to)
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
        if (day_from is None or day >= day_from) and (day_to is None or day <= day_to)
    ]
    return sorted(days, key=lambda d: d["day"], reverse=True)


def shift_day(day: str, days: int) -> str:
    """An ISO date moved by `days`, held at the ends of the calendar instead of raising
    OverflowError (the API already keeps dates far from them; other callers may not)."""
    start = date.fromisoformat(day)
    try:
        return (start + timedelta(days=days)).isoformat()
    except OverflowError:
        return (date.max if days > 0 else date.min).isoformat()


def month_range(day_from: str | None, day_to: str | None) -> Doc:
    """A filter on `month` ("YYYY-MM") for the months overlapping [from, to]."""
    months: Doc = {}
    if day_from:
        months["$gte"] = day_from[:7]
    if day_to:
        months["$lte"] = day_to[:7]
    return {"month": months} if months else {}


# ---------------------------------------------------------------- loaders


def scope_filter(groups: frozenset[str] | None) -> Doc:
    """None means every group (a '*' token); otherwise only the listed groups."""
    return {} if groups is None else {"group_key": {"$in": sorted(groups)}}


async def list_groups(db: AsyncDatabase, groups: frozenset[str] | None) -> list[Doc]:
    coll = await collection_for(db, "groups")
    query = {} if groups is None else {"_id": {"$in": sorted(groups)}}
    out = []
    async for doc in coll.find(query).sort("_id", 1).limit(MAX_LIMIT):
        out.append(
            {
                "group_key": doc["_id"],
                "platform": doc.get("platform"),
                "language": doc.get("language", "en"),
                "timezone": doc.get("timezone", "UTC"),
                "members": members_estimate(doc),
                "messages": int(doc.get("messages", 0)),
                "first_event_at": doc.get("first_event_at"),
                "last_event_at": doc.get("last_event_at"),
            }
        )
    return out


async def group_doc(db: AsyncDatabase, group_key: str) -> Doc | None:
    coll = await collection_for(db, "groups")
    doc: Doc | None = await coll.find_one({"_id": group_key})
    return doc


async def activity(
    db: AsyncDatabase,
    group_key: str,
    granularity: str,
    date_from: str | None,
    date_to: str | None,
    limit: int,
    cursor: str | None,
) -> Doc:
    """Periods overlapping [from, to], oldest first; `next` is the cursor of the next page
    (the start date of the last period returned). Days and weeks come from the days of
    the month documents, read month by month until the page is full."""
    coll = await collection_for(db, "activity")
    query: Doc = {"group_key": group_key, "granularity": "month"}

    def wanted(period: Mapping[str, Any]) -> bool:
        return (
            (not date_to or period["start"] <= date_to)
            and (not cursor or period["start"] > cursor)
            and (not date_from or period["end"] >= date_from)
        )

    docs: list[Doc] = []
    if granularity == "month":
        start: Doc = {}
        if date_to:
            start["$lte"] = date_to
        if cursor:
            start["$gt"] = cursor
        if start:
            query["start"] = start
        if date_from:
            query["end"] = {"$gte": date_from}
        docs = [d async for d in coll.find(query, {"days": 0}).sort("start", 1).limit(limit + 1)]
    else:
        # A week starting on the cursor's day or later may begin in the month before.
        lowest = max(filter(None, [date_from, cursor]), default=None)
        if lowest:
            query["end"] = {"$gte": shift_day(lowest, -6)}
        if date_to:
            # ... and a week starting by `to` may end in the month after.
            reach = 0 if granularity == "day" else 6
            query["start"] = {"$lte": shift_day(date_to, reach)}
        days: list[Doc] = []
        async for month in coll.find(query).sort("start", 1):
            days.extend(activity_days([month]))
            periods = days if granularity == "day" else activity_weeks(days)
            # Weeks ending inside the months read so far are complete.
            complete = [p for p in periods if p["end"] <= month["end"] and wanted(p)]
            if len(complete) > limit:
                break
        periods = days if granularity == "day" else activity_weeks(days)
        docs = [p for p in periods if wanted(p)][: limit + 1]
    items = [activity_item(d) for d in docs[:limit]]
    more = len(docs) > limit
    return {
        "group_key": group_key,
        "granularity": granularity,
        "items": items,
        "next": items[-1]["start"] if more and items else None,
    }


def _decision_item(entry: Mapping[str, Any]) -> Doc:
    return {"decision_id": entry["decision_id"], **entry}


async def violations(
    db: AsyncDatabase,
    group_key: str,
    date_from: str | None,
    date_to: str | None,
    rule: str | None,
    action: str | None,
    limit: int,
    offset: int,
) -> Doc:
    coll = await collection_for(db, "violations")
    weeks: Doc = {"group_key": group_key, "kind": "decisions"}
    if date_from:
        weeks["end"] = {"$gte": date_from}
    if date_to:
        weeks["start"] = {"$lte": date_to}
    decisions = [
        entry
        async for doc in coll.find(weeks)
        for entry in doc.get("items") or []
        if (not date_from or entry["day"] >= date_from)
        and (not date_to or entry["day"] <= date_to)
        and (not rule or entry["rule_id"] == rule)
        and (not action or entry["action"] == action)
    ]
    decisions.sort(key=lambda d: d["decision_id"])
    decisions.sort(key=lambda d: d["at"], reverse=True)
    page = decisions[offset : offset + limit + 1]
    items = [_decision_item(d) for d in page[:limit]]
    month_query = {"group_key": group_key, "kind": "month", **month_range(date_from, date_to)}
    daily = violation_days(
        [d async for d in coll.find(month_query, {"days": 1, "month": 1})], date_from, date_to
    )
    all_months = [
        d
        async for d in coll.find(
            {"group_key": group_key, "kind": "month"}, {"offenders": 1, "month": 1}
        )
    ]
    return {
        "group_key": group_key,
        "items": items,
        "next_offset": offset + limit if len(page) > limit else None,
        "counts": {
            "total": sum(int(d.get("total", 0)) for d in daily),
            "by_rule": sum_counters(daily, "by_rule", escaped=True),
            "by_action": sum_counters(daily, "by_action"),
            "manual_sanctions": sum_counters(daily, "sanctions"),
        },
        "repeat_offenders": repeat_offenders(all_months),
    }


async def target_actions(
    db: AsyncDatabase, group_key: str, targets: Iterable[str], since: datetime | None
) -> dict[str, list[tuple[datetime, str]]]:
    """Decisions and manual sanctions against the given users, for the complaint join."""
    wanted = set(targets)
    if not wanted:
        return {}
    coll = await collection_for(db, "violations")
    query: Doc = {"group_key": group_key}
    if since is not None:
        # Local labels: a day either side of the UTC date covers every time zone.
        query["end"] = {"$gte": shift_day(since.date().isoformat(), -1)}
    actions: list[Doc] = []
    async for doc in coll.find(query, {"items": 1, "manual": 1, "kind": 1}):
        entries = doc.get("items") or []
        entries += list((doc.get("manual") or {}).values())
        for entry in entries:
            at = aware(entry.get("at"))
            if entry.get("user_key") in wanted and (
                since is None or (at is not None and at >= aware(since))  # type: ignore[operator]
            ):
                actions.append({"user_key": entry["user_key"], "at": at, "kind": entry["kind"]})
    return first_actions(actions)


async def complaint_cases(
    db: AsyncDatabase,
    group_key: str,
    sla_hours: float,
    as_of: datetime,
    month: str | None = None,
) -> list[Doc]:
    """Every case of a group (or of one filing month) with its handling figures."""
    coll = await collection_for(db, "complaints")
    if month:
        filings = [d async for d in coll.find({"group_key": group_key, "month": month})]
        ids = sorted({c["complaint_id"] for d in filings for c in (d.get("cases") or {}).values()})
        resolved = (
            [d async for d in coll.find({"group_key": group_key, "resolved_ids": {"$in": ids}})]
            if ids
            else []
        )
        cases = merge_cases(filings, resolved, group_key, only_filed=True)
    else:
        docs = [d async for d in coll.find({"group_key": group_key})]
        cases = merge_cases(docs, docs, group_key)
    filed = [t for c in cases if (t := aware(c.get("filed_at"))) is not None]
    actions = await target_actions(
        db, group_key, (c.get("target", "") for c in cases), min(filed) if filed else None
    )
    return [complaint_case(c, actions, sla_hours, as_of) for c in cases]


async def complaints(
    db: AsyncDatabase,
    group_key: str,
    status: str | None,
    sla_hours: float,
    as_of: datetime,
    limit: int,
    offset: int,
) -> Doc:
    cases = await complaint_cases(db, group_key, sla_hours, as_of)
    members = members_estimate(await group_doc(db, group_key))
    chosen = [c for c in cases if status is None or c["status"] == status]
    return {
        "group_key": group_key,
        "status": status,
        "figures": complaint_figures(cases, members, sla_hours),
        "items": chosen[offset : offset + limit],
        "next_offset": offset + limit if len(chosen) > offset + limit else None,
    }


async def operator_docs(db: AsyncDatabase, group_key: str, month: str | None) -> list[Doc]:
    coll = await collection_for(db, "operators")
    query: Doc = {"group_key": group_key}
    if month:
        query["month"] = month
    return operator_items([d async for d in coll.find(query)])


async def operators(db: AsyncDatabase, group_key: str, month: str | None) -> Doc:
    return {
        "group_key": group_key,
        "month": month,
        "items": await operator_docs(db, group_key, month),
    }


async def spotcheck_day_docs(
    db: AsyncDatabase, group_key: str, day_from: str | None, day_to: str | None
) -> list[Doc]:
    coll = await collection_for(db, "spotchecks")
    query: Doc = {"group_key": group_key, **month_range(day_from, day_to)}
    return spotcheck_days([d async for d in coll.find(query)], day_from, day_to)


async def spotchecks(
    db: AsyncDatabase,
    group_key: str,
    day_from: str | None,
    day_to: str | None,
    status: str | None,
    limit: int = MAX_LIMIT,
) -> Doc:
    day_docs = (await spotcheck_day_docs(db, group_key, day_from, day_to))[:limit]
    ids = [s["event_id"] for d in day_docs for s in d.get("sample") or []]
    reviews = {
        r["event_id"]: r
        async for r in db[REVIEWS].find({"group_key": group_key, "event_id": {"$in": ids}})
    }
    items = spotcheck_items(day_docs, reviews)
    chosen = [i for i in items if status in (None, "all") or i["status"] == status]
    return {
        "group_key": group_key,
        "outcomes": spotcheck_outcomes(items),
        "items": chosen[:limit],
    }


async def sampled_day(db: AsyncDatabase, group_key: str, event_id: str) -> str | None:
    """The local day whose sample holds this message, or None if it was never sampled
    (newest month first: a review is nearly always of a recent sample)."""
    coll = await collection_for(db, "spotchecks")
    async for doc in coll.find({"group_key": group_key}, {"days": 1}).sort("month", -1):
        for day, figures in (doc.get("days") or {}).items():
            if any(s.get("event_id") == event_id for s in figures.get("sample") or []):
                return str(day)
    return None


async def record_review(
    db: AsyncDatabase,
    group_key: str,
    event_id: str,
    day: str,
    outcome: str,
    note: str,
    reviewer: str,
    role: str,
    reviewed_at: datetime,
) -> Doc:
    """Store an admin's spot-check verdict (the latest counts; earlier ones stay in
    `history`, so a changed verdict is on record)."""
    review = {
        "outcome": outcome,
        "note": note,
        "reviewer": reviewer,
        "role": role,
        "reviewed_at": reviewed_at,
    }
    await db[REVIEWS].update_one(
        {"_id": f"{group_key}|{event_id}"},
        {
            "$set": {
                **review,
                "group_key": group_key,
                "event_id": event_id,
                "day": day,
                "month": day[:7],
            },
            "$push": {"history": review},
        },
        upsert=True,
    )
    return {"group_key": group_key, "event_id": event_id, "day": day, **review}


async def reviews_in_month(db: AsyncDatabase, group_key: str, month: str) -> dict[str, Doc]:
    return {
        r["event_id"]: r async for r in db[REVIEWS].find({"group_key": group_key, "month": month})
    }


async def ensure_review_indexes(db: AsyncDatabase) -> None:
    """Indexes of `spotcheck_reviews` (not a projection, so not in folds.index_specs)."""
    from pymongo import IndexModel

    await db[REVIEWS].create_indexes([IndexModel(k, **o) for k, o in REVIEW_INDEXES])
