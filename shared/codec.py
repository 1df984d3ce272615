"""The one serialisation path: bytes on the wire <-> validated models, upcasting on read."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.events import Decision, Event

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# The version each type is written at today; anything newer is from a future release and
# is dead-lettered rather than guessed at.
CURRENT_VERSIONS: dict[str, int] = {
    "message.posted": 2,
    "member.joined": 1,
    "member.left": 1,
    "complaint.filed": 1,
    "complaint.resolved": 1,
    "sanction.applied": 1,
    "sanction.revoked": 1,
    "ruleset.updated": 1,
    "enforcement.recorded": 1,
}

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}

_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
_events_adapter: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


class RecordRejected(ValueError):
    """A record that cannot become a valid event; `reason` goes to the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
_VIDEO_EXT = (".mp4", ".mov", ".webm", ".mkv")
_AUDIO_EXT = (".mp3", ".ogg", ".wav", ".amr", ".silk", ".m4a")


def attachment_kind(url: str) -> str:
    lowered = url.lower().split("?", 1)[0]
    if lowered.endswith(_IMAGE_EXT):
        return "image"
    if lowered.endswith(_VIDEO_EXT):
        return "video"
    if lowered.endswith(_AUDIO_EXT):
        return "audio"
    return "file"


@upcaster("message.posted", 1)
def _message_v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """v1 carried attachments as bare URLs; v2 names the kind so reports can count media."""
    payload = dict(raw.get("payload") or {})
    payload["attachments"] = [
        {"kind": attachment_kind(a), "url": a} if isinstance(a, str) else a
        for a in payload.get("attachments", [])
    ]
    return {**raw, "payload": payload, "schema_version": 2}


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in CURRENT_VERSIONS:
        raise RecordRejected(f"unknown event type {event_type!r}")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise RecordRejected(f"schema_version must be a positive integer, got {version!r}")
    current = CURRENT_VERSIONS[event_type]
    raw = {**raw, "schema_version": version}
    if version > current:
        raise RecordRejected(
            f"schema_version {version} of {event_type} is newer than this release ({current})"
        )
    while version < current:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise RecordRejected(f"no upcaster for {event_type} v{version}")
        raw = step(raw)
        version = raw["schema_version"]
    return raw


def validation_message(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return "; ".join(parts)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate_at(value: Any, where: str = "") -> str | None:
    """Where a string holds a lone UTF-16 surrogate (JSON can carry one as an escape, e.g.
    "\\ud800"), else None. Such a string validates but can never be written back as
    UTF-8, so it would fail later, on publish or in a projection, instead of here. The
    path names only ASCII keys, so the reason itself stays writable."""
    if isinstance(value, str):
        return None if value.isascii() or not _LONE_SURROGATE.search(value) else where or "."
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if isinstance(key, str) and key.isascii() else f"{where}.?"
            found = lone_surrogate_at(key, path) or lone_surrogate_at(item, path)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate_at(item, f"{where}[{i}]")
            if found:
                return found
    return None


# A lone surrogate can only come from a JSON escape (UTF-8 bytes cannot carry one), so
# text without such an escape needs no scan: the hot path of every consumer.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def may_hold_surrogates(data: bytes) -> bool:
    return _SURROGATE_ESCAPE.search(data) is not None


def event_from_dict(raw: Any, *, scan_surrogates: bool = True) -> Event:
    if not isinstance(raw, dict):
        raise RecordRejected("an event must be a JSON object")
    bad = lone_surrogate_at(raw) if scan_surrogates else None
    if bad:
        raise RecordRejected(f"{bad.lstrip('.')}: text holds a lone UTF-16 surrogate")
    try:
        return _event_adapter.validate_python(upcast(raw))
    except ValidationError as err:
        raise RecordRejected(validation_message(err)) from err
    except RecordRejected:
        raise
    except (TypeError, ValueError, AttributeError) as err:
        # An upcaster met a field of the wrong shape (e.g. a v1 payload that is a string):
        # that is a bad record, not a crash of whoever reads it.
        raise RecordRejected(f"record cannot be upcast: {err}") from err


def decode_event(data: bytes) -> Event:
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise RecordRejected(f"invalid JSON: {err}") from err
    return event_from_dict(raw, scan_surrogates=may_hold_surrogates(data))


def encode_event(event: Event) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def event_to_dict(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude_none=True)


def decode_decision(data: bytes) -> Decision:
    try:
        return Decision.model_validate_json(data)
    except ValidationError as err:
        raise RecordRejected(validation_message(err)) from err


def encode_decision(decision: Decision) -> bytes:
    return decision.model_dump_json(exclude_none=True).encode()
