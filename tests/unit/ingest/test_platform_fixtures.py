"""Every platform fixture maps to what it should, and event ids are redelivery-stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.ingest.platforms import MAPPERS, Mapping, Unmappable
from shared.codec import CURRENT_VERSIONS, decode_event, encode_event
from shared.events import check_safe_keys
from tests.support.platforms import FIXTURES, load

RECEIVED = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)

# What each fixture must become: a list of event types, ("ignored", words in the
# reason), ("challenge", value) or ("unmappable", words in the reason).
EXPECTED: dict[str, Any] = {
    "onebot_group_message_1.json": ["message.posted"],
    "onebot_group_message_2.json": ["message.posted"],
    "onebot_group_message_3.json": ["message.posted"],
    "onebot_group_increase_1.json": ["member.joined"],
    "onebot_group_increase_2.json": ["member.joined"],
    "onebot_group_decrease_1.json": ["member.left"],
    "onebot_group_decrease_2.json": ["member.left"],
    "onebot_private_message_1.json": ("ignored", "private chat"),
    "telegram_group_message_1.json": ["message.posted"],
    "telegram_group_pinned_service_1.json": ("ignored", "service message (pinned_message)"),
    "telegram_new_chat_members_1.json": ["member.joined"],
    "telegram_left_chat_member_1.json": ["member.left"],
    "telegram_left_chat_member_2.json": ["member.left"],
    "telegram_my_chat_member_1.json": ("ignored", "my_chat_member"),
    "telegram_chat_member_updated_1.json": ("unmappable", "not a Telegram Update"),
    "telegram_private_message_1.json": ("ignored", "private chat"),
    "discord_message_create_1.json": ["message.posted"],
    "discord_message_create_2.json": ["message.posted"],
    "discord_guild_member_add_1.json": ["member.joined"],
    "discord_guild_member_remove_1.json": ["member.left"],
    "discord_message_object_docs_1.json": ("unmappable", "op"),
    "slack_message_1.json": ["message.posted"],
    "slack_message_2.json": ["message.posted"],
    "slack_member_joined_channel_1.json": ["member.joined"],
    "slack_member_joined_channel_2.json": ("unmappable", "Events API envelope"),
    "slack_member_left_channel_1.json": ["member.left"],
    "slack_message_channel_join_1.json": ("ignored", "channel_join"),
    "slack_url_verification_1.json": (
        "challenge",
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    ),
    "slack_event_wrapper_docs_1.json": ("ignored", "name_of_event"),
    "synthetic_onebot_cq_media.json": ["message.posted"],
    "synthetic_onebot_array_media.json": ["message.posted"],
    "synthetic_onebot_group_kick.json": ["member.left"],
    "synthetic_onebot_anonymous.json": ["message.posted"],
    "synthetic_onebot_heartbeat.json": ("ignored", "heartbeat"),
    "synthetic_telegram_photo_caption.json": ["message.posted"],
    "synthetic_telegram_sticker.json": ["message.posted"],
    "synthetic_telegram_chat_member_join.json": ["member.joined"],
    "synthetic_telegram_chat_member_kicked.json": ["member.left"],
    "synthetic_telegram_edited_message.json": ("ignored", "edited message"),
    "synthetic_discord_message_attachments.json": ["message.posted"],
    "synthetic_discord_direct_message.json": ("ignored", "direct message"),
    "synthetic_discord_heartbeat_ack.json": ("ignored", "opcode 11"),
    "synthetic_slack_message_markup.json": ["message.posted"],
    "synthetic_slack_direct_message.json": ("ignored", "direct message"),
    "synthetic_slack_message_changed.json": ("ignored", "edited message"),
}


def platform_of(name: str) -> str:
    parts = name.split("_")
    return parts[1] if parts[0] == "synthetic" else parts[0]


def map_fixture(name: str, received_at: datetime = RECEIVED) -> Mapping:
    return MAPPERS[platform_of(name)](load(name), received_at)


def test_every_fixture_has_an_expectation() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.json")}
    assert on_disk == set(EXPECTED), "classify new fixtures in EXPECTED"


def test_every_real_sample_was_copied() -> None:
    shared = Path("/work/shared/platform-samples")
    if not shared.is_dir():
        pytest.skip("shared sample folder not present on this machine")
    for sample in shared.glob("*.json"):
        assert (FIXTURES / sample.name).read_bytes() == sample.read_bytes(), sample.name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_maps_as_expected(name: str) -> None:
    expected = EXPECTED[name]
    if isinstance(expected, tuple) and expected[0] == "unmappable":
        with pytest.raises(Unmappable) as err:
            map_fixture(name)
        assert expected[1] in err.value.reason
        return
    mapping = map_fixture(name)
    if isinstance(expected, list):
        assert [e.type for e in mapping.events] == expected
        assert mapping.ignored is None and mapping.challenge is None
    elif expected[0] == "ignored":
        assert mapping.events == [] and mapping.challenge is None
        assert mapping.ignored is not None and expected[1] in mapping.ignored
    else:
        assert mapping.events == [] and mapping.challenge == expected[1]


MAPPED = sorted(n for n, e in EXPECTED.items() if isinstance(e, list))


@pytest.mark.parametrize("name", MAPPED)
def test_events_carry_the_envelope_the_contract_promises(name: str) -> None:
    for event in map_fixture(name).events:
        assert event.platform == platform_of(name)
        assert event.schema_version == CURRENT_VERSIONS[event.type]
        assert event.received_at == RECEIVED
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert event.event_id.startswith(f"{event.platform}:")
        assert len(event.event_id) <= 256
        # survives the wire format unchanged, and nothing in it is an unsafe key
        assert decode_event(encode_event(event)) == event
        check_safe_keys(event.model_dump(mode="json"), "event")
        assert "." not in event.group_id and "." not in event.user_id


@pytest.mark.parametrize("name", MAPPED)
def test_a_redelivery_maps_to_the_same_event_ids(name: str) -> None:
    first = [e.event_id for e in map_fixture(name).events]
    later = [e.event_id for e in map_fixture(name, RECEIVED + timedelta(minutes=7)).events]
    assert first == later


def test_different_payloads_get_different_event_ids() -> None:
    ids = [e.event_id for name in MAPPED for e in map_fixture(name).events]
    assert len(ids) == len(set(ids))
