"""What the reporting API answers: one pydantic model per JSON response, so the OpenAPI
documents every success body and FastAPI checks each answer against its model.

The models describe the dicts `figures` computes, key for key, and write them back out
unchanged (datetimes as pydantic writes them, "2026-03-01T08:00:00Z", as the API always
has). Two kinds:

- `Answer`: a body computed here, every field always present (extra keys are an error,
  so a figure added without its field fails the tests instead of vanishing);
- `Stored`: a document as the folds wrote it (or a view of one): the fields the folds
  write are documented, fields a document may lack are optional, and the body carries
  exactly the keys the document had, in its order, undocumented ones too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

Counts = dict[str, int]


class Answer(BaseModel):
    """A body computed by the read side: every field always present."""

    model_config = ConfigDict(extra="forbid")


class Stored(BaseModel):
    """A stored document (or a view of one): the keys it was given, in their order."""

    model_config = ConfigDict(extra="allow")
    _keys: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_keys(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, Mapping):
            model._keys = tuple(data)
        return model

    # No return annotation: pydantic would document the body as that type instead of
    # as the model.
    @model_serializer(mode="wrap")
    def _as_given(self, handler: SerializerFunctionWrapHandler):
        out = handler(self)
        keys = self._keys or (*self.model_fields_set, *(self.__pydantic_extra__ or {}))
        return {key: out[key] for key in keys if key in out}


# ---------------------------------------------------------------- service


class Health(Answer):
    status: str = Field(examples=["ok"])


class Readiness(Answer):
    """200 when both hold, else 503 with the same body."""

    store: bool
    consuming: bool


# ---------------------------------------------------------------- groups


class GroupSummary(Answer):
    group_key: str
    platform: str | None
    language: str
    timezone: str
    members: int = Field(description="joins minus leaves, at least 0")
    messages: int
    first_event_at: datetime | None
    last_event_at: datetime | None


class GroupList(Answer):
    items: list[GroupSummary] = Field(description="the groups of the token, by group key")


# ---------------------------------------------------------------- activity


class PeriodBounds(Answer):
    period: str = Field(examples=["2026-03-02", "2026-W10", "2026-03"])
    start: str = Field(description="first local date, YYYY-MM-DD")
    end: str = Field(description="last local date, YYYY-MM-DD")


class ActivityFigures(Answer):
    """What `figures.activity_item` counts and derives for any period: a page's periods
    and the monthly report's month alike."""

    messages: int
    active_users: int
    joins: int
    leaves: int
    net_growth: int
    messages_per_active_user: float


# pydantic puts the fields of the last base first: the period's bounds, then its figures.
class ActivityPeriod(ActivityFigures, PeriodBounds):
    hourly: list[int] = Field(description="messages per local hour, 0 to 23")
    decisions: Counts
    kinds: Counts


class ActivityPage(Answer):
    group_key: str
    granularity: str = Field(examples=["day", "week", "month"])
    items: list[ActivityPeriod]
    next: str | None = Field(description="the cursor of the next page; null on the last")


# ---------------------------------------------------------------- violations


class DecisionEntry(Stored):
    decision_id: str
    kind: str
    group_key: str
    user_key: str
    target_user_id: str
    rule_id: str
    ruleset_version: int
    action: str
    duration_s: int | None = None
    reason: str
    cause_event_ids: list[str]
    case_id: str | None = None
    decided_at: datetime
    at: datetime
    day: str
    month: str


class ViolationCounts(Answer):
    total: int
    by_rule: Counts
    by_action: Counts
    manual_sanctions: Counts


class RepeatOffender(Answer):
    user_key: str
    count: int
    by_action: Counts
    first_at: datetime | None
    last_at: datetime | None


class ViolationsPage(Answer):
    group_key: str
    items: list[DecisionEntry] = Field(description="newest first")
    next_offset: int | None
    counts: ViolationCounts
    repeat_offenders: list[RepeatOffender]


# ---------------------------------------------------------------- complaints


class HourStats(Answer):
    count: int
    mean: float | None
    median: float | None
    max: float | None


class ComplaintFigures(Answer):
    total: int
    open: int
    resolved: int
    upheld: int
    rejected: int
    upheld_ratio: float | None
    hours_to_first_action: HourStats
    hours_to_resolution: HourStats
    overdue: int
    resolved_late: int
    sla_hours: float
    members: int
    per_1000_members: float | None
    categories: Counts


class ComplaintCase(Stored):
    """A complaint's filing joined with its resolution and its handling figures (a case
    resolved but never filed has no filing fields, an open one no resolution fields)."""

    group_key: str
    complaint_id: str
    event_id: str | None = None
    filed_at: datetime | None = None
    day: str | None = None
    month: str | None = None
    category: str | None = None
    reason: str | None = None
    reporter: str | None = None
    target: str | None = None
    target_message_id: str | None = None
    resolved: bool
    outcome: str | None = None
    note: str | None = None
    resolved_by: str | None = None
    resolved_role: str | None = None
    resolved_at: datetime | None = None
    status: str = Field(examples=["open", "resolved"])
    first_action_at: datetime | None
    first_action: str | None
    hours_to_first_action: float | None
    hours_to_resolution: float | None
    overdue: bool
    resolved_late: bool


class ComplaintsPage(Answer):
    group_key: str
    status: str | None
    figures: ComplaintFigures = Field(description="over every case, whatever the status")
    items: list[ComplaintCase]
    next_offset: int | None


# ---------------------------------------------------------------- operators


class OperatorMonth(Stored):
    group_key: str
    month: str
    operator: str
    role: str
    first_at: datetime | None = None
    last_at: datetime | None = None
    sanctions_applied: int | None = None
    sanctions_revoked: int | None = None
    resolutions: int | None = None
    upheld: int | None = None
    rejected: int | None = None
    by_action: Counts | None = None


class OperatorsPage(Answer):
    group_key: str
    month: str | None
    items: list[OperatorMonth] = Field(description="newest month first")


# ---------------------------------------------------------------- spot checks


class SpotcheckReview(Answer):
    outcome: str | None
    note: str | None
    reviewer: str | None
    role: str | None
    reviewed_at: datetime | None


class SpotcheckItem(Stored):
    event_id: str
    user_key: str
    message_id: str
    text: str
    kind: str
    attachments: list[str]
    occurred_at: datetime
    day: str
    status: str = Field(examples=["pending", "ok", "violation"])
    review: SpotcheckReview | None


class SpotcheckOutcomes(Answer):
    sampled: int
    reviewed: int
    ok: int
    violation: int
    pending: int


class SpotcheckQueue(Answer):
    group_key: str
    outcomes: SpotcheckOutcomes = Field(description="over every sampled message in range")
    items: list[SpotcheckItem] = Field(description="newest day first")


class ReviewRecorded(Answer):
    group_key: str
    event_id: str
    day: str
    outcome: str
    note: str
    reviewer: str
    role: str
    reviewed_at: datetime


# ---------------------------------------------------------------- enforcement


class EnforcementCounts(Answer):
    """Decisions against the enforcer's records of them (enforcement_figures)."""

    decided: int = Field(description="decisions of every action but escalate")
    off: int = Field(description="of those, decided while the group's enforcement was off")
    executed: int = Field(description="apply records: done on the platform")
    dry_run: int = Field(description="apply records: would have been done (dry run)")
    failed: int
    unsupported: int = Field(description="the platform has no such call")
    partial: int = Field(description="some of the calls were done")
    unknown: int = Field(description="a send whose answer was lost (never sent twice)")
    recorded: int = Field(description="apply records of every outcome")
    unrecorded: int = Field(description="decided - off - recorded, at least 0: not recorded yet")
    modes: Counts = Field(description="apply records by the mode the enforcer ran in")
    scheduled: dict[str, Counts] = Field(
        description="the scheduler's later records: phase (lift, renew, remind) -> outcome -> n"
    )


class EnforcementCell(Answer):
    rule_id: str | None = Field(description="null: records that named no rule")
    platform: str
    action: str


# The rule, platform and action first (fields of the last base come first), then counts.
class EnforcementRow(EnforcementCounts, EnforcementCell):
    pass


class DryRunRecord(Stored):
    """A dry-run record: what the enforcer would have done for a decision."""

    event_id: str
    decision_id: str
    action: str
    phase: str = Field(examples=["apply"])
    rule_id: str | None = None
    target_user_id: str
    platform_call: str = Field(examples=["POST /restrictChatMember; POST /sendMessage"])
    calls: list[dict[str, Any]] = Field(description="each call's step and method and path")
    at: datetime
    day: str


class EnforcementPage(Answer):
    group_key: str
    mode: str | None = Field(
        description="how the enforcer ran in the range: live, dry_run, mixed, or null"
    )
    totals: EnforcementCounts
    items: list[EnforcementRow] = Field(description="per rule, platform and action")
    would_have: list[DryRunRecord] = Field(description="the latest dry-run records, newest first")


# ---------------------------------------------------------------- the queue


class QueueContext(Stored):
    """What a person needs to act on an item; its fields depend on the kind (these are
    `enforcement`'s)."""

    action: str | None = None
    outcome: str | None = None
    phase: str | None = None
    error: str | None = None
    platform_call: str | None = None
    attempts: int | None = None
    target_user_id: str | None = None
    user_key: str | None = None
    rule_id: str | None = None
    mode: str | None = None
    bot: str | None = None
    note: str | None = None
    scheduled_at: datetime | None = None


class QueueItem(Answer):
    id: str = Field(description="the event id of the record that opened the item")
    kind: str = Field(examples=["enforcement"])
    ref: str = Field(description="what the item is about (enforcement: the decision id)")
    group_key: str
    opened_at: datetime | None
    age_s: float | None = Field(description="seconds since opened_at, as of the answer")
    status: str = Field(examples=["open", "claimed", "closed"])
    assignee: str | None = Field(description="null until items can be claimed")
    due_at: datetime | None = Field(description="null until the kind has an SLA")
    context: QueueContext


class QueuePage(Answer):
    as_of: datetime
    items: list[QueueItem] = Field(description="oldest first")
    next_offset: int | None


# ---------------------------------------------------------------- user history
# From the archive: times are the canonical events' own ISO strings.


class FlaggedMessage(Stored):
    event_id: str
    group_key: str
    occurred_at: str
    message_id: str | None
    text: str
    decisions: list[str]
    rules: list[str]
    ruleset_versions: list[int]


class HistoryDecision(Stored):
    decision_id: str
    group_key: str
    decided_at: str
    action: str
    duration_s: int | None
    rule_id: str
    ruleset_version: int
    reason: str
    matched: str | None
    case_id: str | None
    cause_event_ids: list[str]


class Closing(Stored):
    """A complaint's resolution or a sanction's revocation."""

    event_id: str
    at: str
    by: str | None
    actor: dict[str, Any] | None
    outcome: str | None = None
    note: str | None = None
    reason: str | None = None


class TrailEvent(Stored):
    """What every complaint and sanction of a trail opens with (history's `common`; each
    documents its `role` its own way)."""

    event_id: str
    group_key: str
    occurred_at: str
    actor: dict[str, Any] | None


class HistoryComplaint(TrailEvent):
    role: str = Field(description="'about' the user or filed 'by' them")
    complaint_id: str
    reporter: str | None
    target: str | None
    target_message_id: str | None
    category: str | None
    reason: str
    resolution: Closing | None


class HistorySanction(TrailEvent):
    role: str = Field(description="'about' the user or applied 'by' them")
    sanction_id: str
    by: str | None
    target: str | None
    action: str | None
    duration_s: int | None
    reason: str | None
    by_role: str | None
    revoked: Closing | None


class TimelineEntry(Stored):
    at: str
    kind: str
    group_key: str
    ref: str
    summary: str


class UserHistory(Stored):
    user_key: str
    groups: list[str]
    flagged_messages: list[FlaggedMessage]
    decisions: list[HistoryDecision]
    sanctions: list[HistorySanction]
    complaints: list[HistoryComplaint]
    timeline: list[TimelineEntry] = Field(description="everything above, in time order")


# ---------------------------------------------------------------- the monthly report
# Documents `format=json`; the route renders the report itself (report_render).


class ReportDay(Answer):
    start: str
    messages: int
    active_users: int
    joins: int
    leaves: int


class ReportActivity(ActivityFigures):
    members: int
    kinds: Counts
    hourly: list[int]
    busiest_hour: int | None
    daily: list[ReportDay]


class PreviousMonth(Answer):
    messages: int
    active_users: int
    joins: int
    net_growth: int


class ReportTrend(Answer):
    previous_month: str
    previous: PreviousMonth
    messages_pct: float | None
    active_users_pct: float | None
    joins_pct: float | None


class TopRule(Answer):
    rule_id: str
    count: int
    share: float


class ReportViolations(Answer):
    total: int
    top_rules: list[TopRule]
    by_rule: Counts
    by_action: Counts


class OperatorWork(Answer):
    operator: str | None
    role: str | None
    sanctions_applied: int
    sanctions_revoked: int
    resolutions: int


class ReportSanctions(Answer):
    automatic: Counts
    manual: Counts
    revoked: int
    by_operator: list[OperatorWork]


class ReportEnforcementCounts(Answer):
    decided: int
    executed: int
    dry_run: int = Field(description="would have been done (dry run)")
    failed: int
    unsupported: int
    partial: int
    unknown: int
    unrecorded: int


class ReportRuleAndPlatform(Answer):
    rule_id: str | None
    platform: str


class ReportEnforcementRule(ReportEnforcementCounts, ReportRuleAndPlatform):
    pass


class ReportEnforcement(Answer):
    mode: str | None = Field(examples=["live", "dry_run", "mixed"])
    totals: ReportEnforcementCounts
    not_done: int = Field(description="failed + unsupported + partial + unknown")
    by_rule: list[ReportEnforcementRule] = Field(description="per rule and platform")


class ReportOffender(Answer):
    user_key: str
    count: int


class Recommendation(Answer):
    code: str
    text: str
    values: dict[str, Any]


class MonthlyReport(Answer):
    group_key: str
    month: str
    language: str = Field(examples=["en", "zh-CN"])
    timezone: str
    title: str
    activity: ReportActivity
    trend: ReportTrend
    violations: ReportViolations
    complaints: ComplaintFigures
    sanctions: ReportSanctions
    enforcement: ReportEnforcement
    repeat_offenders: list[ReportOffender]
    spot_checks: SpotcheckOutcomes
    recommendations: list[Recommendation]
