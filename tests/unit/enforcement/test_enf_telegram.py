"""The Telegram adapter against the fake Bot API server: each step is the documented call
(telegram-bot-api.md), has the effect a chat member would see, and each documented answer
gets the outcome the enforcer acts on."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from services.enforcement.calls import CallResult, Step, StepKind, Target
from services.enforcement.platforms.telegram import (
    MUTED_PERMISSIONS,
    UNMUTED_PERMISSIONS,
    TelegramClient,
    classify,
)
from tests.support.fakes.telegram import ALL_PERMISSIONS, FakeTelegram

SUPER = -1001234567890
BASIC = -4009876
USER = 424242
ADMIN = 515151
OWNER = 616161


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        server.add_chat(SUPER)
        server.add_member(SUPER, USER)
        server.add_member(SUPER, ADMIN, "administrator", rights={"can_restrict_members": True})
        server.add_member(SUPER, OWNER, "creator")
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def at(group: int | str = SUPER, user: int | str = USER, message: int | None = None) -> Target:
    return Target("telegram", str(group), str(user), str(message) if message is not None else None)


async def act(
    fake: FakeTelegram,
    http: httpx.AsyncClient,
    step: Step,
    target: Target,
    *,
    token: str | None = None,
    base_url: str | None = None,
) -> tuple[CallResult, dict[str, Any]]:
    """Execute one step; check that describe() is what went over the wire; return the
    result and the body the fake received."""
    client = TelegramClient(http, base_url or fake.url, token or fake.token)
    now = fake.clock.now()
    before = len(fake.calls)
    result = await client.execute(step, target, now)
    made = fake.calls[before:]
    described = client.describe(step, target, now)
    if not made:
        assert described[0].startswith("none: ") and described[1] == {}
        assert result.call == described[0]
        return result, {}
    first = made[0]
    assert first.method == "POST" and first.content_type.startswith("application/json")
    assert (f"POST /{first.path.rsplit('/', 1)[1]}", first.body) == described
    assert result.call.split("; ")[0] == described[0]
    if len(made) == 1:
        assert dict(result.params) == described[1]
    assert fake.token not in result.call + json.dumps(dict(result.params)) + str(result.error)
    return result, first.body


# ---------------------------------------------------------------------- notices


async def test_group_notice_mentions_the_member_in_utf16_units_and_replies(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    mid = fake.add_message(SUPER, USER, text="buy cheap followers")
    text = "你的消息已被删除（规则 R3：广告）🚫 再犯将禁言 10 分钟 👍"
    result, body = await act(
        fake, http, Step("notice_group", text=text, reply=True), at(message=mid)
    )

    assert result.outcome == "done" and result.status == 200
    assert set(body) == {"chat_id", "text", "entities", "reply_parameters"}
    assert body["chat_id"] == SUPER
    assert body["reply_parameters"] == {"message_id": mid, "allow_sending_without_reply": True}
    label = f"👤{USER}"
    assert body["text"] == f"{label} {text}"
    # "👤" is two UTF-16 code units: the entity counts 8, Python's len() says 7.
    assert body["entities"] == [
        {"type": "text_mention", "offset": 0, "length": 8, "user": {"id": USER}}
    ]
    [posted] = fake.sent(SUPER)
    assert fake.mentions(posted) == [(label, USER)]
    assert posted.reply_to == mid


async def test_group_notice_after_the_message_is_gone_still_posts(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    result, _ = await act(
        fake, http, Step("notice_group", text="warned", reply=True), at(message=99)
    )
    assert result.outcome == "done"
    [posted] = fake.sent(SUPER)
    assert posted.reply_to is None
    # Without allow_sending_without_reply the same reply fails: the adapter must never omit it.
    raw = await http.post(
        f"{fake.url}/bot{fake.token}/sendMessage",
        json={"chat_id": SUPER, "text": "x", "reply_parameters": {"message_id": 99}},
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message to be replied not found",
    }


async def test_group_notice_without_reply_sends_no_reply_parameters(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    _, body = await act(fake, http, Step("notice_group", text="hi", reply=False), at(message=5))
    assert "reply_parameters" not in body


async def test_private_notice_reaches_a_member_who_started_the_bot(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.started_bot(USER)
    result, body = await act(fake, http, Step("notice_private", text="您已被禁言 10 分钟"), at())
    assert result.outcome == "done"
    assert body == {"chat_id": USER, "text": "您已被禁言 10 分钟"}
    assert [m.text for m in fake.sent(USER)] == ["您已被禁言 10 分钟"]
    assert fake.calls[-1].chat is None  # a DM is not counted against the group's rate


@pytest.mark.parametrize(
    ("setup", "description"),
    [
        ("never", "Forbidden: bot can't initiate conversation with a user"),
        ("blocked", "Forbidden: bot was blocked by the user"),
        ("deactivated", "Forbidden: user is deactivated"),
    ],
)
async def test_private_notice_refused_is_undeliverable(
    fake: FakeTelegram, http: httpx.AsyncClient, setup: str, description: str
) -> None:
    if setup == "blocked":
        fake.blocked.add(USER)
    elif setup == "deactivated":
        fake.deactivated.add(USER)
    result, _ = await act(fake, http, Step("notice_private", text="hi"), at())
    assert (result.outcome, result.status, result.error) == ("permanent", 403, description)
    assert result.undeliverable and not result.permission and not result.config_error
    assert fake.sent(USER) == []


# ---------------------------------------------------------------------- delete


async def test_delete_removes_the_message_and_a_repeat_is_already(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    mid = fake.add_message(SUPER, USER)
    result, body = await act(fake, http, Step("delete_message"), at(message=mid))
    assert result.outcome == "done"
    assert body == {"chat_id": SUPER, "message_id": mid}
    assert not fake.has_message(SUPER, mid)

    again, _ = await act(fake, http, Step("delete_message"), at(message=mid))
    assert (again.outcome, again.status) == ("already", 400)
    assert again.error == "Bad Request: message to delete not found"


async def test_delete_refused_for_old_messages_and_without_the_right(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    now = fake.clock.now()
    old = fake.add_message(SUPER, USER, at=now - 48 * 3600 - 1)
    recent = fake.add_message(SUPER, USER, at=now - 47 * 3600)
    too_old, _ = await act(fake, http, Step("delete_message"), at(message=old))
    assert too_old.outcome == "permanent" and not too_old.permission
    assert too_old.error == "Bad Request: message can't be deleted for everyone"
    assert fake.has_message(SUPER, old)
    fine, _ = await act(fake, http, Step("delete_message"), at(message=recent))
    assert fine.outcome == "done"

    fake.add_chat(-1002, bot_rights={"can_restrict_members": True})
    theirs = fake.add_message(-1002, USER)
    refused, _ = await act(fake, http, Step("delete_message"), at(group=-1002, message=theirs))
    assert (refused.outcome, refused.error) == (
        "permanent",
        "Bad Request: message can't be deleted",
    )
    assert fake.has_message(-1002, theirs)


# ---------------------------------------------------------------------- mute / unmute


async def test_mute_restricts_every_send_until_an_absolute_time_then_expires(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    until = int(fake.clock.now()) + 600
    result, body = await act(fake, http, Step("mute", until=until), at())
    assert result.outcome == "done"
    assert body == {
        "chat_id": SUPER,
        "user_id": USER,
        "permissions": dict.fromkeys(MUTED_PERMISSIONS, False),
        "use_independent_chat_permissions": True,
        "until_date": until,
    }
    assert len(body["permissions"]) == 10
    member = fake.member(SUPER, USER)
    assert member is not None and member.status == "restricted"
    assert member.until_date == until
    assert member.permissions is not None and not any(member.permissions.values())

    fake.clock.advance(601)
    assert fake.status(SUPER, USER) == "member"


async def test_a_short_mute_is_sent_35_s_ahead_so_it_is_not_permanent(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    now = fake.clock.now()
    _, body = await act(fake, http, Step("mute", until=int(now) + 5), at())
    assert body["until_date"] == math.ceil(now) + 35
    member = fake.member(SUPER, USER)
    assert member is not None and member.until_date == body["until_date"]  # not 0 = forever
    fake.clock.advance(36)
    assert fake.status(SUPER, USER) == "member"

    # What the floor prevents: the platform's own rule turns 10 s (or > 366 d) into forever.
    for ahead in (10, 367 * 86400):
        raw = await http.post(
            f"{fake.url}/bot{fake.token}/restrictChatMember",
            json={
                "chat_id": SUPER,
                "user_id": USER,
                "permissions": {},
                "until_date": int(fake.clock.now()) + ahead,
            },
        )
        assert raw.json() == {"ok": True, "result": True}
        forever = fake.member(SUPER, USER)
        assert forever is not None and (forever.status, forever.until_date) == ("restricted", 0)


async def test_unmute_grants_every_permission_back(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    await act(fake, http, Step("mute", until=int(fake.clock.now()) + 3600), at())
    assert fake.status(SUPER, USER) == "restricted"
    result, body = await act(fake, http, Step("unmute"), at())
    assert result.outcome == "done"
    assert body == {
        "chat_id": SUPER,
        "user_id": USER,
        "permissions": dict.fromkeys(ALL_PERMISSIONS, True),
        "use_independent_chat_permissions": True,
    }
    assert body["permissions"] == UNMUTED_PERMISSIONS
    assert fake.status(SUPER, USER) == "member"


# ---------------------------------------------------------------------- kick / ban / unban


async def test_kick_in_a_supergroup_removes_the_member_who_may_rejoin(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    result, body = await act(fake, http, Step("kick"), at())
    assert result.outcome == "done" and result.call == "POST /unbanChatMember"
    assert body == {"chat_id": SUPER, "user_id": USER}  # no only_if_banned
    assert fake.status(SUPER, USER) == "left"  # gone, but not banned


async def test_timed_ban_then_expiry_and_permanent_ban(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    mid = fake.add_message(SUPER, USER)
    until = int(fake.clock.now()) + 30 * 86400
    result, body = await act(fake, http, Step("ban", until=until), at())
    assert result.outcome == "done" and result.error is None
    assert body == {
        "chat_id": SUPER,
        "user_id": USER,
        "until_date": until,
        "revoke_messages": False,
    }
    member = fake.member(SUPER, USER)
    assert member is not None and (member.status, member.until_date) == ("kicked", until)
    # Supergroups always revoke the banned member's messages.
    assert not fake.has_message(SUPER, mid)
    fake.clock.advance(30 * 86400 + 1)
    assert fake.status(SUPER, USER) == "left"

    _, forever = await act(fake, http, Step("ban"), at())
    assert forever == {"chat_id": SUPER, "user_id": USER, "revoke_messages": False}
    member = fake.member(SUPER, USER)
    assert member is not None and (member.status, member.until_date) == ("kicked", 0)


async def test_unban_lifts_a_ban_and_never_removes_a_member(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    await act(fake, http, Step("ban"), at())
    result, body = await act(fake, http, Step("unban"), at())
    assert result.outcome == "done"
    assert body == {"chat_id": SUPER, "user_id": USER, "only_if_banned": True}
    assert fake.status(SUPER, USER) == "left"  # may rejoin by link

    fake.add_member(SUPER, USER)  # rejoined
    again, _ = await act(fake, http, Step("unban"), at())
    assert again.outcome == "done"
    assert fake.status(SUPER, USER) == "member"


# ---------------------------------------------------------------------- basic groups


async def test_basic_group_kick_is_a_ban_and_restrict_or_unban_are_unsupported(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.add_chat(BASIC, "group")
    fake.add_member(BASIC, USER)
    result, body = await act(fake, http, Step("kick"), at(group=BASIC))
    assert result.outcome == "done" and result.call == "POST /banChatMember"
    assert body == {"chat_id": BASIC, "user_id": USER, "revoke_messages": False}
    assert fake.status(BASIC, USER) == "kicked"

    calls = len(fake.calls)
    until = int(fake.clock.now()) + 600
    for step in (Step("mute", until=until), Step("unmute"), Step("unban")):
        skipped, _ = await act(fake, http, step, at(group=BASIC))
        assert skipped.outcome == "unsupported" and skipped.call.startswith("none: ")
        assert skipped.error and "supergroup" in skipped.error
    assert len(fake.calls) == calls  # nothing was sent


async def test_basic_group_timed_ban_says_its_end_is_ignored(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.add_chat(BASIC, "group")
    fake.add_member(BASIC, USER)
    result, _ = await act(
        fake, http, Step("ban", until=int(fake.clock.now()) + 3600), at(group=BASIC)
    )
    assert result.outcome == "done"
    assert result.error and "until_date is ignored" in result.error
    member = fake.member(BASIC, USER)
    assert member is not None and (member.status, member.until_date) == ("kicked", 0)


async def test_restrict_sent_to_a_basic_group_is_permanent(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    # An id that looks like a supergroup's but is a basic group on the platform.
    fake.add_chat(-1003, "group")
    fake.add_member(-1003, USER)
    result, _ = await act(
        fake, http, Step("mute", until=int(fake.clock.now()) + 600), at(group=-1003)
    )
    assert (result.outcome, result.status) == ("permanent", 400)
    assert result.error == "Bad Request: method is available only for supergroups"


# ---------------------------------------------------------------------- documented refusals


@pytest.mark.parametrize(
    ("case", "step", "status", "description", "permission"),
    [
        (
            "no rights",
            "mute",
            400,
            "Bad Request: not enough rights to restrict/unrestrict chat member",
            True,
        ),
        ("admin", "mute", 400, "Bad Request: user is an administrator of the chat", True),
        ("owner", "ban", 400, "Bad Request: can't remove chat owner", True),
        ("self", "mute", 400, "Bad Request: can't restrict self", False),
        ("unknown chat", "ban", 400, "Bad Request: chat not found", False),
        ("unknown user", "mute", 400, "Bad Request: user not found", False),
        ("bot kicked", "ban", 403, "Forbidden: bot was kicked from the supergroup chat", True),
        (
            "bot left",
            "notice_group",
            403,
            "Forbidden: bot is not a member of the supergroup chat",
            True,
        ),
    ],
)
async def test_documented_refusals_are_permanent(
    fake: FakeTelegram,
    http: httpx.AsyncClient,
    case: str,
    step: StepKind,
    status: int,
    description: str,
    permission: bool,
) -> None:
    group, user = SUPER, USER
    if case == "no rights":
        group = -1004
        fake.add_chat(group, bot_rights={"can_delete_messages": True})
        fake.add_member(group, user)
    elif case == "admin":
        user = ADMIN
    elif case == "owner":
        user = OWNER
    elif case == "self":
        user = fake.bot_id
    elif case == "unknown chat":
        group = -1009999
    elif case == "unknown user":
        user = 999999
    elif case == "bot kicked":
        group = -1005
        fake.add_chat(group, bot_status="kicked")
        fake.add_member(group, user)
    elif case == "bot left":
        group = -1006
        fake.add_chat(group, bot_status="left")
    until = int(fake.clock.now()) + 600 if step in ("mute", "ban") else None
    result, _ = await act(fake, http, Step(step, until=until, text="x"), at(group=group, user=user))
    assert (result.outcome, result.status, result.error) == ("permanent", status, description)
    assert result.permission is permission
    assert not result.config_error and not result.undeliverable
    if case in ("no rights", "admin", "owner"):
        member = fake.member(group, user)
        assert member is not None and member.status in ("member", "administrator", "creator")


# ---------------------------------------------------------------------- migration


async def test_an_upgraded_group_is_retargeted_once(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.add_chat(BASIC, "group")
    fake.add_member(BASIC, USER)
    new_id = -1009876000001
    fake.upgrade(BASIC, new_id)

    until = int(fake.clock.now()) + 3600
    result, first = await act(fake, http, Step("ban", until=until), at(group=BASIC))
    assert result.outcome == "done" and result.status == 200
    assert result.call == "POST /banChatMember; POST /banChatMember"
    assert first["chat_id"] == BASIC and result.params["chat_id"] == new_id
    assert result.error is not None
    assert "group chat was upgraded to a supergroup chat" in result.error
    assert str(new_id) in result.error
    member = fake.member(new_id, USER)
    assert member is not None and (member.status, member.until_date) == ("kicked", until)
    assert [c.answer_status for c in fake.calls] == [400, 200]

    # A kick planned for the basic group becomes the supergroup kick, not a ban.
    fake.add_member(new_id, 777)
    kicked, _ = await act(fake, http, Step("kick"), at(group=BASIC, user=777))
    assert kicked.call == "POST /banChatMember; POST /unbanChatMember"
    assert kicked.outcome == "done" and fake.status(new_id, 777) == "left"


# ---------------------------------------------------------------------- transient answers


async def test_429_is_transient_with_the_platforms_wait_and_changes_nothing(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.inject("429", path="restrictChatMember", retry_after=1)
    step = Step("mute", until=int(fake.clock.now()) + 600)
    result, _ = await act(fake, http, step, at())
    assert (result.outcome, result.status, result.retry_after) == ("transient", 429, 1.0)
    assert result.error == "Too Many Requests: retry after 1"
    assert fake.status(SUPER, USER) == "member"
    retried, _ = await act(fake, http, step, at())
    assert retried.outcome == "done" and fake.status(SUPER, USER) == "restricted"


def test_retry_after_falls_back_to_the_header() -> None:
    result = classify(
        "mute",
        429,
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3"},
        {"Retry-After": "3"},
    )
    assert (result.outcome, result.retry_after) == ("transient", 3.0)


async def test_over_the_chat_rate_is_a_429(http: httpx.AsyncClient) -> None:
    with FakeTelegram(chat_rate=2, chat_per=1.0) as fake:
        fake.add_chat(SUPER)
        outcomes = [
            (await act(fake, http, Step("notice_group", text=str(i)), at()))[0].outcome
            for i in range(3)
        ]
        assert outcomes == ["done", "done", "transient"]
        assert [b.chat for b in fake.breaches] == [str(SUPER)]


@pytest.mark.parametrize("status", [500, 502])
async def test_5xx_is_transient_and_maybe_delivered(
    fake: FakeTelegram, http: httpx.AsyncClient, status: int
) -> None:
    fake.inject("5xx", status=status)
    result, _ = await act(fake, http, Step("notice_group", text="hi"), at())
    assert (result.outcome, result.status) == ("transient", status)
    assert result.maybe_delivered and result.retry_after is None


async def test_a_hang_is_transient_and_maybe_delivered(fake: FakeTelegram) -> None:
    fake.inject("hang", hang_s=1.0)
    async with httpx.AsyncClient(timeout=0.5) as slow:
        result, _ = await act(fake, slow, Step("notice_group", text="hi"), at())
    assert (result.outcome, result.status) == ("transient", None)
    assert result.maybe_delivered
    assert result.error and "Timeout" in result.error


async def test_nothing_listening_is_transient_and_not_delivered(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    client = TelegramClient(http, "http://127.0.0.1:9", fake.token)
    result = await client.execute(Step("notice_group", text="hi"), at(), fake.clock.now())
    assert (result.outcome, result.status, result.maybe_delivered) == ("transient", None, False)
    assert result.call == "POST /sendMessage" and fake.token not in str(result.error)


# ---------------------------------------------------------------------- configuration


async def test_a_wrong_token_is_a_config_error(fake: FakeTelegram, http: httpx.AsyncClient) -> None:
    result, _ = await act(
        fake, http, Step("ban"), at(), token="7000000001:AAWrongTokenWrongTokenWrongToken"
    )
    assert (result.outcome, result.status, result.error) == ("permanent", 401, "Unauthorized")
    assert result.config_error and fake.status(SUPER, USER) == "member"


async def test_a_wrong_base_url_is_a_config_error(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    result, _ = await act(fake, http, Step("ban"), at(), base_url=f"{fake.url}/v1")
    assert (result.outcome, result.status, result.error) == ("permanent", 404, "Not Found")
    assert result.config_error


# ---------------------------------------------------------------------- the fake itself


async def test_fake_takes_form_and_query_parameters_and_any_method_case(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    until = int(fake.clock.now()) + 600
    form = await http.post(
        f"{fake.url}/bot{fake.token}/RESTRICTCHATMEMBER",
        data={
            "chat_id": str(SUPER),
            "user_id": str(USER),
            "permissions": json.dumps({"can_send_messages": True}),
            "use_independent_chat_permissions": "true",
            "until_date": str(until),
        },
    )
    assert form.headers["content-type"] == "application/json"
    assert form.json() == {"ok": True, "result": True}
    member = fake.member(SUPER, USER)
    assert member is not None and member.until_date == until and member.permissions is not None
    assert member.permissions["can_send_messages"] and not member.permissions["can_send_photos"]

    mid = fake.add_message(SUPER, USER)
    query = await http.get(
        f"{fake.url}/bot{fake.token}/deletemessage",
        params={"chat_id": str(SUPER), "message_id": str(mid)},
    )
    assert query.json() == {"ok": True, "result": True} and not fake.has_message(SUPER, mid)
    assert len(fake.requests("restrictChatMember")) == 1

    unknown = await http.post(f"{fake.url}/bot{fake.token}/fooBar", json={})
    assert unknown.status_code == 404
    assert unknown.json()["description"] == "Not Found: method not found"


async def test_username_chat_ids_are_sent_as_strings(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.add_chat(-1007, username="examplegroup")
    result, body = await act(fake, http, Step("notice_group", text="hi"), at(group="@examplegroup"))
    assert result.outcome == "done" and body["chat_id"] == "@examplegroup"
    assert len(fake.sent(-1007)) == 1
