"""Discord Gateway dispatches become the canonical events a moderator would expect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.platforms.discord import map_payload
from shared.events import Attachment
from tests.support.platforms import RECEIVED, ignored_why, load, unmappable_why


def events_of(payload: dict[str, Any], received_at: datetime = RECEIVED) -> list[Any]:
    return map_payload(payload, received_at).events


def test_guild_message_belongs_to_the_guild() -> None:
    [event] = events_of(load("discord_message_create_1.json"))
    assert event.type == "message.posted"
    assert event.event_id == "discord:694205451682978886:msg:732582724170285086"
    assert (event.group_id, event.user_id) == ("694205451682978886", "562268917771413264")
    assert event.payload.text == ".ping"
    assert event.payload.reply_to is None
    assert event.occurred_at == datetime(2020, 7, 14, 13, 2, 12, 171000, tzinfo=UTC)


def test_a_message_records_its_channel_so_it_can_be_removed() -> None:
    [event] = events_of(load("discord_message_create_1.json"))
    assert event.payload.channel_id == "727947198481956945"
    [reply] = events_of(load("discord_message_create_2.json"))
    assert reply.payload.channel_id == "563557393640849437"
    without = load("discord_message_create_1.json")
    del without["d"]["channel_id"]
    [event] = events_of(without)
    assert event.payload.channel_id is None
    assert event.payload.text == ".ping"


def test_reply_records_the_referenced_message_and_mentions() -> None:
    [event] = events_of(load("discord_message_create_2.json"))
    assert event.payload.reply_to == "775214933398782002"
    assert event.payload.mentions == ["344487830824943618"]
    assert event.payload.text == "cool."


def test_attachments_everyone_and_offset_timestamps() -> None:
    [event] = events_of(load("synthetic_discord_message_attachments.json"))
    assert event.payload.mentions == ["1000000000000000002", "all"]
    assert event.payload.attachments == [
        Attachment(kind="image", url="https://cdn.discordapp.com/attachments/1/2/cat.png"),
        Attachment(kind="file", url="https://cdn.discordapp.com/attachments/1/3/rules.pdf"),
        Attachment(kind="sticker", url="discord://sticker/1500000000000000001"),
    ]
    # +08:00 local time converted to UTC
    assert event.occurred_at == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)


def test_the_docs_message_object_maps_once_wrapped_in_a_dispatch() -> None:
    # Derived: the official example message object inside a dispatch envelope.
    message = load("discord_message_object_docs_1.json")
    dispatch = {"op": 0, "s": 1, "t": "MESSAGE_CREATE", "d": {**message, "guild_id": "42"}}
    [event] = events_of(dispatch)
    assert (event.group_id, event.user_id, event.payload.text) == (
        "42",
        "53908099506183680",
        "Supa Hot",
    )
    without_guild = {**dispatch, "d": message}
    assert map_payload(without_guild, RECEIVED).ignored == "direct message (no guild_id)"


def test_member_add_uses_joined_at() -> None:
    [event] = events_of(load("discord_guild_member_add_1.json"))
    assert event.type == "member.joined"
    assert (event.group_id, event.user_id) == ("123456789012345678", "123456789012345678")
    assert event.occurred_at == datetime(2020, 2, 22, 18, 17, 30, 877307, tzinfo=UTC)
    assert event.event_id.endswith(":1582395450877307")


def test_member_remove_is_stable_per_gateway_sequence() -> None:
    payload = load("discord_guild_member_remove_1.json")
    [event] = events_of(payload)
    assert event.type == "member.left"
    assert event.event_id == "discord:123456789012345678:left:123456789012345678:s3641"
    # Discord gives no time for a removal: the receive time stands in.
    assert event.occurred_at == RECEIVED


def test_member_remove_without_sequence_is_never_merged_with_a_later_one() -> None:
    payload = {**load("discord_guild_member_remove_1.json"), "s": None}
    first = events_of(payload, RECEIVED)[0].event_id
    later = events_of(payload, datetime(2026, 3, 1, tzinfo=UTC))[0].event_id
    assert first != later


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (load("synthetic_discord_heartbeat_ack.json"), "opcode 11"),
        (load("synthetic_discord_direct_message.json"), "direct message"),
        ({"op": 0, "t": "TYPING_START", "d": {}, "s": 5}, "TYPING_START"),
        ({"op": 0, "t": "MESSAGE_REACTION_ADD", "d": {}, "s": 5}, "MESSAGE_REACTION_ADD"),
        ({"op": 0, "t": "MESSAGE_UPDATE", "d": {}, "s": 5}, "edited message"),
    ],
)
def test_other_dispatches_are_ignored(payload: dict[str, Any], reason: str) -> None:
    assert reason in ignored_why(map_payload(payload, RECEIVED))


@pytest.mark.parametrize(("field", "value"), [("type", 7), ("webhook_id", "99")])
def test_system_and_webhook_messages_are_ignored(field: str, value: Any) -> None:
    payload = load("discord_message_create_1.json")
    payload["d"][field] = value
    assert map_payload(payload, RECEIVED).events == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"timestamp": "2020-07-14T13:02:12"}, "time zone"),
        ({"timestamp": None}, "d.timestamp"),
        ({"author": {}}, "d.author.id"),
        ({"guild_id": "a b"}, "d.guild_id"),
    ],
)
def test_broken_messages_say_which_field_is_wrong(change: dict[str, Any], words: str) -> None:
    payload = load("discord_message_create_1.json")
    payload["d"].update(change)
    assert words in unmappable_why(map_payload, payload)
