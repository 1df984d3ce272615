"""Telegram Bot API webhook Updates -> canonical events.

Only groups and supergroups are communities; private chats and channels are ignored.
Joins and leaves arrive two ways (service messages, and `chat_member` updates when the
bot is an admin subscribed to them); both map to the same event id scheme, chat + user +
date, so when both arrive for one join in the same second the duplicate is dropped by
ingest's event-id dedup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.ingest.platforms.base import (
    Mapping,
    Origin,
    Unmappable,
    attachment,
    epoch_time,
    ignored,
    message_payload,
    message_ref,
    obj,
    opt_id,
    opt_list,
    opt_obj,
    opt_ref,
    platform_id,
    text_field,
)
from shared.events import Event, Platform

PLATFORM: Platform = "telegram"

_GROUP_TYPES = frozenset({"group", "supergroup"})

# Update kinds that never describe a community member's message or membership.
_IGNORED_UPDATES = {
    "edited_message": "edited message (there is no canonical edit event)",
    "channel_post": "channel post",
    "edited_channel_post": "channel post",
    "my_chat_member": "the bot's own membership change (my_chat_member)",
    "message_reaction": "reaction",
    "message_reaction_count": "reaction",
    "callback_query": "callback query",
    "inline_query": "inline query",
    "chosen_inline_result": "inline query",
    "poll": "poll state",
    "poll_answer": "poll answer",
    "chat_join_request": "join request (the join itself arrives later)",
    "chat_boost": "chat boost",
    "removed_chat_boost": "chat boost",
}

# Fields any Message may have; anything else on a message without user content names
# the kind of service message it is.
_COMMON_FIELDS = frozenset(
    {
        "message_id", "message_thread_id", "from", "sender_chat", "sender_boost_count",
        "sender_business_bot", "date", "business_connection_id", "chat", "forward_origin",
        "forward_from", "forward_from_chat", "forward_from_message_id", "forward_signature",
        "forward_sender_name", "forward_date", "is_topic_message", "is_automatic_forward",
        "reply_to_message", "external_reply", "quote", "reply_to_story", "via_bot",
        "edit_date", "has_protected_content", "is_from_offline", "media_group_id",
        "author_signature", "entities", "caption_entities", "link_preview_options",
        "effect_id", "show_caption_above_media", "has_media_spoiler", "reply_markup",
    }
)  # fmt: skip

_CONTENT_FIELDS = frozenset(
    {
        "text", "caption", "photo", "video", "animation", "video_note", "document",
        "audio", "voice", "sticker", "contact", "location", "venue", "poll", "dice",
        "game", "story", "paid_media", "checklist",
    }
)  # fmt: skip

_FILE_KINDS = {
    "video": "video",
    "animation": "video",
    "video_note": "video",
    "document": "file",
    "audio": "audio",
    "voice": "audio",
    "sticker": "sticker",
}

_MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})


def map_payload(payload: dict[str, Any], received_at: datetime) -> Mapping:
    payload = obj(payload, "the update")
    if "message" in payload:
        return _map_message(obj(payload["message"], "message"), received_at)
    if "chat_member" in payload:
        return _map_chat_member(obj(payload["chat_member"], "chat_member"), received_at)
    for kind, reason in _IGNORED_UPDATES.items():
        if kind in payload:
            return ignored(reason)
    if "update_id" in payload:
        kinds = sorted(k for k in payload if k != "update_id")
        return ignored(f"update kind {kinds[0] if kinds else 'none'!r} is not mapped")
    raise Unmappable("not a Telegram Update: no update_id, message or chat_member")


def _group_chat(chat: dict[str, Any], where: str) -> str | Mapping:
    """The chat id of a group, or the Mapping that says why this chat is not one."""
    chat_type = chat.get("type")
    if chat_type == "private":
        return ignored("private chat")
    if chat_type == "channel":
        return ignored("channel post")
    if not isinstance(chat_type, str) or chat_type not in _GROUP_TYPES:
        return ignored(f"chat type {str(chat_type)[:40]!r} is not a group")
    return platform_id(chat.get("id"), f"{where}.id")


def _map_message(msg: dict[str, Any], received_at: datetime) -> Mapping:
    chat_id = _group_chat(obj(msg.get("chat"), "message.chat"), "message.chat")
    if isinstance(chat_id, Mapping):
        return chat_id
    occurred_at = epoch_time(msg.get("date"), "message.date")
    actor = _sender(msg)

    if "new_chat_members" in msg:
        events = []
        for i, member in enumerate(opt_list(msg["new_chat_members"])):
            user_id = platform_id(
                obj(member, f"new_chat_members[{i}]").get("id"), f"new_chat_members[{i}].id"
            )
            invited_by = actor if actor not in (None, user_id) else None
            events.append(
                _membership("member.joined", chat_id, user_id, occurred_at, received_at,
                            {"invited_by": invited_by})
            )  # fmt: skip
        return Mapping(events=events) if events else ignored("new_chat_members is empty")
    if "left_chat_member" in msg:
        member = obj(msg["left_chat_member"], "message.left_chat_member")
        user_id = platform_id(member.get("id"), "message.left_chat_member.id")
        kicked_by = actor if actor not in (None, user_id) else None
        event = _membership(
            "member.left", chat_id, user_id, occurred_at, received_at, {"kicked_by": kicked_by}
        )
        return Mapping(events=[event])

    if not _CONTENT_FIELDS.intersection(msg):
        extra = [k for k in msg if k not in _COMMON_FIELDS]
        return ignored(f"service message ({extra[0][:40]})" if extra else "empty message")
    if actor is None:
        raise Unmappable("message has neither a usable from.id nor sender_chat.id")
    message_id = message_ref(msg.get("message_id"), "message.message_id")
    text = text_field(msg.get("text"), "message.text") or text_field(
        msg.get("caption"), "message.caption"
    )
    entities = opt_list(msg.get("entities")) or opt_list(msg.get("caption_entities"))
    body = message_payload(
        message_id, text, _reply_to(msg), _mentions(text, entities), _attachments(msg)
    )
    origin = Origin(PLATFORM, chat_id, actor, received_at)
    return origin.single("message.posted", (chat_id, "msg", message_id), occurred_at, body)


def _sender(msg: dict[str, Any]) -> str | None:
    # Anonymous admins and linked-channel posts carry the chat they speak for in
    # sender_chat; `from` is then a shared placeholder bot, not the actor.
    sender_chat = opt_id(opt_obj(msg.get("sender_chat")).get("id"))
    return sender_chat or opt_id(opt_obj(msg.get("from")).get("id"))


def _reply_to(msg: dict[str, Any]) -> str | None:
    replied = opt_obj(msg.get("reply_to_message"))
    # In forum topics every message "replies" to the topic's creation message.
    if msg.get("is_topic_message") is True and "forum_topic_created" in replied:
        return None
    return opt_ref(replied.get("message_id"))


def _mentions(text: str, entities: list[Any]) -> list[str]:
    """@username mentions (Telegram does not resolve them to ids) and text_mention ids."""
    mentions = []
    utf16 = text.encode("utf-16-le", "surrogatepass")
    for entity in entities:
        entity = opt_obj(entity)
        if entity.get("type") == "text_mention":
            user_id = opt_id(opt_obj(entity.get("user")).get("id"))
            if user_id:
                mentions.append(user_id)
        elif entity.get("type") == "mention":
            offset, length = entity.get("offset"), entity.get("length")
            if not (isinstance(offset, int) and isinstance(length, int)):
                continue
            if offset < 0 or length < 2 or 2 * (offset + length) > len(utf16):
                continue
            # Offsets count UTF-16 code units, not Python characters.
            name = utf16[2 * offset : 2 * (offset + length)].decode("utf-16-le", "replace")
            if name.startswith("@") and name[1:].replace("_", "").isalnum() and name.isascii():
                mentions.append(name)
    return mentions


def _attachments(msg: dict[str, Any]) -> list[dict[str, str] | None]:
    found: list[dict[str, str] | None] = []
    photos = [p for p in opt_list(msg.get("photo")) if isinstance(p, dict)]
    if photos:
        # Telegram lists one photo in several sizes; the last is the largest.
        found.append(attachment("image", _file_url(photos[-1])))
    for field, kind in _FILE_KINDS.items():
        if isinstance(msg.get(field), dict):
            found.append(attachment(kind, _file_url(msg[field])))
    return found


def _file_url(file: dict[str, Any]) -> str | None:
    file_id = file.get("file_id")
    if not isinstance(file_id, str) or not file_id or not file_id.isprintable():
        return None
    if any(c.isspace() for c in file_id):
        return None
    return f"tg://file/{file_id}"


def _map_chat_member(update: dict[str, Any], received_at: datetime) -> Mapping:
    chat_id = _group_chat(obj(update.get("chat"), "chat_member.chat"), "chat_member.chat")
    if isinstance(chat_id, Mapping):
        return chat_id
    occurred_at = epoch_time(update.get("date"), "chat_member.date")
    old = obj(update.get("old_chat_member"), "chat_member.old_chat_member")
    new = obj(update.get("new_chat_member"), "chat_member.new_chat_member")
    user = obj(new.get("user"), "chat_member.new_chat_member.user")
    user_id = platform_id(user.get("id"), "chat_member.new_chat_member.user.id")
    was_in = _in_chat(old, "chat_member.old_chat_member")
    is_in = _in_chat(new, "chat_member.new_chat_member")
    actor = opt_id(opt_obj(update.get("from")).get("id"))
    by_other = actor if actor != user_id else None
    if is_in and not was_in:
        event = _membership(
            "member.joined", chat_id, user_id, occurred_at, received_at, {"invited_by": by_other}
        )
    elif was_in and not is_in:
        event = _membership(
            "member.left", chat_id, user_id, occurred_at, received_at, {"kicked_by": by_other}
        )
    else:
        return ignored(f"member status change {old.get('status')} -> {new.get('status')}")
    return Mapping(events=[event])


def _in_chat(member: dict[str, Any], where: str) -> bool:
    status = member.get("status")
    if not isinstance(status, str):
        raise Unmappable(f"{where}.status must be a string")
    if status == "restricted":
        return member.get("is_member") is True
    return status in _MEMBER_STATUSES


def _membership(
    event_type: str,
    chat_id: str,
    user_id: str,
    occurred_at: datetime,
    received_at: datetime,
    body: dict[str, Any],
) -> Event:
    verb = "joined" if event_type == "member.joined" else "left"
    when = str(int(occurred_at.timestamp()))
    origin = Origin(PLATFORM, chat_id, user_id, received_at)
    return origin.event(event_type, (chat_id, verb, user_id, when), occurred_at, body)
