"""OneBot v11 events become the canonical events a moderator would expect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.platforms.base import Unmappable
from services.ingest.platforms.onebot import map_payload, parse_cq_string
from shared.events import Attachment
from tests.support.platforms import RECEIVED, load, unmappable_why


def only_event(payload: dict[str, Any]) -> Any:
    mapping = map_payload(payload, RECEIVED)
    assert len(mapping.events) == 1, mapping
    return mapping.events[0]


def test_array_message_with_a_mention() -> None:
    event = only_event(load("onebot_group_message_1.json"))
    assert event.type == "message.posted"
    assert event.event_id == "onebot:123456789:msg:987654321:2002"
    assert (event.group_id, event.user_id) == ("987654321", "345678901")
    assert event.payload.text == "大家好！"
    assert event.payload.mentions == ["123456789"]
    assert event.payload.attachments == []
    assert event.occurred_at == datetime(2024, 6, 10, 6, 13, 21, tzinfo=UTC)


def test_cq_string_at_all_is_a_mention_of_everyone() -> None:
    event = only_event(load("onebot_group_message_2.json"))
    assert event.payload.mentions == ["all"]
    assert event.payload.text == "Test text"
    # "time": 0 is an unset clock: the event is dated when ingest received it, not 1970
    # (which the envelope refuses: times before 2000 cannot be folded safely).
    assert event.occurred_at == event.received_at


def test_go_cqhttp_capture_keeps_the_command_text() -> None:
    event = only_event(load("onebot_group_message_3.json"))
    assert event.payload.text == ".r test"
    assert event.payload.mentions == ["1001"]
    assert event.user_id == "1002"


def test_cq_media_reply_and_escapes() -> None:
    event = only_event(load("synthetic_onebot_cq_media.json"))
    payload = event.payload
    assert payload.text == "看 [公告] A&B &#91;x"
    assert payload.reply_to == "-2147000000"
    assert payload.message_id == "-2147000001"
    assert payload.mentions == ["10001"]
    assert payload.attachments == [
        Attachment(kind="image", url="https://gchat.qpic.cn/gchatpic_new/1/2-3-ABC/0?term=2,3"),
        Attachment(kind="audio", url="voice.amr"),
    ]


def test_array_media_segments_become_attachments() -> None:
    payload = only_event(load("synthetic_onebot_array_media.json")).payload
    assert payload.text == "晚上八点开会"
    assert payload.reply_to == "4003"
    assert payload.mentions == ["all"]
    assert [(a.kind, a.url) for a in payload.attachments] == [
        ("image", "https://multimedia.nt.qq.com.cn/download?appid=1407&fileid=abc"),
        ("video", "clip.mp4"),
        ("file", "notes.pdf"),
        ("sticker", "https://gxh.vip.qq.com/club/item/parcel/item/ab/abcd/raw300.gif"),
        ("other", "https://example.com/promo"),
    ]


def test_array_and_string_formats_map_alike() -> None:
    as_array = load("onebot_group_message_1.json")
    as_string = {**as_array, "message": as_array["raw_message"]}
    assert map_payload(as_array, RECEIVED) == map_payload(as_string, RECEIVED)


def test_cq_parser_unescapes_each_escape_once() -> None:
    segments = parse_cq_string("a&amp;#44;b[CQ:image,file=x&#44;y&#93;]&#91;")
    assert segments == [
        ("text", {"text": "a&#44;b"}),
        ("image", {"file": "x,y]"}),
        ("text", {"text": "["}),
    ]


def test_unclosed_cq_code_is_plain_text() -> None:
    assert parse_cq_string("[CQ:at,qq=1") == [("text", {"text": "[CQ:at,qq=1"})]


def test_anonymous_posters_are_told_apart() -> None:
    event = only_event(load("synthetic_onebot_anonymous.json"))
    assert event.user_id == "anon-77001"


def test_invited_join_records_the_inviter() -> None:
    event = only_event(load("onebot_group_increase_1.json"))
    assert event.type == "member.joined"
    assert (event.group_id, event.user_id) == ("987654321", "345678902")
    assert event.payload.invited_by == "123456789"
    assert event.event_id == "onebot:123456789:joined:987654321:345678902:1718000010"


def test_approved_join_with_unknown_operator_has_no_inviter() -> None:
    event = only_event(load("onebot_group_increase_2.json"))
    assert event.payload.invited_by is None
    assert event.user_id == "333"


def test_kick_records_who_kicked() -> None:
    event = only_event(load("synthetic_onebot_group_kick.json"))
    assert event.type == "member.left"
    assert (event.user_id, event.payload.kicked_by) == ("30004", "50005")


def test_bot_kicked_is_the_bot_leaving() -> None:
    event = only_event(load("onebot_group_decrease_1.json"))
    assert event.type == "member.left"
    assert (event.group_id, event.user_id, event.payload.kicked_by) == ("111", "333", "222")


def test_leaving_by_oneself_has_no_kicker() -> None:
    event = only_event(load("onebot_group_decrease_2.json"))
    assert event.payload.kicked_by is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"post_type": "meta_event", "meta_event_type": "heartbeat"}, "heartbeat"),
        ({"post_type": "request", "request_type": "group"}, "request"),
        ({"post_type": "notice", "notice_type": "group_recall"}, "group_recall"),
        ({"post_type": "message_sent", "message_type": "group"}, "bot itself"),
        ({"post_type": "message", "message_type": "private"}, "private chat"),
        ({"post_type": "message", "message_type": "group", "sub_type": "notice"}, "notice"),
    ],
)
def test_non_community_events_are_ignored_with_a_reason(
    payload: dict[str, Any], reason: str
) -> None:
    mapping = map_payload(payload, RECEIVED)
    assert mapping.events == []
    assert mapping.ignored is not None and reason in mapping.ignored


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"group_id": "12.5"}, "group_id"),
        ({"group_id": None}, "group_id"),
        ({"time": "yesterday"}, "time"),
        ({"time": -5}, "time"),
        ({"message": {"type": "text"}}, "message must be a segment array"),
        ({"message": [{"type": "text"}, "oops"]}, "message[1]"),
        ({"self_id": True}, "self_id"),
    ],
)
def test_broken_messages_say_which_field_is_wrong(change: dict[str, Any], words: str) -> None:
    payload = {**load("onebot_group_message_1.json"), **change}
    assert words in unmappable_why(map_payload, payload)


def test_a_payload_without_post_type_is_unmappable() -> None:
    with pytest.raises(Unmappable, match="post_type"):
        map_payload({"hello": "world"}, RECEIVED)
