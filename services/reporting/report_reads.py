"""The monthly report read from the store: the documents of one group and month, loaded
and handed to report_build (the API's route and `modstream report` both use this)."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from services.reporting import reads
from services.reporting.figures import Doc
from services.reporting.folds.periods import month_bounds
from services.reporting.generations import collection_for
from services.reporting.report_build import build_report, check_month, report_as_of, report_inputs
from shared.settings import Settings


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
    group = await reads.group_doc(db, group_key)
    as_of = report_as_of(month, group, now or datetime.now(UTC))
    first, last = month_bounds(month)

    activity = await collection_for(db, "activity")
    activity_months = [
        d
        async for d in activity.find(
            {"group_key": group_key, "granularity": "month", "start": {"$lte": first}},
            {"days": 0},
        )
    ]
    month_docs = [
        d
        async for d in activity.find(
            {"group_key": group_key, "granularity": "month", "start": first}
        )
    ]
    violations = await collection_for(db, "violations")
    violation_months = [
        d async for d in violations.find({"group_key": group_key, "kind": "month", "month": month})
    ]
    sla_hours = settings.complaint_sla_hours
    cases = await reads.complaint_cases(db, group_key, sla_hours, as_of, month)
    spot_days = await reads.spotcheck_day_docs(db, group_key, first, last)
    reviews = await reads.reviews_in_month(db, group_key, month)
    operators = await reads.operator_docs(db, group_key, month)
    enforcement = await reads.enforcement_month_docs(db, group_key, first, last)
    return build_report(
        report_inputs(
            group_key,
            month,
            group,
            activity_months,
            month_docs,
            violation_months,
            cases,
            spot_days,
            reviews,
            operators,
            sla_hours,
            enforcement,
        )
    )
