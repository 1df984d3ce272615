"""OneBot v11 (QQ via go-cqhttp, NapCat, Lagrange, ...) HTTP POST events -> canonical events.

Implementations send `message` either as a segment array or as a CQ-code string,
depending on their `message_format` setting; both are decoded to the same segments so
the operator's choice changes nothing downstream.
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
    obj,
    opt_id,
    opt_obj,
    opt_ref,
    platform_id,
)
from shared.events import Platform

PLATFORM: Platform = "onebot"

Segment = tuple[str, dict[str, str]]

_MEDIA_KINDS = {"image": "image", "record": "audio", "video": "video", "file": "file"}
# "mface" is NapCat's market sticker; it carries a URL like an image.
_STICKER_TYPES = frozenset({"mface", "marketface"})

_CQ_CODE = re.compile(r"\[CQ:([^,\[\]]+)((?:,[^,\[\]]*)*)\]")
_ESCAPE = re.compile(r"&(amp|#91|#93|#44);")
_UNESCAPED = {"amp": "&", "#91": "[", "#93": "]", "#44": ","}


def map_payload(payload: dict[str, Any], received_at: datetime) -> Mapping:
    payload = obj(payload, "the event")
    post_type = payload.get("post_type")
    if not isinstance(post_type, str):
        raise Unmappable("post_type is missing: this is not a OneBot v11 event")
    if post_type == "message":
        return _map_message(payload, received_at)
    if post_type == "notice":
        return _map_notice(payload, received_at)
    if post_type == "message_sent":
        return ignored("message sent by the bot itself")
    if post_type == "meta_event":
        return ignored(f"meta event {_show(payload.get('meta_event_type'))}")
    if post_type == "request":
        return ignored(f"request {_show(payload.get('request_type'))}")
    return ignored(f"post_type {_show(post_type)} is not mapped")


def _show(value: Any) -> str:
    return repr(value)[:60]


def _map_message(payload: dict[str, Any], received_at: datetime) -> Mapping:
    message_type = payload.get("message_type")
    if message_type == "private":
        return ignored("private chat")
    if message_type != "group":
        return ignored(f"message_type {_show(message_type)} is not a group message")
    if payload.get("sub_type") == "notice":
        return ignored("group system notice")
    self_id = platform_id(payload.get("self_id"), "self_id")
    group_id = platform_id(payload.get("group_id"), "group_id")
    user_id = _sender_id(payload)
    message_id = message_ref(payload.get("message_id"), "message_id")
    occurred_at = epoch_time(payload.get("time"), "time")
    segments = _segments(payload.get("message"), payload.get("raw_message"))

    texts: list[str] = []
    mentions: list[str] = []
    attachments: list[dict[str, str] | None] = []
    reply_to: str | None = None
    for kind, data in segments:
        if kind == "text":
            texts.append(data.get("text", ""))
        elif kind == "at":
            qq = data.get("qq")
            target = "all" if qq == "all" else opt_id(qq)
            if target is not None:
                mentions.append(target)
        elif kind == "reply":
            reply_to = opt_ref(data.get("id"))
        elif kind in _MEDIA_KINDS:
            attachments.append(attachment(_MEDIA_KINDS[kind], _media_ref(data)))
        elif kind in _STICKER_TYPES:
            attachments.append(attachment("sticker", _media_ref(data)))
        elif kind == "share":
            attachments.append(attachment("other", data.get("url")))
        # face, poke, json/xml cards and the like carry no text a rule could match

    body = message_payload(message_id, "".join(texts).strip(), reply_to, mentions, attachments)
    origin = Origin(PLATFORM, group_id, user_id, received_at)
    key = (self_id, "msg", group_id, message_id)
    return origin.single("message.posted", key, occurred_at, body)


def _sender_id(payload: dict[str, Any]) -> str:
    user_id = platform_id(payload.get("user_id"), "user_id")
    if payload.get("sub_type") != "anonymous":
        return user_id
    # Every anonymous poster shares one QQ number (80000000); the per-poster anonymous
    # id keeps their histories apart.
    anonymous_id = opt_id(opt_obj(payload.get("anonymous")).get("id"))
    return platform_id(f"anon-{anonymous_id}", "anonymous.id") if anonymous_id else user_id


def _media_ref(data: dict[str, str]) -> str | None:
    ref = data.get("url") or data.get("file")
    if ref and ref.startswith("base64://"):
        return "base64://"  # inline bytes are not a reference worth storing
    return ref


def _segments(message: Any, raw_message: Any) -> list[Segment]:
    if isinstance(message, list):
        return [_array_segment(item, i) for i, item in enumerate(message)]
    if isinstance(message, str):
        return parse_cq_string(message)
    if message is None and isinstance(raw_message, str):
        return parse_cq_string(raw_message)
    raise Unmappable(
        f"message must be a segment array or a CQ-code string, got {json_type(message)}"
    )


def _array_segment(item: Any, index: int) -> Segment:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise Unmappable(f"message[{index}] is not a segment object with a string 'type'")
    data = item.get("data")
    params: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            # The spec says strings; NapCat sends numbers for ids. Anything else is dropped.
            if isinstance(value, str):
                params[key] = value
            elif isinstance(value, int | float) and not isinstance(value, bool):
                params[key] = str(value)
    return item["type"], params


def parse_cq_string(message: str) -> list[Segment]:
    """Decode a CQ-code string into segments, undoing the &amp; &#91; &#93; &#44; escapes."""
    segments: list[Segment] = []
    position = 0
    for code in _CQ_CODE.finditer(message):
        if code.start() > position:
            segments.append(("text", {"text": _unescape(message[position : code.start()])}))
        params: dict[str, str] = {}
        for item in code.group(2).split(",")[1:]:
            key, _, value = item.partition("=")
            params[_unescape(key)] = _unescape(value)
        segments.append((_unescape(code.group(1)), params))
        position = code.end()
    if position < len(message):
        segments.append(("text", {"text": _unescape(message[position:])}))
    return segments


def _unescape(text: str) -> str:
    # One pass, so "&amp;#91;" becomes the literal "&#91;" and not "[".
    return _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], text)


def _map_notice(payload: dict[str, Any], received_at: datetime) -> Mapping:
    notice_type = payload.get("notice_type")
    if notice_type not in ("group_increase", "group_decrease"):
        return ignored(f"notice {_show(notice_type)}")
    self_id = platform_id(payload.get("self_id"), "self_id")
    group_id = platform_id(payload.get("group_id"), "group_id")
    user_id = platform_id(payload.get("user_id"), "user_id")
    occurred_at = epoch_time(payload.get("time"), "time")
    sub_type = payload.get("sub_type")
    # operator_id 0 means "unknown"; an operator equal to the member is no one else.
    operator = opt_id(payload.get("operator_id"))
    if operator in ("0", user_id):
        operator = None
    when = str(int(occurred_at.timestamp()))
    if notice_type == "group_increase":
        event_type, verb = "member.joined", "joined"
        body = {"invited_by": operator if sub_type == "invite" else None}
    else:
        # kick_me is the bot's own account being kicked: recorded as that member leaving,
        # symmetric with the bot's own join, so member counts stay consistent.
        event_type, verb = "member.left", "left"
        body = {"kicked_by": operator if sub_type in ("kick", "kick_me") else None}
    origin = Origin(PLATFORM, group_id, user_id, received_at)
    return origin.single(event_type, (self_id, verb, group_id, user_id, when), occurred_at, body)
