"""Reads of the projections for the API and the monthly report (the store adapter).

Each read fetches exactly the documents one answer needs, always filtered by `group_key`
first so the indexes of `folds.index_specs()` serve it, and hands them to `figures`,
which computes the answer. Every value reaching a filter has been validated as a plain
string by the API; nothing here builds a filter from a caller's dict.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.reporting import enforcement_figures, figures, queue_figures
from services.reporting.figures import MAX_LIMIT, Doc, shift_day
from services.reporting.folds.spotchecks import REVIEWS
from services.reporting.generations import collection_for

# ---------------------------------------------------------------- filters


def scope_filter(groups: AbstractSet[str] | None, field: str = "group_key") -> Doc:
    """None means every group (a '*' token); otherwise only the listed groups.

    The one scope filter of the reporting store: the projections' reads, the archive's
    user history and the archive writer's head reload all narrow by it."""
    return {} if groups is None else {field: {"$in": sorted(groups)}}


def month_range(day_from: str | None, day_to: str | None) -> Doc:
    """A filter on `month` ("YYYY-MM") for the months overlapping [from, to]."""
    months: Doc = {}
    if day_from:
        months["$gte"] = day_from[:7]
    if day_to:
        months["$lte"] = day_to[:7]
    return {"month": months} if months else {}


# ---------------------------------------------------------------- groups


async def list_groups(db: AsyncDatabase, groups: frozenset[str] | None) -> list[Doc]:
    coll = await collection_for(db, "groups")
    query = scope_filter(groups, "_id")
    return [
        figures.group_summary(doc) async for doc in coll.find(query).sort("_id", 1).limit(MAX_LIMIT)
    ]


async def group_doc(db: AsyncDatabase, group_key: str) -> Doc | None:
    coll = await collection_for(db, "groups")
    doc: Doc | None = await coll.find_one({"_id": group_key})
    return doc


# ---------------------------------------------------------------- activity


async def activity(
    db: AsyncDatabase,
    group_key: str,
    granularity: str,
    date_from: str | None,
    date_to: str | None,
    limit: int,
    cursor: str | None,
) -> Doc:
    """Periods overlapping [from, to], oldest first, a page at a time (figures.activity_page).
    Days and weeks come from the days of the month documents, read month by month until
    the page is full."""
    coll = await collection_for(db, "activity")
    query: Doc = {"group_key": group_key, "granularity": "month"}

    def wanted(period: Any) -> bool:
        return figures.in_window(period, date_from, date_to, cursor)

    periods: list[Any]
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
        periods = [d async for d in coll.find(query, {"days": 0}).sort("start", 1).limit(limit + 1)]
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
            days.extend(figures.activity_days([month]))
            # Weeks ending inside the months read so far are complete.
            complete = [
                p
                for p in figures.day_or_week_periods(days, granularity)
                if p["end"] <= month["end"] and wanted(p)
            ]
            if len(complete) > limit:
                break
        periods = [p for p in figures.day_or_week_periods(days, granularity) if wanted(p)]
    return figures.activity_page(group_key, granularity, periods[: limit + 1], limit)


# ---------------------------------------------------------------- violations


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
    decisions = figures.matching_decisions(
        [d async for d in coll.find(weeks)], date_from, date_to, rule, action
    )
    month_query = {"group_key": group_key, "kind": "month", **month_range(date_from, date_to)}
    daily = figures.violation_days(
        [d async for d in coll.find(month_query, {"days": 1, "month": 1})], date_from, date_to
    )
    all_months = [
        d
        async for d in coll.find(
            {"group_key": group_key, "kind": "month"}, {"offenders": 1, "month": 1}
        )
    ]
    return figures.violations_page(group_key, decisions, limit, offset, daily, all_months)


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
    docs = [d async for d in coll.find(query, {"items": 1, "manual": 1, "kind": 1})]
    return figures.actions_against(docs, wanted, since)


# ---------------------------------------------------------------- complaints


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
        ids = figures.filed_ids(filings)
        resolved = (
            [d async for d in coll.find({"group_key": group_key, "resolved_ids": {"$in": ids}})]
            if ids
            else []
        )
        cases = figures.merge_cases(filings, resolved, group_key, only_filed=True)
    else:
        docs = [d async for d in coll.find({"group_key": group_key})]
        cases = figures.merge_cases(docs, docs, group_key)
    actions = await target_actions(
        db, group_key, (c.get("target", "") for c in cases), figures.earliest_filing(cases)
    )
    return figures.case_views(cases, actions, sla_hours, as_of)


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
    members = figures.members_estimate(await group_doc(db, group_key))
    return figures.complaints_page(group_key, status, cases, members, sla_hours, limit, offset)


# ---------------------------------------------------------------- operators


async def operator_docs(db: AsyncDatabase, group_key: str, month: str | None) -> list[Doc]:
    coll = await collection_for(db, "operators")
    query: Doc = {"group_key": group_key}
    if month:
        query["month"] = month
    return figures.operator_items([d async for d in coll.find(query)])


async def operators(db: AsyncDatabase, group_key: str, month: str | None) -> Doc:
    return {
        "group_key": group_key,
        "month": month,
        "items": await operator_docs(db, group_key, month),
    }


# ---------------------------------------------------------------- spot checks


async def spotcheck_day_docs(
    db: AsyncDatabase, group_key: str, day_from: str | None, day_to: str | None
) -> list[Doc]:
    coll = await collection_for(db, "spotchecks")
    query: Doc = {"group_key": group_key, **month_range(day_from, day_to)}
    return figures.spotcheck_days([d async for d in coll.find(query)], day_from, day_to)


async def spotchecks(
    db: AsyncDatabase,
    group_key: str,
    day_from: str | None,
    day_to: str | None,
    status: str | None,
    limit: int = MAX_LIMIT,
) -> Doc:
    day_docs = (await spotcheck_day_docs(db, group_key, day_from, day_to))[:limit]
    ids = figures.sampled_event_ids(day_docs)
    reviews = {
        r["event_id"]: r
        async for r in db[REVIEWS].find({"group_key": group_key, "event_id": {"$in": ids}})
    }
    return figures.spotcheck_queue(group_key, day_docs, reviews, status, limit)


async def sampled_day(db: AsyncDatabase, group_key: str, event_id: str) -> str | None:
    """The local day whose sample holds this message, or None if it was never sampled
    (newest month first: a review is nearly always of a recent sample)."""
    coll = await collection_for(db, "spotchecks")
    async for doc in coll.find({"group_key": group_key}, {"days": 1}).sort("month", -1):
        day = figures.sample_day(doc, event_id)
        if day is not None:
            return day
    return None


async def reviews_in_month(db: AsyncDatabase, group_key: str, month: str) -> dict[str, Doc]:
    return {
        r["event_id"]: r async for r in db[REVIEWS].find({"group_key": group_key, "month": month})
    }


# ---------------------------------------------------------------- enforcement


async def enforcement_month_docs(
    db: AsyncDatabase, group_key: str, day_from: str | None, day_to: str | None
) -> list[Doc]:
    coll = await collection_for(db, "enforcement")
    query: Doc = {"group_key": group_key, **month_range(day_from, day_to)}
    return [d async for d in coll.find(query).sort("month", 1)]


async def enforcement(
    db: AsyncDatabase, group_key: str, day_from: str | None, day_to: str | None, limit: int
) -> Doc:
    docs = await enforcement_month_docs(db, group_key, day_from, day_to)
    return enforcement_figures.enforcement_page(group_key, docs, day_from, day_to, limit)


# ---------------------------------------------------------------- the queue


def queue_filter(groups: AbstractSet[str] | None, kind: str | None, status: str | None) -> Doc:
    """The items of these groups (None: every group), of one kind and status when given."""
    query = scope_filter(groups)
    if kind:
        query["kind"] = kind
    if status:
        query["status"] = status
    return query


async def queue(
    db: AsyncDatabase,
    groups: AbstractSet[str] | None,
    kind: str | None,
    status: str | None,
    limit: int,
    offset: int,
    now: datetime,
) -> Doc:
    """A page of queue items, oldest first (then by item document id)."""
    coll = await collection_for(db, "queue")
    cursor = (
        coll.find(queue_filter(groups, kind, status))
        .sort([("opened_at", 1), ("_id", 1)])
        .skip(offset)
        .limit(limit + 1)
    )
    return queue_figures.queue_page([d async for d in cursor], now, limit, offset)
