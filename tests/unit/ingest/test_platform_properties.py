"""Properties: whatever a webhook sender posts, adapters answer with a Mapping or
Unmappable, and handle_webhook always answers."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from services.ingest.platforms import MAPPERS, Mapping, Unmappable
from services.ingest.webhooks import handle_webhook
from shared.settings import Settings
from tests.support.platforms import FIXTURES, RECEIVED

SECRET = "property-secret"

# Field names the adapters look at, so random objects reach the deep branches.
KEYS = sorted(
    {
        # OneBot
        "post_type", "message_type", "sub_type", "notice_type", "meta_event_type",
        "self_id", "group_id", "user_id", "operator_id", "message_id", "time", "message",
        "raw_message", "anonymous", "type", "data", "text", "qq", "id", "url", "file",
        # Telegram
        "update_id", "edited_message", "chat_member", "my_chat_member", "chat", "from",
        "sender_chat", "date", "caption", "entities", "caption_entities", "offset",
        "length", "user", "photo", "video", "voice", "sticker", "document", "file_id",
        "new_chat_members", "left_chat_member", "reply_to_message", "is_topic_message",
        "old_chat_member", "new_chat_member", "status", "is_member",
        # Discord
        "op", "t", "d", "s", "guild_id", "channel_id", "author", "content", "timestamp",
        "mentions", "mention_everyone", "attachments", "content_type", "filename",
        "message_reference", "sticker_items", "webhook_id", "joined_at",
        # Slack
        "challenge", "event", "event_id", "event_time", "event_ts", "subtype", "channel",
        "channel_type", "ts", "thread_ts", "files", "mimetype", "url_private", "inviter",
        "hidden", "bot_id", "name",
    }
)  # fmt: skip

VALUES = [
    "message", "notice", "group", "private", "group_increase", "group_decrease", "kick",
    "invite", "kick_me", "anonymous", "at", "all", "image", "reply", "text", "supergroup",
    "member", "left", "kicked", "restricted", "mention", "text_mention", "MESSAGE_CREATE",
    "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE", "event_callback", "url_verification",
    "member_joined_channel", "member_left_channel", "channel", "im", "channel_join",
    "2020-07-14T13:02:12.171000+00:00", "1663966382.046509", "[CQ:at,qq=1]x&#91;",
    "<@U1|a> <!here> <http://x|y>", "C111", "U999", "Ev1", "-100123", 0, 1, 19, -1,
    1_700_000_000, 2**63, 1e300,
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(VALUES),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=30,
)
payloads = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=10)

FIXTURE_PAYLOADS = {
    path.name: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(FIXTURES.glob("*.json"))
}


def platform_of(name: str) -> str:
    parts = name.split("_")
    return parts[1] if parts[0] == "synthetic" else parts[0]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    document = copy.deepcopy(document)
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def removed(document: Any, path: tuple[Any, ...]) -> Any:
    document = copy.deepcopy(document)
    target = document
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return document


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, Any]:
    """A real or synthetic fixture with one field, anywhere in it, replaced."""
    name = draw(st.sampled_from(sorted(FIXTURE_PAYLOADS)))
    original = FIXTURE_PAYLOADS[name]
    path = draw(st.sampled_from(paths(original)))
    return name, replaced(original, path, draw(json_values))


def check_mapping(platform: str, payload: Any) -> None:
    try:
        mapping = MAPPERS[platform](payload, RECEIVED)
    except Unmappable as err:
        assert err.reason
        return
    assert isinstance(mapping, Mapping)
    produced = [bool(mapping.events), mapping.ignored is not None, mapping.challenge is not None]
    assert produced.count(True) == 1, mapping
    for event in mapping.events:
        assert event.platform == platform
        assert event.received_at == RECEIVED


@given(payload=payloads, platform=st.sampled_from(sorted(MAPPERS)))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_random_objects_map_or_are_unmappable(payload: dict[str, Any], platform: str) -> None:
    check_mapping(platform, payload)


@pytest.mark.parametrize("name", sorted(FIXTURE_PAYLOADS))
@given(data=st.data())
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_fixtures_map_or_are_unmappable(name: str, data: st.DataObject) -> None:
    # Every fixture, with one to three fields anywhere in it replaced by random JSON.
    payload = FIXTURE_PAYLOADS[name]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(payload)))
        payload = replaced(payload, path, data.draw(json_values))
    check_mapping(platform_of(name), payload)


# Values of every JSON type, including the awkward ones (empty containers, huge numbers).
CONFUSERS: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    float("nan"),
    "",
    "x y",
    [],
    [{}],
    {},
    {"id": []},
]


@pytest.mark.parametrize("name", sorted(FIXTURE_PAYLOADS))
def test_every_field_of_every_fixture_tolerates_any_json_type(name: str) -> None:
    # Exhaustive where random damage is hit-and-miss: each field, each type.
    original = FIXTURE_PAYLOADS[name]
    for path in paths(original):
        for value in CONFUSERS:
            check_mapping(platform_of(name), replaced(original, path, value))
        if path and isinstance(path[-1], str):
            check_mapping(platform_of(name), removed(original, path))


# Every JSON value that is not an object: scalars, and arrays of anything (objects too).
non_objects = st.one_of(scalars, st.lists(json_values, max_size=4))


@given(payload=non_objects, platform=st.sampled_from(sorted(MAPPERS)))
def test_non_objects_are_unmappable(payload: Any, platform: str) -> None:
    # Not "maps or is unmappable" (check_mapping): a payload that is no JSON object must be
    # refused as Unmappable, with a reason, never mapped or ignored.
    assert not isinstance(payload, dict)
    with pytest.raises(Unmappable) as refused:
        MAPPERS[platform](payload, RECEIVED)
    assert refused.value.reason


SETTINGS = Settings(
    onebot_secret=SecretStr(SECRET),
    onebot_secrets="",
    telegram_secret_token=SecretStr(SECRET),
    telegram_secret_tokens="",
    slack_signing_secret=SecretStr(SECRET),
    slack_signing_secrets="",
)


def signed_headers(body: bytes) -> dict[str, str]:
    ts = str(int(RECEIVED.timestamp()))
    slack = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Signature": "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest(),
        "X-Telegram-Bot-Api-Secret-Token": SECRET,
        "X-Slack-Signature": f"v0={slack}",
        "X-Slack-Request-Timestamp": ts,
    }


@given(
    platform=st.one_of(st.sampled_from(sorted(MAPPERS)), st.text(max_size=10)),
    body=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        mutated_fixtures().map(lambda case: json.dumps(case[1]).encode()),
    ),
    signed=st.booleans(),
    extra_headers=st.dictionaries(st.text(max_size=30), st.text(max_size=30), max_size=4),
)
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_handle_webhook_always_answers(
    platform: str, body: bytes, signed: bool, extra_headers: dict[str, str]
) -> None:
    headers = {**extra_headers, **(signed_headers(body) if signed else {})}
    outcome = handle_webhook(platform, body, headers, SETTINGS, RECEIVED)
    assert outcome.status in ("ok", "ignored", "unauthorized", "bad_request", "unmappable")
    if outcome.status == "ok":
        assert outcome.events or outcome.challenge is not None
    else:
        assert outcome.events == [] and outcome.reason
    assert SECRET not in (outcome.reason or "")
