"""The reporting query API: every route under /v1, every route scoped by token.

A platform token gets 403; a group outside the token's scope gets 403 before any read,
so no response ever carries another group's data. Every path or query parameter that
reaches a MongoDB filter is validated here as a plain string of a known shape (the
validators are pure and unit-tested; group and user keys follow `shared.keys`); a value
starting with '$' never passes. Dates and months must lie within
figures.FIRST_DAY..LAST_DAY (and a from..to range within figures.MAX_RANGE_DAYS), so no
parameter can drive the date arithmetic into an OverflowError. Every route's store reads
share one deadline (settings.store_timeout_s): a store that does not answer is a 503
with Retry-After, not a request left hanging.

Each route has the same shape: the scope (a dependency: `reader`, or `group_scope` for a
route under a group key), its own checks and parameters, in that order, then one read of
the store (`_query`, or the scope's `read` of its group). Its answer is checked against,
and documented by, its model in `responses`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting import reads, responses
from services.reporting.enforcement_figures import WOULD_HAVE_LIMIT
from services.reporting.figures import FIRST_DAY, LAST_DAY, MAX_LIMIT, MAX_RANGE_DAYS, Doc
from services.reporting.folds.periods import GRANULARITIES
from services.reporting.folds.queue import KINDS as QUEUE_KINDS
from services.reporting.folds.queue import SERVED as QUEUE_SERVED
from services.reporting.folds.queue import STATUSES as QUEUE_STATUSES
from services.reporting.history import user_history as audit_user_history
from services.reporting.report_build import ReportMonthError
from services.reporting.report_reads import monthly_report
from services.reporting.report_render import FORMATS, render
from services.reporting.reviews import record_review
from shared.events import DecisionAction
from shared.http_auth import require_group, require_principal, require_reader
from shared.http_server import within_store_deadline
from shared.keys import key_problem
from shared.settings import Settings
from shared.tokens import Principal

T = TypeVar("T")
P = ParamSpec("P")

# ASCII digits only: \d also matches other scripts' digits (e.g. Arabic-Indic), which
# int() reads but date.fromisoformat refuses.
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$", re.ASCII)
_TOKEN = re.compile(r"^[^\s$][^\s]{0,255}$")  # rule ids, event ids
ACTIONS: tuple[str, ...] = DecisionAction.__args__  # type: ignore[attr-defined]
STATUSES = ("open", "resolved")
SPOTCHECK_STATUSES = ("pending", "ok", "violation", "all")
DEFAULT_LIMIT = 100
DEFAULT_WOULD_HAVE = 20
# The report's media types other than JSON, as the OpenAPI lists them (no parameters).
REPORT_MEDIA_TYPES = tuple(m.partition(";")[0] for f, m in FORMATS.items() if f != "json")


# ---------------------------------------------------------------- pure validators


def _invalid(message: str) -> HTTPException:
    return HTTPException(422, message)


def _plain(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if value.startswith("$"):
        raise _invalid(f"{name} may not start with '$'")
    return value


def _key(value: Any, what: str) -> str:
    value = _plain(value, what)
    problem = key_problem(value, what)
    if problem is not None:
        raise _invalid(problem)
    return value


def parse_group_key(value: Any) -> str:
    return _key(value, "group key")


def parse_user_key(value: Any) -> str:
    return _key(value, "user key")


def _shown(value: str) -> str:
    """A caller's value quoted in an answer, cut short (it may be kilobytes long)."""
    return repr(value if len(value) <= 80 else value[:80] + "...")


def parse_day(value: Any, name: str, earliest: date = FIRST_DAY) -> str | None:
    """An optional local date, YYYY-MM-DD, between `earliest` and figures.LAST_DAY."""
    if value is None or value == "":
        return None
    value = _plain(value, name)
    try:
        if not _DAY.match(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise _invalid(f"{name} must be a date YYYY-MM-DD (got {_shown(value)})") from None
    if not earliest <= day <= LAST_DAY:
        raise _invalid(f"{name} must be a date between {earliest} and {LAST_DAY} (got {value!r})")
    return value


def parse_cursor(value: Any) -> str | None:
    """A page cursor is the start of the last period returned: the ISO week holding
    FIRST_DAY starts up to six days before it."""
    return parse_day(value, "cursor", FIRST_DAY - timedelta(days=6))


def parse_range(date_from: Any, date_to: Any) -> tuple[str | None, str | None]:
    start, end = parse_day(date_from, "from"), parse_day(date_to, "to")
    if start and end:
        if start > end:
            raise _invalid(f"from ({start}) is after to ({end})")
        days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
        if days > MAX_RANGE_DAYS:
            raise _invalid(
                f"from {start} to {end} spans {days} days; at most {MAX_RANGE_DAYS} "
                "in one request (leave from and to out for everything)"
            )
    return start, end


def parse_month(value: Any, name: str = "month") -> str:
    """A "YYYY-MM" month within the calendar of figures.FIRST_DAY..LAST_DAY."""
    value = _plain(value, name)
    if not _MONTH.match(value):
        raise _invalid(f"{name} must be YYYY-MM (got {_shown(value)})")
    first, last = FIRST_DAY.year, LAST_DAY.year
    if not first <= int(value[:4]) <= last:
        raise _invalid(f"{name} must be a month between {first}-01 and {last}-12 (got {value!r})")
    return value


def parse_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    value = _plain(value, name)
    if value not in choices:
        raise _invalid(f"{name} must be one of {', '.join(choices)} (got {_shown(value)})")
    return value


def parse_token(value: Any, name: str) -> str | None:
    """An optional identifier (rule id, event id): no spaces, no leading '$'."""
    if value is None or value == "":
        return None
    value = _plain(value, name)
    if not _TOKEN.match(value):
        raise _invalid(f"{name} {_shown(value)} is not a valid identifier")
    return value


def parse_limit(value: Any, maximum: int = MAX_LIMIT) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise _invalid(f"limit must be between 1 and {maximum} (got {value!r})")
    return value


def parse_offset(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid(f"offset must be 0 or more (got {value!r})")
    return value


def parse_queue_kind(value: Any) -> str | None:
    """A kind of queue item the queue holds; a kind the product has but the queue does
    not hold yet is refused too (an empty list would read as "nothing waiting")."""
    if value is None or value == "":
        return None
    kind = parse_choice(value, "kind", QUEUE_KINDS)
    if kind not in QUEUE_SERVED:
        raise _invalid(
            f"the queue holds no {kind} items yet; it holds: {', '.join(QUEUE_SERVED)} "
            "(leave kind out for all of them)"
        )
    return kind


def visible_groups(principal: Principal) -> frozenset[str] | None:
    """None for a '*' token (every group), else the token's own groups."""
    return None if principal.all_groups else principal.groups


# ---------------------------------------------------------------- dependencies


def reader(request: Request) -> Principal:
    principal = require_principal(request)
    require_reader(principal)
    return principal


def group_reader(group_key: str, principal: Principal = Depends(reader)) -> str:
    key = parse_group_key(group_key)
    require_group(principal, key)
    return key


def _require_roles(principal: Principal, roles: tuple[str, ...], what: str) -> None:
    if principal.role not in roles:
        raise HTTPException(
            403, f"{what} needs one of the roles {', '.join(roles)}; this token is {principal.role}"
        )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _query(
    request: Request,
    read: Callable[Concatenate[AsyncDatabase, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """A route's store work: `read` on the app's database with the parsed parameters,
    all of it within one deadline (503 + Retry-After past it)."""
    work = read(request.app.state.db, *args, **kwargs)
    return await within_store_deadline(work, _settings(request).store_timeout_s)


@dataclass(frozen=True, slots=True)
class GroupScope:
    """What a route under a group key reads through: the group the token may read
    (checked by `group_reader`, 403 before any read) and the store, so every read of the
    route is of that group and within the one deadline."""

    request: Request
    group_key: str

    @property
    def settings(self) -> Settings:
        return _settings(self.request)

    async def read(
        self,
        read: Callable[Concatenate[AsyncDatabase, str, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`_query` of `read` for this group: `read(db, group_key, *args, **kwargs)`."""
        return await _query(self.request, read, self.group_key, *args, **kwargs)


def group_scope(request: Request, group_key: str = Depends(group_reader)) -> GroupScope:
    return GroupScope(request, group_key)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["ok", "violation"]
    note: str = Field(default="", max_length=4096)


# ---------------------------------------------------------------- routes


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reporting"])

    @router.get("/groups", response_model=responses.GroupList)
    async def groups(request: Request, principal: Principal = Depends(reader)) -> Doc:
        return {"items": await _query(request, reads.list_groups, visible_groups(principal))}

    @router.get("/groups/{group_key}/activity", response_model=responses.ActivityPage)
    async def activity(
        scope: GroupScope = Depends(group_scope),
        granularity: str = "day",
        date_from: str | None = Query(None, alias="from"),
        date_to: str | None = Query(None, alias="to"),
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Doc:
        gran = parse_choice(granularity, "granularity", GRANULARITIES)
        start, end = parse_range(date_from, date_to)
        return await scope.read(
            reads.activity, gran, start, end, parse_limit(limit), parse_cursor(cursor)
        )

    @router.get("/groups/{group_key}/violations", response_model=responses.ViolationsPage)
    async def violations(
        scope: GroupScope = Depends(group_scope),
        date_from: str | None = Query(None, alias="from"),
        date_to: str | None = Query(None, alias="to"),
        rule: str | None = None,
        action: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Doc:
        start, end = parse_range(date_from, date_to)
        return await scope.read(
            reads.violations,
            start,
            end,
            parse_token(rule, "rule"),
            parse_choice(action, "action", ACTIONS) if action else None,
            parse_limit(limit),
            parse_offset(offset),
        )

    @router.get("/groups/{group_key}/complaints", response_model=responses.ComplaintsPage)
    async def complaints(
        scope: GroupScope = Depends(group_scope),
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Doc:
        return await scope.read(
            reads.complaints,
            parse_choice(status, "status", STATUSES) if status else None,
            scope.settings.complaint_sla_hours,
            datetime.now(UTC),
            parse_limit(limit),
            parse_offset(offset),
        )

    @router.get("/groups/{group_key}/operators", response_model=responses.OperatorsPage)
    async def operators(
        scope: GroupScope = Depends(group_scope),
        month: str | None = None,
        principal: Principal = Depends(reader),
    ) -> Doc:
        _require_roles(principal, ("admin", "auditor"), "the operators' figures")
        return await scope.read(reads.operators, parse_month(month) if month else None)

    @router.get("/groups/{group_key}/spotchecks", response_model=responses.SpotcheckQueue)
    async def spotchecks(
        scope: GroupScope = Depends(group_scope),
        date_from: str | None = Query(None, alias="from"),
        date_to: str | None = Query(None, alias="to"),
        status: str = "pending",
        principal: Principal = Depends(reader),
    ) -> Doc:
        _require_roles(principal, ("admin", "auditor"), "the spot-check queue")
        start, end = parse_range(date_from, date_to)
        return await scope.read(
            reads.spotchecks, start, end, parse_choice(status, "status", SPOTCHECK_STATUSES)
        )

    @router.post(
        "/groups/{group_key}/spotchecks/{event_id}/review",
        response_model=responses.ReviewRecorded,
    )
    async def review(
        event_id: str,
        body: ReviewIn,
        scope: GroupScope = Depends(group_scope),
        principal: Principal = Depends(reader),
    ) -> Doc:
        _require_roles(principal, ("admin",), "reviewing a spot check")
        event = parse_token(event_id, "event id")
        if event is None:
            raise _invalid("event id is required")

        async def look_up_and_record(db: AsyncDatabase, group_key: str) -> Doc:
            day = await reads.sampled_day(db, group_key, event)
            if day is None:
                raise HTTPException(
                    404, f"message {event} is not in the spot-check sample of {group_key}"
                )
            return await record_review(
                db,
                group_key,
                event,
                day,
                body.outcome,
                body.note,
                principal.name,
                principal.role,
                datetime.now(UTC),
            )

        return await scope.read(look_up_and_record)

    @router.get("/groups/{group_key}/enforcement", response_model=responses.EnforcementPage)
    async def enforcement(
        scope: GroupScope = Depends(group_scope),
        date_from: str | None = Query(None, alias="from"),
        date_to: str | None = Query(None, alias="to"),
        limit: int = DEFAULT_WOULD_HAVE,
    ) -> Doc:
        start, end = parse_range(date_from, date_to)
        return await scope.read(reads.enforcement, start, end, parse_limit(limit, WOULD_HAVE_LIMIT))

    @router.get("/queue", response_model=responses.QueuePage)
    async def queue(
        request: Request,
        principal: Principal = Depends(reader),
        group: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Doc:
        groups = visible_groups(principal)
        if group:
            key = parse_group_key(group)
            require_group(principal, key)
            groups = frozenset({key})
        return await _query(
            request,
            reads.queue,
            groups,
            parse_queue_kind(kind),
            parse_choice(status, "status", QUEUE_STATUSES) if status else None,
            parse_limit(limit),
            parse_offset(offset),
            datetime.now(UTC),
        )

    @router.get("/users/{user_key}/history", response_model=responses.UserHistory)
    async def history(
        request: Request, user_key: str, principal: Principal = Depends(reader)
    ) -> Doc:
        # The audit trail comes from the archive: every event and decision, hash-chained.
        return await _query(
            request, audit_user_history, parse_user_key(user_key), visible_groups(principal)
        )

    @router.get(
        "/reports/{group_key}/{month}",
        response_class=Response,
        responses={
            200: {
                "model": responses.MonthlyReport,
                "description": "The report in the format asked for (JSON by default).",
                "content": {media: {} for media in REPORT_MEDIA_TYPES},
            }
        },
    )
    async def report(
        month: str,
        scope: GroupScope = Depends(group_scope),
        format: str = "json",
    ) -> Response:
        fmt = parse_choice(format, "format", tuple(FORMATS))
        try:
            built = await scope.read(monthly_report, parse_month(month), scope.settings)
        except ReportMonthError as err:  # parse_month refuses these first; a backstop
            raise _invalid(str(err)) from None
        body, media_type = render(built, fmt)
        headers = {}
        if fmt == "csv":
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"report-{scope.group_key}-{month}.csv")
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(body, media_type=media_type, headers=headers)

    return router
