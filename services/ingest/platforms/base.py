"""What every platform adapter returns, and the checks they share.

Adapters are pure: a decoded JSON payload and the time ingest accepted it in, canonical
events out. Anything a webhook sender controls passes through the readers below, so a
malformed payload surfaces as `Unmappable` with a message saying which field was wrong,
never as a KeyError or a pydantic error from deep inside an adapter.

Policy shared by all adapters: the fields an event cannot exist without (ids, times) must
be valid or the payload is `Unmappable`; decorations (a mention, an attachment, a reply
reference) that are malformed are dropped, because losing a whole message to a bad
mention would hide it from moderation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.codec import CURRENT_VERSIONS, RecordRejected, attachment_kind, event_from_dict
from shared.events import Event, Platform

# Ids become parts of group and user keys, which projections may use as document keys:
# no '.', no '$', no whitespace. Every supported platform's ids fit this.
_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
# Message ids are only ever values (Slack's are timestamps with a '.').
_REF = re.compile(r"[A-Za-z0-9_\-.]{1,64}")
_EVENT_ID = re.compile(r"[^$\s]\S{0,255}")

# datetime cannot represent year 10000; reject before the C code overflows.
_MAX_EPOCH = 253_402_300_799


class Unmappable(ValueError):
    """A payload that parsed as JSON but cannot become canonical events."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Mapping:
    """The result of mapping one webhook payload.

    Exactly one of these holds: `events` is non-empty, `ignored` says why nothing was
    produced, or `challenge` is the value a platform handshake wants echoed back.
    """

    events: list[Event] = field(default_factory=list)
    ignored: str | None = None
    challenge: str | None = None


def ignored(reason: str) -> Mapping:
    return Mapping(ignored=reason)


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Unmappable(f"{where} must be a JSON object, got {json_type(value)}")
    return value


def opt_obj(value: Any) -> dict[str, Any]:
    """A nested object that may be absent or malformed; treated as empty then."""
    return value if isinstance(value, dict) else {}


def opt_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def text_field(value: Any, where: str) -> str:
    """A text field that may be absent (empty) but must be a string when present."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unmappable(f"{where} must be a string, got {json_type(value)}")
    return value


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _as_id_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _required_id(value: Any, where: str, pattern: re.Pattern[str], what: str) -> str:
    """The text of a required id field; `what` names the kind of id the message wants."""
    text = _as_id_text(value)
    if text is None:
        raise Unmappable(f"{where} must be a string or integer id, got {json_type(value)}")
    if not pattern.fullmatch(text):
        raise Unmappable(f"{where} {text[:40]!r} is not {what}")
    return text


def _optional_id(value: Any, pattern: re.Pattern[str]) -> str | None:
    text = _as_id_text(value)
    return text if text is not None and pattern.fullmatch(text) else None


def platform_id(value: Any, where: str) -> str:
    """A required group or user id, as the string the stream carries."""
    return _required_id(value, where, _ID, "an id (letters, digits, '_', '-')")


def message_ref(value: Any, where: str) -> str:
    """A required message id."""
    return _required_id(value, where, _REF, "a message id")


def opt_id(value: Any) -> str | None:
    """An optional user id (a mention, an inviter): None when absent or not an id."""
    return _optional_id(value, _ID)


def opt_ref(value: Any) -> str | None:
    """An optional message id (a reply reference): None when absent or not an id."""
    return _optional_id(value, _REF)


def event_id(*parts: str) -> str:
    """Join platform-derived parts into an event id, checked against the envelope rules."""
    joined = ":".join(parts)
    if not _EVENT_ID.fullmatch(joined):
        raise Unmappable(f"cannot build a valid event id from {joined[:80]!r}")
    return joined


def epoch_time(value: Any, where: str) -> datetime:
    """A UTC time from epoch seconds: a JSON number, or a decimal string like Slack's ts."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unmappable(f"{where} must be epoch seconds, got {json_type(value)}")
    if isinstance(value, str):
        return _epoch_from_text(value, where)
    if isinstance(value, float) and value != value:  # NaN
        raise Unmappable(f"{where} must be epoch seconds, got NaN")
    if not 0 <= value <= _MAX_EPOCH:
        raise Unmappable(f"{where} {value!r} is out of range for epoch seconds")
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromtimestamp(round(value, 6), UTC)


_EPOCH_TEXT = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?")


def _epoch_from_text(value: str, where: str) -> datetime:
    # Parsed as text, not float, so "1663966382.046509" keeps its exact microseconds.
    match = _EPOCH_TEXT.fullmatch(value)
    if match is None:
        raise Unmappable(f"{where} {value[:40]!r} is not epoch seconds like '1663966382.046509'")
    seconds = int(match.group(1))
    if seconds > _MAX_EPOCH:
        raise Unmappable(f"{where} {value[:40]!r} is out of range for epoch seconds")
    micros = int((match.group(2) or "0").ljust(6, "0")[:6])
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(when: datetime) -> int:
    """Exact microseconds since the epoch (float timestamps can be off by one)."""
    return (when - _EPOCH) // timedelta(microseconds=1)


def iso_time(value: Any, where: str) -> datetime:
    """A UTC time from an ISO 8601 string that carries its offset."""
    if not isinstance(value, str):
        raise Unmappable(f"{where} must be an ISO 8601 timestamp, got {json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise Unmappable(f"{where} {value[:40]!r} is not an ISO 8601 timestamp") from err
    if parsed.tzinfo is None:
        raise Unmappable(f"{where} {value[:40]!r} has no time zone offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as err:
        raise Unmappable(f"{where} {value[:40]!r} is out of range") from err


def dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def mime_kind(mime: str | None, name: str | None) -> str:
    """An attachment kind from a MIME type, falling back to the file name's extension."""
    major = (mime or "").split("/", 1)[0].lower()
    if major in ("image", "video", "audio"):
        return major
    return attachment_kind(name) if name else "file"


MAX_URL = 4096
MAX_MENTIONS = 1000
MAX_ATTACHMENTS = 100


def attachment(kind: str, url: str | None) -> dict[str, str] | None:
    """An attachment, or None when there is no usable reference to the file."""
    if not url or len(url) > MAX_URL:
        return None
    return {"kind": kind, "url": url}


def message_payload(
    message_id: str,
    text: str,
    reply_to: str | None,
    mentions: list[str],
    attachments: list[dict[str, str] | None],
) -> dict[str, Any]:
    """The message.posted payload, trimmed to the limits the contract sets."""
    return {
        "message_id": message_id,
        "text": text,
        "reply_to": reply_to,
        "mentions": dedupe(mentions)[:MAX_MENTIONS],
        "attachments": [a for a in attachments if a is not None][:MAX_ATTACHMENTS],
    }


def make_event(
    event_type: str,
    *,
    event_id: str,
    platform: Platform,
    group_id: str,
    user_id: str,
    occurred_at: datetime,
    received_at: datetime,
    payload: dict[str, Any],
) -> Event:
    """Build and validate one canonical event, at the version this release writes.

    A platform time of exactly 0 is an unset clock (OneBot implementations send it), not a
    message from 1970: the event is dated when it was received instead."""
    if occurred_at == _EPOCH:
        occurred_at = received_at
    raw = {
        "event_id": event_id,
        "type": event_type,
        "schema_version": CURRENT_VERSIONS[event_type],
        "occurred_at": occurred_at,
        "received_at": received_at,
        "platform": platform,
        "group_id": group_id,
        "user_id": user_id,
        "payload": payload,
    }
    try:
        return event_from_dict(raw)
    except RecordRejected as err:
        raise Unmappable(f"{event_type} would be invalid: {err.reason}") from err


@dataclass(frozen=True)
class Origin:
    """The platform, group and member an event belongs to, and when ingest received it.

    Every event an adapter builds fills these four the same way, and every event id starts
    with the platform's name; holding them here leaves each adapter to say only what differs
    per event (its type, the rest of its id, its time and its payload), and keeps an event id
    from naming a platform other than the one in the event.
    """

    platform: Platform
    group_id: str
    user_id: str
    received_at: datetime

    def event(
        self, event_type: str, key: tuple[str, ...], occurred_at: datetime, payload: dict[str, Any]
    ) -> Event:
        """One validated event, with the id `platform:key[0]:key[1]:...`."""
        return make_event(
            event_type,
            event_id=event_id(self.platform, *key),
            platform=self.platform,
            group_id=self.group_id,
            user_id=self.user_id,
            occurred_at=occurred_at,
            received_at=self.received_at,
            payload=payload,
        )

    def single(
        self, event_type: str, key: tuple[str, ...], occurred_at: datetime, payload: dict[str, Any]
    ) -> Mapping:
        """The mapping of a payload that becomes exactly this one event."""
        return Mapping(events=[self.event(event_type, key, occurred_at, payload)])
