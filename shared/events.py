"""The event contracts: the envelope, every event type, and decisions.

These models are the only definition of the stream's shapes; services import them from
here and never re-declare a field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.keys import WEBHOOK_PLATFORMS, Platform, group_key

Role = Literal["platform", "operator", "admin", "auditor"]
# Who an event names as its actor: a token's role, or `system` for the events a service
# makes itself (enforcement.recorded). No token can hold `system`.
ActorRole = Literal["platform", "operator", "admin", "auditor", "system"]
SanctionAction = Literal["warn", "remove_message", "mute", "kick", "ban"]
DecisionAction = Literal[
    "warn", "remove_message", "mute", "kick", "ban", "escalate", "unmute", "unban"
]
EnforcementMode = Literal["off", "dry_run", "live"]
EnforcementOutcome = Literal["executed", "dry_run", "failed", "unsupported", "partial", "unknown"]
# What an enforcement record is about: the decision itself, or a call the enforcer's
# scheduler made later for it (lift a timed ban, renew a capped mute, remind admins).
EnforcementPhase = Literal["apply", "lift", "renew", "remind"]
AttachmentKind = Literal["image", "video", "audio", "file", "sticker", "other"]

# Keys a document store would read as operators or paths; ingest refuses them so no
# user-controlled key can ever reach a MongoDB update.
_FORBIDDEN_KEY_START = "$"
_FORBIDDEN_KEY_CHAR = "."


# Times a record may carry. Outside this window date arithmetic in a group's zone can
# overflow (year 1 or 9999 shifted by an offset) and stall whoever folds the record; no chat
# platform has events from before 2000, and none from the next century.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# How far occurred_at may run ahead of the moment ingest received the event (clock skew of
# a platform or client; anything further is a forged or broken time).
MAX_AHEAD = timedelta(days=1)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"timestamp must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
        ) from None
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"timestamp must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
        )
    return value


# The platforms whose webhooks ingest maps. Their event ids are derived from platform ids
# (`telegram:{chat}:msg:{id}`), so they are predictable: such an id is valid only on an
# event of that platform and group, or one group could claim another group's next id.
# Where the group id sits in a platform-derived id (onebot ids lead with the bot's id).
_ID_GROUP_PART = {"onebot": 3, "telegram": 1, "discord": 1, "slack": 1}
assert set(_ID_GROUP_PART) == set(WEBHOOK_PLATFORMS)


def foreign_platform_id(event_id: str, platform: str, group_id: str) -> str | None:
    """Why `event_id` cannot belong to an event of this platform and group, or None.

    Ids outside the platforms' namespaces (no `onebot:` ... prefix) belong to whoever sends
    them; deduplication is per group, so they can never collide with another group's."""
    prefix, sep, _ = event_id.partition(":")
    if not sep or prefix not in _ID_GROUP_PART:
        return None
    if prefix != platform:
        return f"event_id {event_id[:80]!r} is a {prefix} id; this event's platform is {platform}"
    parts = event_id.split(":")
    index = _ID_GROUP_PART[prefix]
    # A group id may itself hold ':' (none of the four platforms' do, but be exact).
    width = group_id.count(":") + 1
    if ":".join(parts[index : index + width]) != group_id or len(parts) <= index + width:
        return f"event_id {event_id[:80]!r} is derived from another {prefix} group than {group_id}"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Attachment(_Strict):
    kind: AttachmentKind
    url: str = Field(max_length=4096)


class MessagePosted(_Strict):
    message_id: str = Field(min_length=1, max_length=256)
    text: str = Field(max_length=65_536)
    # Discord's channel of the message (a guild's messages live in channels; removing one
    # or replying to it needs the channel). Other platforms leave it out.
    channel_id: str | None = Field(default=None, min_length=1, max_length=256)
    reply_to: str | None = None
    mentions: list[str] = Field(default_factory=list, max_length=1000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=100)


class MemberJoined(_Strict):
    invited_by: str | None = None


class MemberLeft(_Strict):
    kicked_by: str | None = None


class ComplaintFiled(_Strict):
    complaint_id: str = Field(min_length=1, max_length=256)
    target_user_id: str = Field(min_length=1, max_length=256)
    target_message_id: str | None = None
    category: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=4096)


class ComplaintResolved(_Strict):
    complaint_id: str = Field(min_length=1, max_length=256)
    outcome: Literal["upheld", "rejected"]
    note: str = Field(default="", max_length=4096)


class SanctionApplied(_Strict):
    sanction_id: str = Field(min_length=1, max_length=256)
    target_user_id: str = Field(min_length=1, max_length=256)
    action: SanctionAction
    duration_s: int | None = Field(default=None, ge=0)
    reason: str = Field(min_length=1, max_length=4096)
    by_role: Role
    # The platform's id of the message the act is about (remove_message needs it; a warn
    # replies to it).
    target_message_id: str | None = Field(default=None, min_length=1, max_length=256)


class SanctionRevoked(_Strict):
    sanction_id: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=4096)


class CallRecord(_Strict):
    """One platform call the enforcer made (or, in dry_run, would have made)."""

    step: str = Field(min_length=1, max_length=64)
    call: str = Field(min_length=1, max_length=512)  # "POST /set_group_ban", no secrets
    params: dict[str, Any] = Field(default_factory=dict)
    result: Literal["done", "already", "failed", "unsupported", "unknown", "dry_run", "skipped"]
    status: int | None = None
    error: str | None = Field(default=None, max_length=4096)
    attempts: int = Field(default=0, ge=0)


class EnforcementRecorded(_Strict):
    decision_id: str = Field(min_length=1, max_length=256)
    action: DecisionAction
    outcome: EnforcementOutcome
    # The calls in order, as one line ("PATCH /guilds/1/members/2; POST /channels/3/messages").
    platform_call: str = Field(default="", max_length=4096)
    attempts: int = Field(default=0, ge=0)
    error: str | None = Field(default=None, max_length=4096)
    phase: EnforcementPhase = "apply"
    mode: EnforcementMode = "dry_run"
    rule_id: str | None = Field(default=None, max_length=256)
    bot: str | None = Field(default=None, max_length=256)
    calls: list[CallRecord] = Field(default_factory=list, max_length=64)
    # When a later call is due (a timed Discord ban's lift, a capped mute's renewal).
    scheduled_at: datetime | None = None
    note: str | None = Field(default=None, max_length=4096)

    @field_validator("calls")
    @classmethod
    def _safe_params(cls, calls: list[CallRecord]) -> list[CallRecord]:
        for call in calls:
            check_safe_keys(call.params, "calls.params")
        return calls

    _v_at = field_validator("scheduled_at")(lambda v: None if v is None else _utc(v))


class RulesetUpdated(_Strict):
    version: int = Field(ge=1)
    rules: dict[str, Any]

    @field_validator("rules")
    @classmethod
    def _safe_keys(cls, rules: dict[str, Any]) -> dict[str, Any]:
        check_safe_keys(rules, "rules")
        return rules


def check_safe_keys(value: Any, where: str) -> None:
    """Reject keys MongoDB would treat as operators or dotted paths."""
    if isinstance(value, dict):
        for key, item in value.items():
            if (
                not isinstance(key, str)
                or key.startswith(_FORBIDDEN_KEY_START)
                or (_FORBIDDEN_KEY_CHAR in key)
            ):
                raise ValueError(f"{where}: key {key!r} may not start with '$' or contain '.'")
            check_safe_keys(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_safe_keys(item, f"{where}[{i}]")


class Actor(_Strict):
    """Who posted an event through the API: every manual override is on record."""

    name: str
    role: ActorRole


class _Envelope(_Strict):
    event_id: str = Field(min_length=1, max_length=256, pattern=r"^[^$\s][^\s]*$")
    schema_version: int = Field(ge=1)
    occurred_at: datetime
    received_at: datetime | None = None
    platform: Platform
    group_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field(min_length=1, max_length=256)
    actor: Actor | None = None

    _v_occ = field_validator("occurred_at", "received_at")(lambda v: None if v is None else _utc(v))

    @model_validator(mode="after")
    def _owned_and_timely(self) -> _Envelope:
        if self.received_at is not None and self.occurred_at > self.received_at + MAX_AHEAD:
            raise ValueError(
                f"occurred_at {self.occurred_at.isoformat()} is more than "
                f"{MAX_AHEAD.days} day after received_at {self.received_at.isoformat()}"
            )
        why = foreign_platform_id(self.event_id, self.platform, self.group_id)
        if why:
            raise ValueError(why)
        return self

    @property
    def group_key(self) -> str:
        return group_key(self.platform, self.group_id)

    @property
    def user_key(self) -> str:
        return group_key(self.platform, self.user_id)


class MessagePostedEvent(_Envelope):
    type: Literal["message.posted"] = "message.posted"
    payload: MessagePosted


class MemberJoinedEvent(_Envelope):
    type: Literal["member.joined"] = "member.joined"
    payload: MemberJoined = Field(default_factory=MemberJoined)


class MemberLeftEvent(_Envelope):
    type: Literal["member.left"] = "member.left"
    payload: MemberLeft = Field(default_factory=MemberLeft)


class ComplaintFiledEvent(_Envelope):
    type: Literal["complaint.filed"] = "complaint.filed"
    payload: ComplaintFiled


class ComplaintResolvedEvent(_Envelope):
    type: Literal["complaint.resolved"] = "complaint.resolved"
    payload: ComplaintResolved


class SanctionAppliedEvent(_Envelope):
    type: Literal["sanction.applied"] = "sanction.applied"
    payload: SanctionApplied


class SanctionRevokedEvent(_Envelope):
    type: Literal["sanction.revoked"] = "sanction.revoked"
    payload: SanctionRevoked


class RulesetUpdatedEvent(_Envelope):
    type: Literal["ruleset.updated"] = "ruleset.updated"
    payload: RulesetUpdated


class EnforcementRecordedEvent(_Envelope):
    type: Literal["enforcement.recorded"] = "enforcement.recorded"
    payload: EnforcementRecorded


Event = Annotated[
    MessagePostedEvent
    | MemberJoinedEvent
    | MemberLeftEvent
    | ComplaintFiledEvent
    | ComplaintResolvedEvent
    | SanctionAppliedEvent
    | SanctionRevokedEvent
    | RulesetUpdatedEvent
    | EnforcementRecordedEvent,
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[_Envelope]] = {
    "message.posted": MessagePostedEvent,
    "member.joined": MemberJoinedEvent,
    "member.left": MemberLeftEvent,
    "complaint.filed": ComplaintFiledEvent,
    "complaint.resolved": ComplaintResolvedEvent,
    "sanction.applied": SanctionAppliedEvent,
    "sanction.revoked": SanctionRevokedEvent,
    "ruleset.updated": RulesetUpdatedEvent,
    "enforcement.recorded": EnforcementRecordedEvent,
}

# Manual moderation events: only operators and admins may post them.
MANUAL_TYPES = frozenset({"complaint.resolved", "sanction.applied", "sanction.revoked"})
# The rule id of decisions moderation makes for a person's own act (a sanction or a
# revoke posted through the API): the act is on record as its own event too.
MANUAL_RULE = "manual"
# Events only a service makes (actor role `system`): no token may post them.
SYSTEM_TYPES = frozenset({"enforcement.recorded"})


class Decision(_Strict):
    # 2: the fields enforcement needs (target message, channel, the group's enforcement
    # mode, notify and bot at decision time). A v1 decision reads with them unset; the
    # enforcer treats an unset mode as the default (dry_run) and says so in its record.
    schema_version: int = 2
    decision_id: str
    group_key: str
    target_user_id: str
    action: DecisionAction
    duration_s: int | None = None
    rule_id: str
    ruleset_version: int
    reason: str
    cause_event_ids: list[str]
    decided_at: datetime
    case_id: str | None = None
    matched: str | None = None
    # The group's clock and language in the rules that decided: reporting dates the decision
    # in this zone, whatever order it meets the group's rule changes on the other topic.
    timezone: str | None = None
    language: str | None = None
    target_message_id: str | None = None
    channel_id: str | None = None
    enforcement: EnforcementMode | None = None
    notify: bool | None = None
    bot: str | None = None
    # A revoke (unmute / unban) names the decision or manual sanction it lifts.
    revokes: str | None = None

    _v_dec = field_validator("decided_at")(_utc)


def now_utc() -> datetime:
    return datetime.now(UTC)
