"""Slack Events API deliveries -> canonical events.

The group is the channel. Joins and leaves come from `member_joined_channel` /
`member_left_channel` only; the `channel_join` / `channel_leave` message subtypes
describe the same joins again (with different envelope event ids), so they are ignored
to keep one join from counting twice.

Slack writes mentions and links as markup (`<@U123>`, `<https://x|label>`) and escapes
`&`, `<`, `>`; text is rendered to what a reader sees so keyword rules match it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from services.ingest.platforms.base import (
    Mapping,
    Origin,
    Unmappable,
    attachment,
    epoch_time,
    ignored,
    json_type,
    message_payload,
    message_ref,
    mime_kind,
    obj,
    opt_id,
    opt_list,
    opt_obj,
    opt_ref,
    opt_str,
    platform_id,
    text_field,
)
from shared.events import Platform

PLATFORM: Platform = "slack"

_GROUP_CHANNEL_TYPES = frozenset({"channel", "group"})
# Subtypes that are still a person posting in the channel (as is no subtype at all).
_POSTED_SUBTYPES = frozenset({"thread_broadcast", "file_share", "me_message"})
_IGNORED_SUBTYPES = {
    "message_changed": "edited message (there is no canonical edit event)",
    "message_deleted": "deleted message",
    "bot_message": "bot message",
    "channel_join": "channel_join message (the join is mapped from member_joined_channel)",
    "channel_leave": "channel_leave message (the leave is mapped from member_left_channel)",
}
_BROADCASTS = frozenset({"here", "channel", "everyone"})
_MARKUP = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def map_payload(payload: dict[str, Any], received_at: datetime) -> Mapping:
    payload = obj(payload, "the request")
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            raise Unmappable("url_verification without a string challenge")
        return Mapping(challenge=challenge)
    if kind == "app_rate_limited":
        return ignored("app_rate_limited notice")
    if kind != "event_callback":
        raise Unmappable(
            f"expected an Events API envelope (type event_callback or url_verification), "
            f"got type {str(kind)[:60]!r}"
        )
    envelope_id = payload.get("event_id")
    if not isinstance(envelope_id, str):
        raise Unmappable(f"event_id must be a string, got {json_type(envelope_id)}")
    envelope_id = platform_id(envelope_id, "event_id")
    event = obj(payload.get("event"), "event")
    event_type = event.get("type")
    if event_type == "message":
        return _map_message(event, received_at)
    if event_type in ("member_joined_channel", "member_left_channel"):
        return _map_membership(event, payload.get("event_time"), envelope_id, received_at)
    return ignored(f"{str(event_type)[:60]} event is not mapped")


def _map_message(event: dict[str, Any], received_at: datetime) -> Mapping:
    subtype = event.get("subtype")
    if subtype is not None and not isinstance(subtype, str):
        raise Unmappable(f"event.subtype must be a string, got {json_type(subtype)}")
    if subtype is not None and subtype not in _POSTED_SUBTYPES:
        reason = _IGNORED_SUBTYPES.get(subtype)
        return ignored(reason or f"message subtype {subtype[:40]!r} is not mapped")
    if event.get("hidden") is True:
        return ignored("hidden message")
    channel = platform_id(event.get("channel"), "event.channel")
    channel_type = opt_str(event.get("channel_type"))
    if channel_type in ("im", "mpim") or (channel_type is None and channel.startswith("D")):
        return ignored("direct message")
    if channel_type is not None and channel_type not in _GROUP_CHANNEL_TYPES:
        return ignored(f"channel_type {str(channel_type)[:40]!r} is not a channel")
    if event.get("bot_id") is not None and event.get("user") is None:
        return ignored("bot message")
    user_id = platform_id(event.get("user"), "event.user")
    ts = message_ref(event.get("ts"), "event.ts")
    occurred_at = epoch_time(ts, "event.ts")
    text, mentions = render_text(text_field(event.get("text"), "event.text"))
    thread_ts = opt_ref(event.get("thread_ts"))
    reply_to = thread_ts if thread_ts != ts else None
    attachments = []
    for file in opt_list(event.get("files")):
        file = opt_obj(file)
        kind = mime_kind(opt_str(file.get("mimetype")), opt_str(file.get("name")))
        file_id = opt_id(file.get("id"))
        url = opt_str(file.get("url_private")) or (f"slack://file/{file_id}" if file_id else None)
        attachments.append(attachment(kind, url))
    body = message_payload(ts, text, reply_to, mentions, attachments)
    origin = Origin(PLATFORM, channel, user_id, received_at)
    return origin.single("message.posted", (channel, "msg", ts), occurred_at, body)


def render_text(text: str) -> tuple[str, list[str]]:
    """Slack markup rendered as a reader sees it, and the user ids it mentions."""
    mentions: list[str] = []

    def render(token: re.Match[str]) -> str:
        target, _, label = token.group(1).partition("|")
        if target.startswith("@"):
            user_id = opt_id(target[1:])
            if user_id:
                mentions.append(user_id)
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            command = target[1:]
            if command in _BROADCASTS:
                mentions.append("all")
            return label or "@" + command.split("^", 1)[0]
        return f"{label} ({target})" if label and label != target else target

    rendered = _MARKUP.sub(render, text)
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], rendered), mentions


def _map_membership(
    event: dict[str, Any], event_time: Any, envelope_id: str, received_at: datetime
) -> Mapping:
    channel = platform_id(event.get("channel"), "event.channel")
    user_id = platform_id(event.get("user"), "event.user")
    # event_ts is documented as always present but is missing from real deliveries of
    # these events; the envelope's event_time is the fallback.
    if event.get("event_ts") is not None:
        occurred_at = epoch_time(event.get("event_ts"), "event.event_ts")
    elif event_time is not None:
        occurred_at = epoch_time(event_time, "event_time")
    else:
        raise Unmappable("neither event.event_ts nor event_time says when this happened")
    if event.get("type") == "member_joined_channel":
        inviter = opt_id(event.get("inviter"))
        event_type, verb = "member.joined", "joined"
        body = {"invited_by": inviter if inviter != user_id else None}
    else:
        # Slack does not say who removed a member, so kicked_by stays unknown.
        event_type, verb = "member.left", "left"
        body = {}
    origin = Origin(PLATFORM, channel, user_id, received_at)
    return origin.single(event_type, (channel, verb, user_id, envelope_id), occurred_at, body)
