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
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.folds.base import IndexSpec, unfield_key
from services.reporting.folds.spotchecks import REVIEWS
from services.reporting.store import collection_for

MAX_LIMIT = 1000
REPEAT_OFFENDER_MIN = 2
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
    (the start date of the last period returned)."""
    coll = await collection_for(db, "activity")
    query: Doc = {"group_key": group_key, "granularity": granularity}
    start: Doc = {}
    if date_to:
        start["$lte"] = date_to
    if cursor:
        start["$gt"] = cursor
    if start:
        query["start"] = start
    if date_from:
        query["end"] = {"$gte": date_from}
    docs = [d async for d in coll.find(query).sort("start", 1).limit(limit + 1)]
    items = [activity_item(d) for d in docs[:limit]]
    more = len(docs) > limit
    return {
        "group_key": group_key,
        "granularity": granularity,
        "items": items,
        "next": items[-1]["start"] if more and items else None,
    }


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
    days: Doc = {}
    if date_from:
        days["$gte"] = date_from
    if date_to:
        days["$lte"] = date_to
    query: Doc = {"group_key": group_key, "kind": "decision"}
    if days:
        query["day"] = days
    if rule:
        query["rule_id"] = rule
    if action:
        query["action"] = action
    cursor = coll.find(query).sort([("at", -1), ("_id", 1)]).skip(offset).limit(limit + 1)
    docs = [d async for d in cursor]
    items = [{"decision_id": d["_id"], **public(d)} for d in docs[:limit]]
    daily_query: Doc = {"group_key": group_key, "kind": "daily"}
    if days:
        daily_query["day"] = days
    daily = [d async for d in coll.find(daily_query)]
    offenders = coll.find(
        {"group_key": group_key, "kind": "offender", "count": {"$gte": REPEAT_OFFENDER_MIN}}
    ).sort([("count", -1), ("user_key", 1)])
    repeat = [
        {
            "user_key": d["user_key"],
            "count": int(d["count"]),
            "by_action": d.get("by_action", {}),
            "first_at": d.get("first_at"),
            "last_at": d.get("last_at"),
        }
        async for d in offenders.limit(100)
    ]
    return {
        "group_key": group_key,
        "items": items,
        "next_offset": offset + limit if len(docs) > limit else None,
        "counts": {
            "total": sum(int(d.get("total", 0)) for d in daily),
            "by_rule": sum_counters(daily, "by_rule", escaped=True),
            "by_action": sum_counters(daily, "by_action"),
            "manual_sanctions": sum_counters(daily, "sanctions"),
        },
        "repeat_offenders": repeat,
    }


async def target_actions(
    db: AsyncDatabase, group_key: str, targets: Iterable[str], since: datetime | None
) -> dict[str, list[tuple[datetime, str]]]:
    """Decisions and manual sanctions against the given users, for the complaint join."""
    wanted = sorted(set(targets))
    if not wanted:
        return {}
    coll = await collection_for(db, "violations")
    query: Doc = {
        "group_key": group_key,
        "kind": {"$in": ["decision", "sanction"]},
        "user_key": {"$in": wanted},
    }
    if since is not None:
        query["at"] = {"$gte": since}
    projection = {"user_key": 1, "at": 1, "kind": 1}
    return first_actions([d async for d in coll.find(query, projection)])


async def complaint_cases(
    db: AsyncDatabase,
    group_key: str,
    sla_hours: float,
    as_of: datetime,
    month: str | None = None,
) -> list[Doc]:
    """Every case of a group (or of one filing month) with its handling figures."""
    coll = await collection_for(db, "complaints")
    query: Doc = {"group_key": group_key}
    if month:
        query["month"] = month
    cases = [c async for c in coll.find(query).sort([("filed_at", -1), ("_id", 1)])]
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


async def operators(db: AsyncDatabase, group_key: str, month: str | None) -> Doc:
    coll = await collection_for(db, "operators")
    query: Doc = {"group_key": group_key}
    if month:
        query["month"] = month
    docs = [
        public(d)
        async for d in coll.find(query).sort([("month", -1), ("operator", 1), ("role", 1)])
    ]
    return {"group_key": group_key, "month": month, "items": docs}


async def spotchecks(
    db: AsyncDatabase,
    group_key: str,
    day_from: str | None,
    day_to: str | None,
    status: str | None,
    limit: int = MAX_LIMIT,
) -> Doc:
    coll = await collection_for(db, "spotchecks")
    query: Doc = {"group_key": group_key}
    days: Doc = {}
    if day_from:
        days["$gte"] = day_from
    if day_to:
        days["$lte"] = day_to
    if days:
        query["day"] = days
    day_docs = [d async for d in coll.find(query).sort("day", -1).limit(limit)]
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
    """The local day whose sample holds this message, or None if it was never sampled."""
    coll = await collection_for(db, "spotchecks")
    doc = await coll.find_one({"group_key": group_key, "sample.event_id": event_id}, {"day": 1})
    return None if doc is None else str(doc["day"])


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
