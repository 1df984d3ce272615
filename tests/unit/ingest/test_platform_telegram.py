"""Telegram Updates become the canonical events a moderator would expect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.platforms.telegram import map_payload
from shared.events import Attachment, AttachmentKind
from tests.support.platforms import RECEIVED, ignored_why, load, unmappable_why


def events_of(payload: dict[str, Any]) -> list[Any]:
    return map_payload(payload, RECEIVED).events


def test_supergroup_text_reply() -> None:
    [event] = events_of(load("telegram_group_message_1.json"))
    assert event.type == "message.posted"
    assert event.event_id == "telegram:-1001293752024:msg:134546"
    assert (event.group_id, event.user_id) == ("-1001293752024", "5964236329")
    assert event.payload.text == "/report"
    assert event.payload.reply_to == "134545"
    assert event.payload.mentions == []
    assert event.occurred_at == datetime(2024, 7, 21, 20, 9, 40, tzinfo=UTC)


def test_photo_caption_with_mentions_at_utf16_offsets() -> None:
    [event] = events_of(load("synthetic_telegram_photo_caption.json"))
    assert event.payload.text == "🎉 hi @alice_99 and Bob"
    assert event.payload.mentions == ["@alice_99", "424242"]
    assert event.payload.attachments == [Attachment(kind="image", url="tg://file/AgAC-large")]


def test_sticker_only_message_is_still_a_message() -> None:
    [event] = events_of(load("synthetic_telegram_sticker.json"))
    assert event.payload.text == ""
    assert event.payload.attachments == [Attachment(kind="sticker", url="tg://file/CAAC-sticker")]


@pytest.mark.parametrize(
    ("field", "kind"),
    [("video", "video"), ("voice", "audio"), ("document", "file"), ("audio", "audio")],
)
def test_media_kinds(field: str, kind: AttachmentKind) -> None:
    payload = load("synthetic_telegram_sticker.json")
    message = {k: v for k, v in payload["message"].items() if k != "sticker"}
    message[field] = {"file_id": "BQAC-1", "file_unique_id": "u"}
    [event] = events_of({**payload, "message": message})
    assert event.payload.attachments == [Attachment(kind=kind, url="tg://file/BQAC-1")]


def test_new_chat_members_one_event_each_with_the_inviter() -> None:
    payload = load("telegram_new_chat_members_1.json")
    [event] = events_of(payload)
    assert event.type == "member.joined"
    assert (event.group_id, event.user_id) == ("-234234212", "199267392")
    assert event.payload.invited_by == "14289485"
    assert event.event_id == "telegram:-234234212:joined:199267392:1513173785"

    second = {"id": 7, "is_bot": False, "first_name": "Second"}
    payload["message"]["new_chat_members"].append(second)
    assert [e.user_id for e in events_of(payload)] == ["199267392", "7"]


def test_joining_by_oneself_has_no_inviter() -> None:
    payload = load("telegram_new_chat_members_1.json")
    payload["message"]["from"] = payload["message"]["new_chat_members"][0]
    [event] = events_of(payload)
    assert event.payload.invited_by is None


def test_removed_member_records_who_removed_them() -> None:
    [event] = events_of(load("telegram_left_chat_member_1.json"))
    assert event.type == "member.left"
    assert (event.user_id, event.payload.kicked_by) == ("199267392", "14289485")
    assert event.occurred_at == datetime(2017, 12, 13, 14, 3, 13, tzinfo=UTC)


def test_chat_member_update_member_to_left() -> None:
    # Derived: the real ChatMemberUpdated sample wrapped in the Update it arrives in.
    update = {"update_id": 1, "chat_member": load("telegram_chat_member_updated_1.json")}
    [event] = events_of(update)
    assert event.type == "member.left"
    assert (event.group_id, event.user_id) == ("-1234567890123", "77777777")
    # an admin (not Pepe) changed Pepe's status
    assert event.payload.kicked_by == "133869498"


def test_chat_member_join_and_kick() -> None:
    [joined] = events_of(load("synthetic_telegram_chat_member_join.json"))
    assert (joined.type, joined.user_id, joined.payload.invited_by) == (
        "member.joined",
        "666000666",
        "555000555",
    )
    [left] = events_of(load("synthetic_telegram_chat_member_kicked.json"))
    assert (left.type, left.payload.kicked_by) == ("member.left", "555000555")


def test_promotion_is_not_a_join() -> None:
    payload = load("synthetic_telegram_chat_member_join.json")
    payload["chat_member"]["old_chat_member"]["status"] = "member"
    payload["chat_member"]["new_chat_member"]["status"] = "administrator"
    assert "member -> administrator" in ignored_why(map_payload(payload, RECEIVED))


def test_service_message_join_and_chat_member_join_share_an_id() -> None:
    service = load("telegram_new_chat_members_1.json")
    update = {
        "update_id": 2,
        "chat_member": {
            "chat": service["message"]["chat"],
            "from": service["message"]["from"],
            "date": service["message"]["date"],
            "old_chat_member": {"user": {"id": 199267392}, "status": "left"},
            "new_chat_member": {"user": {"id": 199267392}, "status": "member"},
        },
    }
    assert events_of(service)[0].event_id == events_of(update)[0].event_id


def test_anonymous_admin_speaks_as_the_group() -> None:
    payload = load("telegram_group_message_1.json")
    payload["message"]["sender_chat"] = {"id": -1001293752024, "type": "supergroup"}
    [event] = events_of(payload)
    assert event.user_id == "-1001293752024"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("telegram_private_message_1.json", "private chat"),
        ("telegram_group_pinned_service_1.json", "pinned_message"),
        ("telegram_my_chat_member_1.json", "my_chat_member"),
        ("synthetic_telegram_edited_message.json", "edited message"),
    ],
)
def test_ignored_updates_say_why(name: str, reason: str) -> None:
    assert reason in ignored_why(map_payload(load(name), RECEIVED))


def test_reaction_update_is_ignored() -> None:
    mapping = map_payload({"update_id": 3, "message_reaction": {}}, RECEIVED)
    assert mapping.ignored == "reaction"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"date": "today"}, "message.date"),
        ({"chat": "x"}, "message.chat"),
        ({"message_id": None}, "message.message_id"),
        ({"text": 5}, "message.text"),
        ({"from": None}, "from.id"),
    ],
)
def test_broken_messages_say_which_field_is_wrong(change: dict[str, Any], words: str) -> None:
    payload = load("telegram_group_message_1.json")
    payload["message"].update(change)
    assert words in unmappable_why(map_payload, payload)
