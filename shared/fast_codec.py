"""A fast decode path for the consumers' hot loops: msgspec Structs mirroring shared/events.py.

The pydantic models in shared/events.py stay the contract. The Structs here hold the same
fields under the same names, with the same length, pattern and range constraints
(`msgspec.Meta`), the `type` tag as the union discriminator, and the envelope's and rule
payloads' extra checks done by the very functions of shared/events.py (`_utc`,
`foreign_platform_id`, `check_safe_keys`, `MAX_AHEAD`).

The fast path only ever accepts a subset of what the contract accepts, with the same
values; anything else takes the slow path (`shared.codec.decode_event`), so a bad record
is rejected with exactly the reason it always was:

- a record at another schema_version than the type's current one, or without one (read
  as 1): upcasting is the slow path's; at the current version `upcast` changes nothing;
- a record with seven or more digits after a '.', or with a JSON escape of a character
  in 0x20..0x3F (digits, '.', ':'): msgspec rounds a timestamp's fraction to microseconds
  where pydantic truncates it, so such a timestamp could differ by 1 µs (or cross a day,
  a year, the 2100 limit); these are left to pydantic;
- whatever msgspec refuses: lax inputs pydantic coerces ("1" or 1.0 for an int, unix
  times or date-only strings for a timestamp), NaN, Infinity and numbers beyond a
  float's range (json reads them as inf), a byte-order mark or UTF-16 JSON, invalid UTF-8, a lone UTF-16 surrogate escape (msgspec
  refuses it; a valid pair decodes as the slow path does), a repeated key whose first
  value is invalid (json keeps the last), and every record the contract refuses.

`tests/unit/shared/test_fast_codec.py` holds the two paths equal (every fixture and
simulated event, and a property over mutated records) and guards the mirror: a field,
constraint or validator added to shared/events.py fails it until it is mirrored here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

import msgspec
from msgspec.structs import force_setattr
from pydantic import BaseModel

from shared import events as models
from shared.codec import CURRENT_VERSIONS, decode_event
from shared.events import (
    MAX_AHEAD,
    ActorRole,
    AttachmentKind,
    DecisionAction,
    EnforcementMode,
    EnforcementOutcome,
    EnforcementPhase,
    Role,
    SanctionAction,
    _utc,
    check_safe_keys,
    foreign_platform_id,
)
from shared.keys import Platform, group_key

__all__ = [
    "AnyEvent",
    "FastEvent",
    "decode_event_fast",
    "decode_model_fast",
    "decode_struct",
    "from_model",
    "to_model",
]

# The contract's event_id pattern is `^[^$\s][^\s]*$` under pydantic's (Rust) regex
# engine: `\s` is Unicode White_Space and `$` only the end of the text. Python's `re` (which
# msgspec uses) reads `\s` as str.isspace (also U+001C..U+001F) and lets `$` match before
# a final newline, so the same text would accept "id\n". Spelled out for `re`, the test
# checks it against pydantic over every code point.
_WS = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
EVENT_ID_PATTERN = rf"\A[^${_WS}][^{_WS}]*\Z"

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=EVENT_ID_PATTERN)]
Note = Annotated[str, msgspec.Meta(max_length=4096)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Version = Annotated[int, msgspec.Meta(ge=1)]


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Attachment(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    kind: AttachmentKind
    url: Note


class MessagePosted(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    message_id: Id
    text: Annotated[str, msgspec.Meta(max_length=65_536)]
    channel_id: Id | None = None
    reply_to: str | None = None
    mentions: Annotated[list[str], msgspec.Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )
    attachments: Annotated[list[Attachment], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class MemberJoined(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    invited_by: str | None = None


class MemberLeft(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    kicked_by: str | None = None


class ComplaintFiled(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    complaint_id: Id
    target_user_id: Id
    target_message_id: str | None = None
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    reason: Note = ""


class ComplaintResolved(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    complaint_id: Id
    outcome: Literal["upheld", "rejected"]
    note: Note = ""


class SanctionApplied(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    sanction_id: Id
    target_user_id: Id
    action: SanctionAction
    duration_s: Annotated[int, msgspec.Meta(ge=0)] | None = None
    reason: Reason
    by_role: Role
    target_message_id: Id | None = None


class SanctionRevoked(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    sanction_id: Id
    reason: Reason


class RulesetUpdated(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: Version
    rules: dict[str, Any]

    def __post_init__(self) -> None:
        check_safe_keys(self.rules, "rules")


class CallRecord(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    step: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    call: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    result: Literal["done", "already", "failed", "unsupported", "unknown", "dry_run", "skipped"]
    status: int | None = None
    error: Note | None = None
    attempts: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __post_init__(self) -> None:
        check_safe_keys(self.params, "calls.params")


class EnforcementRecorded(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    decision_id: Id
    action: DecisionAction
    outcome: EnforcementOutcome
    platform_call: Note = ""
    attempts: Annotated[int, msgspec.Meta(ge=0)] = 0
    error: Note | None = None
    phase: EnforcementPhase = "apply"
    mode: EnforcementMode = "dry_run"
    rule_id: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    bot: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    calls: Annotated[list[CallRecord], msgspec.Meta(max_length=64)] = msgspec.field(
        default_factory=list
    )
    scheduled_at: datetime | None = None
    note: Note | None = None

    def __post_init__(self) -> None:
        if self.scheduled_at is not None:
            at = _utc(self.scheduled_at)
            if at is not self.scheduled_at:
                force_setattr(self, "scheduled_at", at)


class Actor(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    role: ActorRole


class _Envelope(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    type: ClassVar[str]
    event_id: EventId
    schema_version: Version
    occurred_at: datetime
    received_at: datetime | None = None
    platform: Platform
    group_id: Id
    user_id: Id
    actor: Actor | None = None

    def __post_init__(self) -> None:
        # The contract's checks, by its own functions (a ValueError here is a
        # msgspec.ValidationError of the decode, and so the slow path's turn).
        occurred = _utc(self.occurred_at)
        if occurred is not self.occurred_at:
            force_setattr(self, "occurred_at", occurred)
        received = self.received_at
        if received is not None:
            received = _utc(received)
            if received is not self.received_at:
                force_setattr(self, "received_at", received)
            if occurred > received + MAX_AHEAD:
                raise ValueError("occurred_at is too far ahead of received_at")
        why = foreign_platform_id(self.event_id, self.platform, self.group_id)
        if why:
            raise ValueError(why)

    @property
    def group_key(self) -> str:
        return group_key(self.platform, self.group_id)

    @property
    def user_key(self) -> str:
        return group_key(self.platform, self.user_id)


class MessagePostedEvent(_Envelope, frozen=True, kw_only=True, tag="message.posted"):
    type: ClassVar[Literal["message.posted"]] = "message.posted"
    payload: MessagePosted


class MemberJoinedEvent(_Envelope, frozen=True, kw_only=True, tag="member.joined"):
    type: ClassVar[Literal["member.joined"]] = "member.joined"
    payload: MemberJoined = msgspec.field(default_factory=MemberJoined)


class MemberLeftEvent(_Envelope, frozen=True, kw_only=True, tag="member.left"):
    type: ClassVar[Literal["member.left"]] = "member.left"
    payload: MemberLeft = msgspec.field(default_factory=MemberLeft)


class ComplaintFiledEvent(_Envelope, frozen=True, kw_only=True, tag="complaint.filed"):
    type: ClassVar[Literal["complaint.filed"]] = "complaint.filed"
    payload: ComplaintFiled


class ComplaintResolvedEvent(_Envelope, frozen=True, kw_only=True, tag="complaint.resolved"):
    type: ClassVar[Literal["complaint.resolved"]] = "complaint.resolved"
    payload: ComplaintResolved


class SanctionAppliedEvent(_Envelope, frozen=True, kw_only=True, tag="sanction.applied"):
    type: ClassVar[Literal["sanction.applied"]] = "sanction.applied"
    payload: SanctionApplied


class SanctionRevokedEvent(_Envelope, frozen=True, kw_only=True, tag="sanction.revoked"):
    type: ClassVar[Literal["sanction.revoked"]] = "sanction.revoked"
    payload: SanctionRevoked


class RulesetUpdatedEvent(_Envelope, frozen=True, kw_only=True, tag="ruleset.updated"):
    type: ClassVar[Literal["ruleset.updated"]] = "ruleset.updated"
    payload: RulesetUpdated


class EnforcementRecordedEvent(_Envelope, frozen=True, kw_only=True, tag="enforcement.recorded"):
    type: ClassVar[Literal["enforcement.recorded"]] = "enforcement.recorded"
    payload: EnforcementRecorded


FastEvent: TypeAlias = (
    MessagePostedEvent
    | MemberJoinedEvent
    | MemberLeftEvent
    | ComplaintFiledEvent
    | ComplaintResolvedEvent
    | SanctionAppliedEvent
    | SanctionRevokedEvent
    | RulesetUpdatedEvent
    | EnforcementRecordedEvent
)

# What the moderation engine reads: either class, by the same attribute names.
AnyEvent: TypeAlias = models.Event | FastEvent

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

_decoder = msgspec.json.Decoder(FastEvent)

# Bytes the fast path leaves to the slow one (see the module docstring): a fraction of
# seven or more digits, or an escaped character of 0x20..0x3F (digits, '.', ':' of a
# timestamp that would hide one).
_LONG_FRACTION = re.compile(rb"\.\d{7}")
_ESCAPED_DIGIT = re.compile(rb"\\u00[23]")  # two searches: one alternation costs 10x


def decode_struct(data: bytes) -> FastEvent | None:
    """The fast path alone: the event as a Struct, or None where the slow path decides."""
    if _LONG_FRACTION.search(data) is not None or _ESCAPED_DIGIT.search(data) is not None:
        return None
    try:
        event = _decoder.decode(data)
    except Exception:  # msgspec's errors, a check of __post_init__, a recursion limit
        return None
    if event.schema_version != CURRENT_VERSIONS[event.type]:
        return None
    return event


def decode_event_fast(data: bytes) -> FastEvent:
    """`shared.codec.decode_event` for attribute readers (the moderation engine): the
    same fields and values as a frozen Struct. A record the fast path leaves (old, odd or
    bad) is decoded by the slow path: it raises the same `RecordRejected`, or its event
    comes back as a Struct too."""
    event = decode_struct(data)
    if event is not None:
        return event
    return from_model(decode_event(data))


def decode_model_fast(data: bytes) -> models.Event:
    """`shared.codec.decode_event` for whoever needs the pydantic classes (reporting's
    folds test isinstance): validated by the fast path, then built (`build`) from the
    Struct's values without validating again; a record the fast path leaves is the slow
    path's, as in `decode_event_fast`."""
    event = decode_struct(data)
    if event is None:
        return decode_event(data)
    return to_model(event)


# ------------------------------------------------------------------ conversions

_MODEL_OF: dict[type[msgspec.Struct], type[BaseModel]] = {
    Attachment: models.Attachment,
    MessagePosted: models.MessagePosted,
    MemberJoined: models.MemberJoined,
    MemberLeft: models.MemberLeft,
    ComplaintFiled: models.ComplaintFiled,
    ComplaintResolved: models.ComplaintResolved,
    SanctionApplied: models.SanctionApplied,
    SanctionRevoked: models.SanctionRevoked,
    RulesetUpdated: models.RulesetUpdated,
    CallRecord: models.CallRecord,
    EnforcementRecorded: models.EnforcementRecorded,
    Actor: models.Actor,
    **{cls: models.EVENT_TYPES[name] for name, cls in EVENT_TYPES.items()},
}
_STRUCT_OF = {model: struct for struct, model in _MODEL_OF.items()}


Construct = Callable[[type[BaseModel], dict[str, Any]], Any]
_set = object.__setattr__


def build(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """A model from values already validated, in its field order: what
    `model.model_construct(**values)` ends in, without its pass over defaults and aliases
    (it costs more than the whole fast decode). For these models only: no private
    attributes, no extra fields, no `model_post_init` (the tests hold them to that).
    `model_fields_set` is every field (a validated model's holds the keys of its input;
    nothing in the project reads it)."""
    m = model.__new__(model)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def model_construct(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """`build` by pydantic's public API (slower; tools.decode_bench measures both)."""
    return model.model_construct(**values)


def to_model(event: FastEvent, construct: Construct = build) -> models.Event:
    """The pydantic event equal to a (validated) Struct, built without validating again."""
    p = event.payload
    if isinstance(p, MessagePosted):
        payload: Any = construct(
            models.MessagePosted,
            {
                "message_id": p.message_id,
                "text": p.text,
                "channel_id": p.channel_id,
                "reply_to": p.reply_to,
                "mentions": list(p.mentions),
                "attachments": [
                    construct(models.Attachment, {"kind": a.kind, "url": a.url})
                    for a in p.attachments
                ],
            },
        )
    elif isinstance(p, RulesetUpdated):
        payload = construct(models.RulesetUpdated, {"version": p.version, "rules": dict(p.rules)})
    elif isinstance(p, EnforcementRecorded):
        values = msgspec.structs.asdict(p)
        values["calls"] = [
            construct(models.CallRecord, {**msgspec.structs.asdict(c), "params": dict(c.params)})
            for c in p.calls
        ]
        payload = construct(models.EnforcementRecorded, values)
    else:
        payload = construct(_MODEL_OF[type(p)], msgspec.structs.asdict(p))
    actor = event.actor
    model: models.Event = construct(
        _MODEL_OF[type(event)],
        {
            "event_id": event.event_id,
            "schema_version": event.schema_version,
            "occurred_at": event.occurred_at,
            "received_at": event.received_at,
            "platform": event.platform,
            "group_id": event.group_id,
            "user_id": event.user_id,
            "actor": None
            if actor is None
            else construct(models.Actor, {"name": actor.name, "role": actor.role}),
            "type": event.type,
            "payload": payload,
        },
    )
    return model


def _struct(value: Any) -> Any:
    struct = _STRUCT_OF.get(type(value))
    if struct is None:
        return value
    return struct(
        **{
            name: [_struct(v) for v in item] if isinstance(item, list) else _struct(item)
            for name, item in value.__dict__.items()
            if name != "type"
        }
    )


def from_model(event: models.Event) -> FastEvent:
    """The Struct equal to a (validated) pydantic event."""
    struct: FastEvent = _struct(event)
    return struct
