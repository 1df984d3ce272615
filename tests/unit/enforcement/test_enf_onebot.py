"""The OneBot v11 adapter against the fake OneBot server in each implementation's dialect
(go-cqhttp, NapCat, Lagrange): each step makes the documented action with the documented
body and the bearer token, and changes the group as its members would see it; unban makes
no call; every documented answer of every flavour lands in the class the reference's
section 3 gives it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from services.enforcement.calls import CallResult, PlatformClient, Step, StepKind, Target
from services.enforcement.platforms.onebot import (
    MAX_MUTE_S,
    UNBAN_CALL,
    OneBotClient,
    classify,
    mute_seconds,
)
from tests.support.fakes.onebot import (
    FIRST_MESSAGE_ID,
    INT32_MAX,
    FakeOneBot,
    Flavour,
    Role,
    UnknownAction,
)
from tests.support.fakes.server import Call
from tools.embedded import free_port

TOKEN = "s3cret-token"
GROUP = 123456789
MEMBER = 10001000
ADMIN = 10002000
OWNER = 10003000
STRANGER = 10009000
NOW = 1_767_225_600.0
FLAVOURS: tuple[Flavour, ...] = ("gocq", "napcat", "lagrange")

AT_MEMBER = Target("onebot", str(GROUP), str(MEMBER))


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[Flavour, FakeOneBot]]:
    """One running fake per flavour for the whole module; each test resets the one it uses."""
    fakes = {flavour: FakeOneBot(flavour=flavour, access_token=TOKEN) for flavour in FLAVOURS}
    for one in fakes.values():
        one.start()
    try:
        yield fakes
    finally:
        for one in fakes.values():
            one.stop()


@pytest.fixture()
def onebot(servers: dict[Flavour, FakeOneBot]) -> Callable[..., FakeOneBot]:
    """A fake of the flavour with one group: the bot (in `bot_role`), a member, an admin
    and the owner (the bot itself when it is the owner)."""

    def setup(
        flavour: Flavour = "gocq",
        *,
        bot_role: Role = "admin",
        missing_actions: Iterable[str] = (),
        unknown_action: UnknownAction = "flavour",
    ) -> FakeOneBot:
        fake = servers[flavour]
        fake.reset()
        fake.missing_actions.update(missing_actions)
        fake.unknown_action = unknown_action
        fake.add_group(GROUP, bot_role=bot_role)
        fake.add_member(GROUP, MEMBER)
        fake.add_member(GROUP, ADMIN, "admin")
        if bot_role != "owner":
            fake.add_member(GROUP, OWNER, "owner")
        return fake

    return setup


@pytest.fixture()
def fake(onebot: Callable[..., FakeOneBot]) -> FakeOneBot:
    return onebot()


@pytest.fixture()
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def client_of(fake: FakeOneBot, http: httpx.AsyncClient, token: str | None = TOKEN) -> OneBotClient:
    return OneBotClient(http, fake.url, token)


def as_platform_client(client: OneBotClient) -> PlatformClient:
    """Type-checked: the adapter is a PlatformClient."""
    return client


def only_call(fake: FakeOneBot) -> Call:
    assert len(fake.calls) == 1, [f"{c.method} {c.path}" for c in fake.calls]
    return fake.calls[0]


def assert_wire(
    client: OneBotClient, step: Step, target: Target, call: Call, result: CallResult
) -> None:
    """What went over the wire is the documented form, and exactly what describe() says."""
    assert call.method == "POST"
    assert call.content_type == "application/json"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert "access_token" not in call.query
    described = client.describe(step, target, NOW)
    assert described == (f"{call.method} {call.path}", call.body)
    assert (result.call, dict(result.params)) == described
    assert as_platform_client(client).platform == "onebot"


async def run(
    fake: FakeOneBot, http: httpx.AsyncClient, step: Step, target: Target = AT_MEMBER
) -> tuple[CallResult, Call]:
    client = client_of(fake, http)
    result = await client.execute(step, target, NOW)
    call = only_call(fake)
    assert_wire(client, step, target, call, result)
    return result, call


async def post(
    fake: FakeOneBot, http: httpx.AsyncClient, action: str, body: Any = None, **kw: Any
) -> httpx.Response:
    """A raw request, for what the adapter never sends (forms, other tokens, bad bodies)."""
    headers = kw.pop("headers", {"Authorization": f"Bearer {TOKEN}"})
    if body is not None:
        kw["json"] = body
    return await http.post(f"{fake.url}/{action}", headers=headers, **kw)


# ---------------------------------------------------------------------- the steps


async def test_mute_sends_relative_seconds_and_the_member_is_muted_until_then(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    step = Step("mute", until=int(NOW) + 600)

    result, call = await run(fake, http, step)

    assert call.path == "/set_group_ban"
    assert call.body == {"group_id": GROUP, "user_id": MEMBER, "duration": 600}
    assert all(type(call.body[k]) is int for k in ("group_id", "user_id", "duration"))
    assert (result.outcome, result.status, result.error) == ("done", 200, None)
    until = fake.is_muted(GROUP, MEMBER)
    assert until is not None and abs(until - (call.at + 600)) < 1


async def test_unmute_sends_duration_zero_and_lifts_the_mute(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    fake.set_muted(GROUP, MEMBER, fake.clock.now() + 3600)

    result, call = await run(fake, http, Step("unmute"))

    assert call.path == "/set_group_ban"
    assert call.body == {"group_id": GROUP, "user_id": MEMBER, "duration": 0}
    assert result.outcome == "done"
    assert fake.is_muted(GROUP, MEMBER) is None


@pytest.mark.parametrize(("kind", "reject"), [("kick", False), ("ban", True)])
async def test_kick_and_ban_remove_the_member_and_ban_blocks_rejoining(
    fake: FakeOneBot, http: httpx.AsyncClient, kind: StepKind, reject: bool
) -> None:
    result, call = await run(fake, http, Step(kind, until=int(NOW) + 86_400))

    assert call.path == "/set_group_kick"
    assert call.body == {"group_id": GROUP, "user_id": MEMBER, "reject_add_request": reject}
    assert call.body["reject_add_request"] is reject  # a JSON boolean, not a string
    assert result.outcome == "done"
    assert not fake.is_member(GROUP, MEMBER)
    assert fake.is_kicked(GROUP, MEMBER)
    assert fake.rejected(GROUP, MEMBER) is reject


async def test_unban_is_unsupported_and_makes_no_call(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    client = client_of(fake, http)

    result = await client.execute(Step("unban"), AT_MEMBER, NOW)

    assert fake.calls == []
    assert result.outcome == "unsupported"
    assert result.call == UNBAN_CALL == client.describe(Step("unban"), AT_MEMBER, NOW)[0]
    assert result.error is not None and "re-admit" in result.error


async def test_delete_message_recalls_it_by_its_numeric_id(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    mid = fake.add_message(GROUP, MEMBER, "spam")
    target = Target("onebot", str(GROUP), str(MEMBER), message_id=str(mid))

    result, call = await run(fake, http, Step("delete_message"), target)

    assert call.path == "/delete_msg"
    assert call.body == {"message_id": mid}
    assert result.outcome == "done"
    assert fake.is_deleted(mid)


async def test_group_notice_replies_and_mentions_in_segments(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    mid = fake.add_message(GROUP, MEMBER, "spam")
    target = Target("onebot", str(GROUP), str(MEMBER), message_id=str(mid))
    step = Step("notice_group", text="警告：消息已因违反群规被撤回（规则 R3）。", reply=True)

    result, call = await run(fake, http, step, target)

    assert call.path == "/send_group_msg"
    assert call.body == {
        "group_id": GROUP,
        "message": [
            {"type": "reply", "data": {"id": str(mid)}},
            {"type": "at", "data": {"qq": str(MEMBER)}},
            {"type": "text", "data": {"text": " 警告：消息已因违反群规被撤回（规则 R3）。"}},
        ],
    }
    assert result.outcome == "done"
    (sent,) = fake.sent()
    assert sent.group_id == GROUP and sent.content == call.body["message"]
    assert FIRST_MESSAGE_ID <= sent.message_id <= INT32_MAX


@pytest.mark.parametrize("reply", [False, True])
async def test_group_notice_has_no_reply_segment_without_a_message_to_reply_to(
    fake: FakeOneBot, http: httpx.AsyncClient, reply: bool
) -> None:
    # reply=True but no message id, or a message id but reply=False.
    target = AT_MEMBER if reply else Target("onebot", str(GROUP), str(MEMBER), message_id="77")

    _, call = await run(fake, http, Step("notice_group", text="hi", reply=reply), target)

    assert [s["type"] for s in call.body["message"]] == ["at", "text"]


async def test_private_notice_goes_through_a_temp_session_of_the_group(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    step = Step(
        "notice_private", text="你在群 123456789 中被禁言 10 分钟，原因：刷屏。[CQ:at,qq=all]"
    )

    result, call = await run(fake, http, step)

    assert call.path == "/send_private_msg"
    assert call.body == {
        "user_id": MEMBER,
        "group_id": GROUP,
        "message": step.text,
        "auto_escape": True,  # the quoted CQ code stays text
    }
    assert result.outcome == "done"
    (sent,) = fake.sent()
    assert (sent.to_user, sent.via_group, sent.content) == (MEMBER, GROUP, step.text)


# ---------------------------------------------------------------------- the mapping alone


def test_duration_is_rounded_up_at_least_one_second_and_clamped_to_the_platform_cap() -> None:
    assert mute_seconds(int(NOW) + 600, NOW - 0.4) == 601
    assert mute_seconds(int(NOW) - 5, NOW) == 1  # already over: 0 would lift the mute
    assert mute_seconds(int(NOW) + 40 * 86_400, NOW) == MAX_MUTE_S == 2_591_999
    assert mute_seconds(None, NOW) == MAX_MUTE_S


async def test_ids_are_numbers_when_numeric_and_strings_otherwise(http: httpx.AsyncClient) -> None:
    client = OneBotClient(http, "http://127.0.0.1:5700/", None)
    target = Target("onebot", "g-77", "u_abc", message_id="m1")

    assert client.describe(Step("kick"), target, NOW) == (
        "POST /set_group_kick",
        {"group_id": "g-77", "user_id": "u_abc", "reject_add_request": False},
    )
    assert client.describe(Step("delete_message"), target, NOW)[1] == {"message_id": "m1"}


async def test_a_mute_longer_than_the_cap_is_clamped_and_accepted(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    result, call = await run(fake, http, Step("mute", until=int(NOW) + 90 * 86_400))

    assert call.body["duration"] == 2_591_999
    assert result.outcome == "done"
    assert fake.is_muted(GROUP, MEMBER) is not None


# ---------------------------------------------------------------------- refusals, per flavour


@pytest.mark.parametrize(
    ("flavour", "bot_role", "user", "error"),
    [
        ("gocq", "admin", ADMIN, "NOT_MANAGEABLE 机器人权限不足 (retcode 100)"),
        ("gocq", "admin", OWNER, "NOT_MANAGEABLE 机器人权限不足 (retcode 100)"),
        ("gocq", "member", MEMBER, "NOT_MANAGEABLE 机器人权限不足 (retcode 100)"),
        ("napcat", "admin", OWNER, "cannot ban owner (retcode 200)"),
        ("napcat", "admin", ADMIN, "cannot ban admin (retcode 200)"),
        ("napcat", "member", MEMBER, "ERR_NOT_GROUP_ADMIN (retcode 200)"),
    ],
)
async def test_a_mute_the_bot_may_not_give_is_a_permission_failure(
    onebot: Callable[..., FakeOneBot],
    http: httpx.AsyncClient,
    flavour: Flavour,
    bot_role: Role,
    user: int,
    error: str,
) -> None:
    fake = onebot(flavour, bot_role=bot_role)
    target = Target("onebot", str(GROUP), str(user))

    result, _ = await run(fake, http, Step("mute", until=int(NOW) + 600), target)

    assert (result.outcome, result.permission, result.error) == ("permanent", True, error)
    assert not result.config_error
    assert fake.is_muted(GROUP, user) is None


async def test_an_owner_bot_may_mute_an_admin(
    onebot: Callable[..., FakeOneBot], http: httpx.AsyncClient
) -> None:
    fake = onebot(bot_role="owner")
    target = Target("onebot", str(GROUP), str(ADMIN))

    result, _ = await run(fake, http, Step("mute", until=int(NOW) + 60), target)

    assert result.outcome == "done"
    assert fake.is_muted(GROUP, ADMIN) is not None


async def test_lagrange_answers_ok_to_a_mute_it_could_not_give(
    onebot: Callable[..., FakeOneBot], http: httpx.AsyncClient
) -> None:
    """Lagrange discards the mute's result: `done` is all an answer can say, and the group
    shows that nothing happened (only the group_ban event would)."""
    fake = onebot("lagrange")
    target = Target("onebot", str(GROUP), str(OWNER))

    result, _ = await run(fake, http, Step("mute", until=int(NOW) + 600), target)

    assert result.outcome == "done"
    assert fake.is_muted(GROUP, OWNER) is None


@pytest.mark.parametrize(
    ("flavour", "error"),
    [
        ("gocq", "GROUP_NOT_FOUND 群聊不存在 (retcode 100)"),
        ("napcat", "user not in group (retcode 200)"),
    ],
)
async def test_muting_someone_not_in_the_group_is_permanent(
    onebot: Callable[..., FakeOneBot], http: httpx.AsyncClient, flavour: Flavour, error: str
) -> None:
    fake = onebot(flavour)
    target = Target("onebot", str(GROUP), str(STRANGER))

    result, _ = await run(fake, http, Step("mute", until=int(NOW) + 600), target)

    assert (result.outcome, result.permission, result.error) == ("permanent", False, error)


@pytest.mark.parametrize("kind", ["kick", "ban"])
async def test_kicking_a_member_already_gone_is_already_done_on_gocq(
    fake: FakeOneBot, http: httpx.AsyncClient, kind: StepKind
) -> None:
    target = Target("onebot", str(GROUP), str(STRANGER))

    result, _ = await run(fake, http, Step(kind), target)

    assert (result.outcome, result.error) == (
        "already",
        "MEMBER_NOT_FOUND 人员不存在 (retcode 100)",
    )


async def test_kicking_someone_the_bot_may_not_manage_is_a_permission_failure(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    target = Target("onebot", str(GROUP), str(OWNER))

    result, _ = await run(fake, http, Step("ban"), target)

    assert (result.outcome, result.permission) == ("permanent", True)
    assert fake.is_member(GROUP, OWNER) and not fake.rejected(GROUP, OWNER)


async def test_a_group_the_bot_is_not_in_is_permanent(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    target = Target("onebot", "999", str(MEMBER))

    result, _ = await run(fake, http, Step("kick"), target)

    assert (result.outcome, result.permission) == ("permanent", False)
    assert result.error == "GROUP_NOT_FOUND 群聊不存在 (retcode 100)"


@pytest.mark.parametrize(
    ("flavour", "outcome", "error"),
    [
        ("gocq", "already", "MESSAGE_NOT_FOUND 消息不存在 (retcode 100)"),
        # NapCat and Lagrange cannot tell "unknown id" from any other failure.
        ("napcat", "transient", "Recall failed (retcode 200)"),
        ("lagrange", "transient", "retcode 200"),
    ],
)
async def test_recalling_an_unknown_message(
    onebot: Callable[..., FakeOneBot],
    http: httpx.AsyncClient,
    flavour: Flavour,
    outcome: str,
    error: str,
) -> None:
    fake = onebot(flavour)
    target = Target("onebot", str(GROUP), str(MEMBER), message_id="4242")

    result, _ = await run(fake, http, Step("delete_message"), target)

    assert (result.outcome, result.error) == (outcome, error)
    assert result.maybe_delivered is (outcome == "transient")


async def test_a_recall_qq_refuses_is_ambiguous_on_gocq(
    onebot: Callable[..., FakeOneBot], http: httpx.AsyncClient
) -> None:
    fake = onebot(bot_role="member")
    mid = fake.add_message(GROUP, MEMBER, "spam")
    target = Target("onebot", str(GROUP), str(MEMBER), message_id=str(mid))

    result, _ = await run(fake, http, Step("delete_message"), target)

    assert (result.outcome, result.maybe_delivered) == ("transient", True)
    assert result.error is not None and result.error.startswith("RECALL_API_ERROR ")
    assert not fake.is_deleted(mid)


async def test_a_private_notice_qq_refuses_is_ambiguous(
    onebot: Callable[..., FakeOneBot], http: httpx.AsyncClient
) -> None:
    """No temp session (the bot is a plain member) and not a friend: go-cqhttp only says
    "see the log", so the send may count as delivered and is never repeated."""
    fake = onebot(bot_role="member")
    result, _ = await run(fake, http, Step("notice_private", text="hi"))

    assert (result.outcome, result.maybe_delivered) == ("transient", True)
    assert result.error == "SEND_MSG_API_ERROR 请参考 go-cqhttp 端输出 (retcode 100)"
    assert fake.sent() == []


async def test_a_group_notice_while_the_bot_is_muted_is_ambiguous(
    onebot: Callable[..., FakeOneBot], http: httpx.AsyncClient
) -> None:
    fake = onebot()
    fake.groups[GROUP].bot_muted = True

    result, _ = await run(fake, http, Step("notice_group", text="hi"))

    assert (result.outcome, result.maybe_delivered) == ("transient", True)
    assert result.error is not None and result.error.startswith("SEND_MSG_API_ERROR")


@pytest.mark.parametrize(
    ("flavour", "outcome", "error"),
    [
        ("gocq", "permanent", "DURATION_IS_NOT_IN_RANGE 非法的禁言时长 (retcode 100)"),
        # NTQQ's answer through NapCat is in no source: read as ambiguous, retried a little.
        ("napcat", "transient", "DURATION_IS_NOT_IN_RANGE (retcode 200)"),
        ("lagrange", "done", None),  # Lagrange answers ok whatever happened
    ],
)
async def test_an_over_long_duration_is_refused(
    onebot: Callable[..., FakeOneBot],
    http: httpx.AsyncClient,
    flavour: Flavour,
    outcome: str,
    error: str | None,
) -> None:
    """The adapter never sends it (it clamps); a raw call shows the fake's refusal and how
    the classifier reads each flavour's answer to it."""
    fake = onebot(flavour)
    body = {"group_id": GROUP, "user_id": MEMBER, "duration": 2_592_000}

    response = await post(fake, http, "set_group_ban", body)
    verdict = classify("mute", response.status_code, response.content)

    assert fake.is_muted(GROUP, MEMBER) is None
    assert (verdict.outcome, verdict.error, verdict.permission) == (outcome, error, False)


# ---------------------------------------------------------------------- unknown actions


@pytest.mark.parametrize(
    ("flavour", "unknown_action", "status", "error"),
    [
        ("gocq", "flavour", 200, "API_NOT_FOUND API不存在 (retcode 404)"),
        ("napcat", "flavour", 200, "不支持的Api delete_msg (retcode 200)"),
        ("lagrange", "flavour", 200, "retcode 404"),
        ("gocq", "http404", 404, "HTTP 404"),
    ],
)
async def test_an_action_the_deployment_lacks_is_unsupported(
    onebot: Callable[..., FakeOneBot],
    http: httpx.AsyncClient,
    flavour: Flavour,
    unknown_action: str,
    status: int,
    error: str,
) -> None:
    fake = onebot(flavour, missing_actions={"delete_msg"}, unknown_action=unknown_action)
    mid = fake.add_message(GROUP, MEMBER, "spam")
    target = Target("onebot", str(GROUP), str(MEMBER), message_id=str(mid))

    result, _ = await run(fake, http, Step("delete_message"), target)

    assert (result.outcome, result.status, result.error) == ("unsupported", status, error)
    assert not fake.is_deleted(mid)


# ---------------------------------------------------------------------- transport and auth


async def test_a_server_error_is_transient_and_may_have_run(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    fake.inject("5xx", path="/set_group_ban", status=502)

    result, _ = await run(fake, http, Step("mute", until=int(NOW) + 600))

    assert (result.outcome, result.status, result.maybe_delivered) == ("transient", 502, True)
    assert fake.is_muted(GROUP, MEMBER) is None


async def test_a_hang_past_the_client_timeout_is_transient_and_may_have_run(
    fake: FakeOneBot,
) -> None:
    fake.inject("hang", path="/send_group_msg", hang_s=2.0)
    async with httpx.AsyncClient(timeout=0.5) as http:
        result, _ = await run(fake, http, Step("notice_group", text="hi"))

    assert (result.outcome, result.status, result.maybe_delivered) == ("transient", None, True)
    assert result.error is not None and result.error.startswith("ReadTimeout")


async def test_nothing_listening_is_transient_and_nothing_was_sent(http: httpx.AsyncClient) -> None:
    client = OneBotClient(http, f"http://127.0.0.1:{free_port()}", TOKEN)

    result = await client.execute(Step("notice_group", text="hi"), AT_MEMBER, NOW)

    assert (result.outcome, result.status, result.maybe_delivered) == ("transient", None, False)
    assert result.call == "POST /send_group_msg"


@pytest.mark.parametrize(
    ("flavour", "token", "status", "error"),
    [
        ("gocq", "wrong", 403, "HTTP 403"),
        ("gocq", None, 401, "HTTP 401"),
        ("napcat", "wrong", 403, "HTTP 403 token verify failed!"),
        ("napcat", None, 403, "HTTP 403 token verify failed!"),
        ("lagrange", "wrong", 403, "HTTP 403"),
        ("lagrange", None, 401, "HTTP 401"),
    ],
)
async def test_a_wrong_or_missing_token_is_a_config_error(
    onebot: Callable[..., FakeOneBot],
    http: httpx.AsyncClient,
    flavour: Flavour,
    token: str | None,
    status: int,
    error: str,
) -> None:
    fake = onebot(flavour)
    client = client_of(fake, http, token)

    result = await client.execute(Step("kick"), AT_MEMBER, NOW)

    call = only_call(fake)
    assert ("authorization" in call.headers) is (token is not None)
    assert (result.outcome, result.config_error, result.status) == ("permanent", True, status)
    assert result.error == error
    assert fake.is_member(GROUP, MEMBER)
    if flavour == "lagrange" and token is None:
        assert call.answer_status == 401


async def test_an_over_rate_call_is_answered_503_and_retried_as_transient(
    http: httpx.AsyncClient,
) -> None:
    """OneBot documents no rate limit: the fake's monitor answers a 5xx, not a 429."""
    with FakeOneBot(access_token=TOKEN, chat_rate=1, chat_per=5.0) as fake:
        fake.add_group(GROUP)
        fake.add_member(GROUP, MEMBER)
        client = client_of(fake, http)
        first = await client.execute(Step("notice_group", text="a"), AT_MEMBER, NOW)
        second = await client.execute(Step("notice_group", text="b"), AT_MEMBER, NOW)

        assert first.outcome == "done"
        assert (second.outcome, second.status, second.maybe_delivered) == ("transient", 503, True)
        assert [b.chat for b in fake.breaches] == [str(GROUP)]
        assert len(fake.sent()) == 1


# ---------------------------------------------------------------------- the fake's own contract


async def test_each_flavour_answers_in_its_own_envelope(
    onebot: Callable[..., FakeOneBot], http: httpx.AsyncClient
) -> None:
    body = {"group_id": GROUP, "user_id": MEMBER, "duration": 60}
    fake = onebot("gocq")
    ok = await post(fake, http, "set_group_ban", body)
    assert ok.content == b'{"data":null,"message":"","retcode":0,"status":"ok"}'
    refused = await post(fake, http, "set_group_ban", {**body, "user_id": OWNER})
    assert list(refused.json()) == ["data", "message", "msg", "retcode", "status", "wording"]
    sent = await post(fake, http, "send_group_msg", {"group_id": GROUP, "message": "hi"})
    assert isinstance(sent.json()["data"]["message_id"], int)

    fake = onebot("napcat")
    ok = await post(fake, http, "set_group_ban", body)
    answer = ok.json()
    assert list(answer) == ["status", "retcode", "data", "message", "wording", "echo", "stream"]
    assert answer["stream"] == "normal-action" and isinstance(answer["echo"], str)
    echoed = await post(fake, http, "set_group_ban", {**body, "echo": "e-1"})
    assert echoed.json()["echo"] == "e-1"
    schema = await post(fake, http, "set_group_ban", {"group_id": GROUP})
    assert (schema.json()["retcode"], schema.json()["echo"]) == (400, None)
    assert classify("mute", schema.status_code, schema.content).outcome == "permanent"

    fake = onebot("lagrange")
    ok = await post(fake, http, "set_group_ban", {**body, "user_id": OWNER})
    assert ok.json() == {"status": "ok", "retcode": 0, "data": None, "echo": None}


@pytest.mark.parametrize(("flavour", "default_muted"), [("gocq", True), ("napcat", False)])
async def test_an_omitted_duration_means_1800_s_on_gocq_and_unmute_on_napcat(
    onebot: Callable[..., FakeOneBot],
    http: httpx.AsyncClient,
    flavour: Flavour,
    default_muted: bool,
) -> None:
    fake = onebot(flavour)
    fake.set_muted(GROUP, MEMBER, fake.clock.now() + 60)

    await post(fake, http, "set_group_ban", {"group_id": GROUP, "user_id": MEMBER})

    until = fake.is_muted(GROUP, MEMBER)
    assert (until is not None) is default_muted
    if until is not None:
        assert abs(until - fake.clock.now() - 1800) < 5


async def test_forms_query_tokens_and_a_trailing_slash_are_served(
    fake: FakeOneBot, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{fake.url}/set_group_kick/",
        params={"access_token": TOKEN},
        data={"group_id": str(GROUP), "user_id": str(MEMBER), "reject_add_request": "true"},
    )

    assert response.json()["status"] == "ok"
    assert fake.rejected(GROUP, MEMBER)


@pytest.mark.parametrize(
    ("flavour", "content_type", "status"),
    [
        ("gocq", "application/json", 400),
        ("napcat", "application/json", 400),
        ("lagrange", "text/plain", 406),
    ],
)
async def test_a_malformed_body_or_content_type_is_our_bug(
    onebot: Callable[..., FakeOneBot],
    http: httpx.AsyncClient,
    flavour: Flavour,
    content_type: str,
    status: int,
) -> None:
    fake = onebot(flavour)
    response = await post(
        fake,
        http,
        "set_group_ban",
        content=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
    )

    assert response.status_code == status
    verdict = classify("mute", response.status_code, response.content)
    assert (verdict.outcome, verdict.config_error) == ("permanent", False)


@pytest.mark.parametrize(
    ("envelope", "outcome", "maybe"),
    [
        ({"status": "async", "retcode": 1, "data": None}, "transient", True),
        (
            {"status": "failed", "retcode": 100, "msg": "API_ERROR", "wording": "x"},
            "transient",
            True,
        ),
        (
            {"status": "failed", "retcode": 200, "message": "未知错误，可能操作超时"},
            "transient",
            True,
        ),
        ({"status": "failed", "retcode": 200, "data": None, "echo": None}, "transient", True),
        ({"status": "ok", "retcode": 200, "data": None}, "done", False),  # older Lagrange recall
    ],
)
def test_ambiguous_and_async_answers(envelope: dict[str, Any], outcome: str, maybe: bool) -> None:
    verdict = classify("delete_message", 200, json.dumps(envelope).encode())

    assert (verdict.outcome, verdict.maybe_delivered) == (outcome, maybe)
