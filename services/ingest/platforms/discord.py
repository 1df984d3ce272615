"""Discord Gateway dispatches, forwarded by a relay bot -> canonical events.

The group is the guild, for messages as well as for membership: a member joins and
leaves a guild, not a channel, and moderation state (warnings, mutes) follows the member
across the guild's channels. A message still records its channel (`channel_id`): Discord
addresses a message by channel and id, so removing it or replying to it needs both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.ingest.platforms.base import (
    Mapping,
    Origin,
    Unmappable,
    attachment,
    epoch_micros,
    ignored,
    iso_time,
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

PLATFORM: Platform = "discord"

_DISPATCH = 0
# DEFAULT and REPLY are what people type; every other type is a system message
# (joins, pins, boosts, thread creation, slash-command responses, ...).
_USER_MESSAGE_TYPES = frozenset({0, 19})
_REPLY = 19


def map_payload(payload: dict[str, Any], received_at: datetime) -> Mapping:
    payload = obj(payload, "the dispatch")
    op = payload.get("op")
    if isinstance(op, bool) or not isinstance(op, int):
        raise Unmappable(
            f"op must be an integer: expected a Gateway payload {{op, t, d, s}}, "
            f"got op of type {json_type(op)}"
        )
    if op != _DISPATCH:
        return ignored(f"gateway opcode {op} is not a dispatch")
    name = payload.get("t")
    if not isinstance(name, str):
        raise Unmappable(f"a dispatch (op 0) needs the event name in t, got {json_type(name)}")
    data = obj(payload.get("d"), "d")
    if name == "MESSAGE_CREATE":
        return _map_message(data, received_at)
    if name == "GUILD_MEMBER_ADD":
        return _map_member_add(data, received_at)
    if name == "GUILD_MEMBER_REMOVE":
        return _map_member_remove(data, payload.get("s"), received_at)
    if name == "MESSAGE_UPDATE":
        return ignored("edited message (there is no canonical edit event)")
    return ignored(f"dispatch {name[:60]} is not mapped")


def _map_message(data: dict[str, Any], received_at: datetime) -> Mapping:
    if data.get("guild_id") is None:
        return ignored("direct message (no guild_id)")
    guild_id = platform_id(data.get("guild_id"), "d.guild_id")
    message_type = data.get("type", 0)
    if not isinstance(message_type, int):
        raise Unmappable(f"d.type must be an integer, got {json_type(message_type)}")
    if isinstance(message_type, bool) or message_type not in _USER_MESSAGE_TYPES:
        return ignored(f"system message type {str(message_type)[:20]}")
    if data.get("webhook_id") is not None:
        # The "author" of a webhook message is the webhook, not a member.
        return ignored("webhook message")
    user_id = platform_id(obj(data.get("author"), "d.author").get("id"), "d.author.id")
    message_id = message_ref(data.get("id"), "d.id")
    occurred_at = iso_time(data.get("timestamp"), "d.timestamp")
    text = text_field(data.get("content"), "d.content")

    mentions = [m for m in (opt_id(opt_obj(u).get("id")) for u in opt_list(data.get("mentions")))
                if m]  # fmt: skip
    if data.get("mention_everyone") is True:
        mentions.append("all")
    reply_to = None
    if message_type == _REPLY:
        reply_to = opt_ref(opt_obj(data.get("message_reference")).get("message_id"))
    attachments = []
    for item in opt_list(data.get("attachments")):
        item = opt_obj(item)
        kind = mime_kind(opt_str(item.get("content_type")),
                         opt_str(item.get("filename")))  # fmt: skip
        attachments.append(attachment(kind, opt_str(item.get("url"))))
    for sticker in opt_list(data.get("sticker_items")):
        sticker_id = opt_id(opt_obj(sticker).get("id"))
        attachments.append(attachment("sticker", f"discord://sticker/{sticker_id}")
                           if sticker_id else None)  # fmt: skip

    body = message_payload(message_id, text, reply_to, mentions, attachments)
    # Every MESSAGE_CREATE has one; a relay that drops it still gets the message judged
    # (only its removal then cannot be addressed).
    channel_id = opt_id(data.get("channel_id"))
    if channel_id is not None:
        body["channel_id"] = channel_id
    origin = Origin(PLATFORM, guild_id, user_id, received_at)
    return origin.single("message.posted", (guild_id, "msg", message_id), occurred_at, body)


def _map_member_add(data: dict[str, Any], received_at: datetime) -> Mapping:
    guild_id = platform_id(data.get("guild_id"), "d.guild_id")
    user_id = platform_id(obj(data.get("user"), "d.user").get("id"), "d.user.id")
    joined_at = iso_time(data.get("joined_at"), "d.joined_at")
    # Discord may re-send GUILD_MEMBER_ADD for an existing member; joined_at is the same
    # then, so the id is too and the repeat is dropped as a duplicate.
    when = str(epoch_micros(joined_at))
    origin = Origin(PLATFORM, guild_id, user_id, received_at)
    return origin.single("member.joined", (guild_id, "joined", user_id, when), joined_at, {})


def _map_member_remove(data: dict[str, Any], sequence: Any, received_at: datetime) -> Mapping:
    guild_id = platform_id(data.get("guild_id"), "d.guild_id")
    user_id = platform_id(obj(data.get("user"), "d.user").get("id"), "d.user.id")
    # GUILD_MEMBER_REMOVE carries no time and no id of its own. The gateway sequence
    # number is what a redelivery shares; without it the receive time keeps a later
    # leave of the same member from being dropped as a duplicate forever.
    if isinstance(sequence, int) and not isinstance(sequence, bool) and sequence >= 0:
        distinct = f"s{sequence}"
    else:
        distinct = f"r{epoch_micros(received_at)}"
    origin = Origin(PLATFORM, guild_id, user_id, received_at)
    return origin.single("member.left", (guild_id, "left", user_id, distinct), received_at, {})
