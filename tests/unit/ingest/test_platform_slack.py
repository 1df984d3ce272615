"""Slack Events API deliveries become the canonical events a moderator would expect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.platforms.base import Unmappable
from services.ingest.platforms.slack import map_payload, render_text
from shared.events import Attachment
from tests.support.platforms import RECEIVED, ignored_why, load, unmappable_why


def events_of(payload: dict[str, Any]) -> list[Any]:
    return map_payload(payload, RECEIVED).events


def test_url_verification_returns_the_challenge() -> None:
    mapping = map_payload(load("slack_url_verification_1.json"), RECEIVED)
    assert mapping.challenge == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    assert mapping.events == []


def test_channel_message() -> None:
    [event] = events_of(load("slack_message_1.json"))
    assert event.type == "message.posted"
    assert event.event_id == "slack:C043YJGBY49:msg:1663966382.046509"
    assert (event.group_id, event.user_id) == ("C043YJGBY49", "U043H11ES4V")
    assert event.payload.text == "dgsfklsdgf"
    assert event.payload.message_id == "1663966382.046509"
    # microseconds come from the ts text exactly, not through a float
    assert event.occurred_at == datetime(2022, 9, 23, 20, 53, 2, 46509, tzinfo=UTC)


def test_markup_is_rendered_and_mentions_collected() -> None:
    [event] = events_of(load("synthetic_slack_message_markup.json"))
    assert event.payload.text == (
        "Hey @U0BBB & @here, see the docs (https://example.com/a?b=1&c=2) "
        "and https://example.org in #general <3"
    )
    assert event.payload.mentions == ["U0BBB", "all"]
    assert event.payload.reply_to == "1767225600.000100"
    assert event.payload.attachments == [
        Attachment(kind="image", url="https://files.slack.com/files-pri/T0SYN-F0SYN/shot.png")
    ]


@pytest.mark.parametrize(
    ("raw", "text", "mentions"),
    [
        ("<@U1|ann> hi", "@ann hi", ["U1"]),
        ("<!channel> <!everyone>", "@channel @everyone", ["all", "all"]),
        ("<!subteam^S1|@mods> look", "@mods look", []),
        ("<mailto:a@b.c|a@b.c>", "a@b.c (mailto:a@b.c)", []),
        ("a &lt;b&gt; &amp;amp;", "a <b> &amp;", []),
    ],
)
def test_render_text(raw: str, text: str, mentions: list[str]) -> None:
    assert render_text(raw) == (text, mentions)


def test_member_joined_channel_with_inviter() -> None:
    [event] = events_of(load("slack_member_joined_channel_1.json"))
    assert event.type == "member.joined"
    assert (event.group_id, event.user_id) == ("C111", "U999")
    assert event.payload.invited_by == "U222"
    # no event_ts in this delivery: the envelope's event_time is used
    assert event.occurred_at == datetime.fromtimestamp(1599616881, UTC)
    assert event.event_id == "slack:C111:joined:U999:Ev111"


def test_member_left_channel() -> None:
    [event] = events_of(load("slack_member_left_channel_1.json"))
    assert (event.type, event.user_id, event.payload.kicked_by) == ("member.left", "U999", None)


def test_one_join_is_counted_once_when_both_join_signals_arrive() -> None:
    join_message = map_payload(load("slack_message_channel_join_1.json"), RECEIVED)
    join_event = dict(load("slack_message_channel_join_1.json"))
    join_event["event_id"] = "Ev043W120WSJ"
    join_event["event"] = {
        "type": "member_joined_channel",
        "user": "U0442US8QGH",
        "channel": "C043KSKGJUB",
        "channel_type": "C",
        "inviter": "U043H11ES4V",
        "event_ts": "1664222685.728809",
    }
    joined = events_of(join_event)
    assert join_message.events == [] and [e.type for e in joined] == ["member.joined"]


def test_inner_event_without_envelope_is_unmappable() -> None:
    with pytest.raises(Unmappable, match="Events API envelope"):
        map_payload(load("slack_member_joined_channel_2.json"), RECEIVED)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("slack_message_channel_join_1.json", "member_joined_channel"),
        ("synthetic_slack_direct_message.json", "direct message"),
        ("synthetic_slack_message_changed.json", "edited message"),
        ("slack_event_wrapper_docs_1.json", "not mapped"),
    ],
)
def test_ignored_events_say_why(name: str, reason: str) -> None:
    assert reason in ignored_why(map_payload(load(name), RECEIVED))


def test_bot_message_is_ignored() -> None:
    payload = load("slack_message_2.json")
    payload["event"] = {**payload["event"], "subtype": "bot_message", "bot_id": "B1"}
    assert map_payload(payload, RECEIVED).ignored == "bot message"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"ts": "soon"}, "event.ts"),
        ({"user": None}, "event.user"),
        ({"channel": 5.5}, "event.channel"),
        ({"subtype": ["x"]}, "event.subtype"),
    ],
)
def test_broken_messages_say_which_field_is_wrong(change: dict[str, Any], words: str) -> None:
    payload = load("slack_message_2.json")
    payload["event"].update(change)
    assert words in unmappable_why(map_payload, payload)


def test_callback_without_event_id_is_unmappable() -> None:
    payload = load("slack_member_left_channel_1.json")
    del payload["event_id"]
    with pytest.raises(Unmappable, match="event_id"):
        map_payload(payload, RECEIVED)
