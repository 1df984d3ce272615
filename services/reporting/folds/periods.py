"""Calendar periods in a group's own time zone: a community's "day" is its local day.

Labels are plain strings so documents sort and range-filter on them without date maths
in MongoDB: days and period starts are ISO dates, weeks are ISO weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

GRANULARITIES = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class Period:
    granularity: str
    label: str  # "2026-01-05", "2026-W02", "2026-01"
    start: str  # first local date of the period, "YYYY-MM-DD"
    end: str  # last local date of the period, "YYYY-MM-DD"


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz)


def day_label(moment: datetime, tz: ZoneInfo) -> str:
    return local(moment, tz).date().isoformat()


def month_label(moment: datetime, tz: ZoneInfo) -> str:
    return local(moment, tz).strftime("%Y-%m")


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def day_period(day: date) -> Period:
    text = day.isoformat()
    return Period("day", text, text, text)


def week_period(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period("week", week_label(day), monday.isoformat(), (monday + timedelta(6)).isoformat())


def month_period(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    last = following - timedelta(days=1)
    return Period("month", first.strftime("%Y-%m"), first.isoformat(), last.isoformat())


def periods_of(moment: datetime, tz: ZoneInfo) -> tuple[Period, Period, Period]:
    """The day, ISO week and month a moment falls in, on the group's clock."""
    day = local(moment, tz).date()
    return day_period(day), week_period(day), month_period(day)


def month_bounds(month: str) -> tuple[str, str]:
    """First and last date ("YYYY-MM-DD") of a "YYYY-MM" month."""
    period = month_period(date.fromisoformat(f"{month}-01"))
    return period.start, period.end


def previous_month(month: str) -> str:
    first = date.fromisoformat(f"{month}-01")
    return (first - timedelta(days=1)).strftime("%Y-%m")
