"""The Slack adapter against the fake Slack Web API: each step makes the documented call
with the right token and changes the workspace as a user would see it; the steps Slack
cannot carry out make no call at all; every documented answer lands in the right class."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from services.enforcement.calls import CallResult, PlatformClient, Step, StepKind, Target
from services.enforcement.platforms.slack import SlackClient
from tests.support.fakes.server import Call
from tests.support.fakes.slack import BOT_TOKEN, BOT_USER, FakeSlack
from tools.embedded import free_port

CHANNEL = "C0123ABCDEF"
GENERAL = "C0GENERAL01"
MEMBER = "U0456GHIJKL"
OUTSIDER = "U0999ZZZZZZ"
TS = "1767225600.001200"
ADMIN_TOKEN = "xoxp-3333-admin"
PLAIN_USER_TOKEN = "xoxp-4444-member"
NOW = 1_767_225_700.0
JSON_TYPE = "application/json; charset=utf-8"

AT_MEMBER = Target("slack", CHANNEL, MEMBER, message_id=TS)


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL)
        fake.add_channel(GENERAL, general=True)
        fake.add_member(CHANNEL, MEMBER)
        fake.add_member(GENERAL, MEMBER)
        fake.add_user(OUTSIDER)
        fake.add_message(CHANNEL, TS, MEMBER, "buy cheap followers")
        fake.add_token(ADMIN_TOKEN, "user", {"chat:write"}, admin=True, user="UADMIN0001")
        fake.add_token(PLAIN_USER_TOKEN, "user", {"chat:write"}, admin=False, user="UPLAIN0001")
        yield fake


@pytest.fixture()
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def as_platform_client(client: SlackClient) -> PlatformClient:
    """Type-checked: the adapter is a PlatformClient."""
    return client


def bot_only(fake: FakeSlack, http: httpx.AsyncClient) -> SlackClient:
    return SlackClient(http, fake.url, BOT_TOKEN)


def with_admin(fake: FakeSlack, http: httpx.AsyncClient, token: str = ADMIN_TOKEN) -> SlackClient:
    return SlackClient(http, fake.url, BOT_TOKEN, user_token=token)


def only_call(fake: FakeSlack) -> Call:
    assert len(fake.calls) == 1, [f"{c.method} {c.path}" for c in fake.calls]
    return fake.calls[0]


def assert_sent_as_described(
    client: SlackClient, step: Step, target: Target, call: Call, result: CallResult
) -> None:
    """describe() is exactly what went over the wire, and the result says so too."""
    described = client.describe(step, target, NOW)
    assert described == (f"{call.method} {call.path}", call.body)
    assert (result.call, dict(result.params)) == described
    assert as_platform_client(client).platform == "slack"


# ---------------------------------------------------------------------- the calls


async def test_group_notice_mentions_the_member_in_the_thread(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    client = bot_only(fake, http)
    step = Step("notice_group", text="your message broke rule R3 (spam).", reply=True)
    result = await client.execute(step, AT_MEMBER, NOW)

    assert result.outcome == "done" and result.status == 200
    call = only_call(fake)
    assert (call.method, call.path) == ("POST", "/chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.content_type == JSON_TYPE
    assert call.body == {
        "channel": CHANNEL,
        "text": f"<@{MEMBER}> your message broke rule R3 (spam).",
        "thread_ts": TS,
    }
    assert_sent_as_described(client, step, AT_MEMBER, call, result)
    [posted] = fake.bot_messages(CHANNEL)
    assert posted.thread_ts == TS and posted.text.startswith(f"<@{MEMBER}> ")


@pytest.mark.parametrize(
    ("reply", "target"),
    [(False, AT_MEMBER), (True, Target("slack", CHANNEL, MEMBER))],
    ids=["not-a-reply", "no-message-to-reply-to"],
)
async def test_group_notice_without_a_thread(
    fake: FakeSlack, http: httpx.AsyncClient, reply: bool, target: Target
) -> None:
    step = Step("notice_group", text="please keep it civil", reply=reply)
    result = await bot_only(fake, http).execute(step, target, NOW)

    assert result.outcome == "done"
    assert "thread_ts" not in only_call(fake).body
    [posted] = fake.bot_messages(CHANNEL)
    assert posted.thread_ts is None


async def test_private_notice_is_an_ephemeral_to_the_member(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    client = bot_only(fake, http)
    step = Step("notice_private", text="Your message was flagged under rule R3 (spam).")
    result = await client.execute(step, AT_MEMBER, NOW)

    assert result.outcome == "done"
    call = only_call(fake)
    assert (call.method, call.path) == ("POST", "/chat.postEphemeral")
    assert call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.body == {"channel": CHANNEL, "user": MEMBER, "text": step.text}
    assert_sent_as_described(client, step, AT_MEMBER, call, result)
    [notice] = fake.ephemerals
    assert (notice.channel, notice.user, notice.text) == (CHANNEL, MEMBER, step.text)
    assert fake.bot_messages(CHANNEL) == []  # ephemerals are not kept in the channel


async def test_private_notice_to_someone_outside_the_channel_is_undeliverable(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    target = Target("slack", CHANNEL, OUTSIDER)
    result = await bot_only(fake, http).execute(Step("notice_private", text="hi"), target, NOW)

    assert (result.outcome, result.error) == ("permanent", "user_not_in_channel")
    assert result.undeliverable and not result.config_error
    assert fake.ephemerals == []


async def test_delete_uses_the_admins_user_token(fake: FakeSlack, http: httpx.AsyncClient) -> None:
    client = with_admin(fake, http)
    step = Step("delete_message")
    result = await client.execute(step, AT_MEMBER, NOW)

    assert result.outcome == "done"
    call = only_call(fake)
    assert (call.method, call.path) == ("POST", "/chat.delete")
    assert call.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert call.content_type == JSON_TYPE
    assert call.body == {"channel": CHANNEL, "ts": TS}
    assert_sent_as_described(client, step, AT_MEMBER, call, result)
    assert not fake.has_message(CHANNEL, TS)


async def test_delete_with_only_a_bot_token_is_unsupported_and_calls_nothing(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    client = bot_only(fake, http)
    step = Step("delete_message")
    result = await client.execute(step, AT_MEMBER, NOW)

    assert result.outcome == "unsupported"
    assert result.call.startswith("none: ")
    assert result.error is not None
    assert "bot token deletes only the bot's own messages" in result.error
    assert f"https://slack.com/archives/{CHANNEL}/p1767225600001200" in result.error
    assert fake.calls == []
    assert fake.has_message(CHANNEL, TS)
    assert client.describe(step, AT_MEMBER, NOW) == (result.call, {})


async def test_deleting_a_message_already_gone_is_already(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    target = Target("slack", CHANNEL, MEMBER, message_id="1767225600.009999")
    result = await with_admin(fake, http).execute(Step("delete_message"), target, NOW)

    assert (result.outcome, result.error) == ("already", "message_not_found")
    assert fake.has_message(CHANNEL, TS)


async def test_a_non_admin_user_token_cannot_delete_a_members_message(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    client = with_admin(fake, http, token=PLAIN_USER_TOKEN)
    result = await client.execute(Step("delete_message"), AT_MEMBER, NOW)

    assert (result.outcome, result.error) == ("permanent", "cant_delete_message")
    assert result.permission
    assert fake.has_message(CHANNEL, TS)


@pytest.mark.parametrize(
    "success", [{"ok": True, "errors": {}}, {"ok": True}], ids=["docs-body", "openapi-body"]
)
async def test_kick_removes_the_member_from_the_channel(
    fake: FakeSlack, http: httpx.AsyncClient, success: dict[str, Any]
) -> None:
    fake.kick_success = success
    client = with_admin(fake, http)  # a user token on hand must not be used for a kick
    step = Step("kick")
    result = await client.execute(step, AT_MEMBER, NOW)

    assert result.outcome == "done" and result.error is None
    call = only_call(fake)
    assert (call.method, call.path) == ("POST", "/conversations.kick")
    assert call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.body == {"channel": CHANNEL, "user": MEMBER}
    assert_sent_as_described(client, step, AT_MEMBER, call, result)
    assert not fake.is_member(CHANNEL, MEMBER)


async def test_kicking_someone_not_in_the_channel_is_already(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    target = Target("slack", CHANNEL, OUTSIDER)
    result = await bot_only(fake, http).execute(Step("kick"), target, NOW)

    assert (result.outcome, result.error) == ("already", "not_in_channel")


@pytest.mark.parametrize(
    ("kind", "outcome", "why"),
    [
        ("mute", "unsupported", "no per-member mute"),
        ("ban", "unsupported", "no channel ban"),
        ("unban", "unsupported", "no channel ban"),
        ("unmute", "already", "nothing to lift"),
    ],
)
async def test_steps_slack_cannot_do_make_no_call(
    fake: FakeSlack, http: httpx.AsyncClient, kind: StepKind, outcome: str, why: str
) -> None:
    client = with_admin(fake, http)
    step = Step(kind, until=int(NOW) + 600)
    result = await client.execute(step, AT_MEMBER, NOW)

    assert result.outcome == outcome
    assert result.call.startswith("none: ") and why in result.call
    assert fake.calls == []
    assert fake.is_member(CHANNEL, MEMBER)
    assert client.describe(step, AT_MEMBER, NOW) == (result.call, {})


# ---------------------------------------------------------------------- refusals from state


async def test_kick_from_general_self_and_restricted_are_permanent(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    client = bot_only(fake, http)
    general = await client.execute(Step("kick"), Target("slack", GENERAL, MEMBER), NOW)
    itself = await client.execute(Step("kick"), Target("slack", CHANNEL, BOT_USER), NOW)
    fake.restrict("conversations.kick")
    restricted = await client.execute(Step("kick"), AT_MEMBER, NOW)

    assert (general.outcome, general.error) == ("permanent", "cant_kick_from_general")
    assert (itself.outcome, itself.error) == ("permanent", "cant_kick_self")
    assert (restricted.outcome, restricted.error, restricted.permission) == (
        "permanent",
        "restricted_action",
        True,
    )
    assert fake.is_member(GENERAL, MEMBER) and fake.is_member(CHANNEL, MEMBER)


async def test_posting_where_the_bot_is_not_a_member_is_a_permission_failure(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    fake.add_channel("C0NOBOT0001", bot_member=False)
    fake.add_member("C0NOBOT0001", MEMBER)
    target = Target("slack", "C0NOBOT0001", MEMBER)
    result = await bot_only(fake, http).execute(Step("notice_group", text="hi"), target, NOW)

    assert (result.outcome, result.error, result.permission) == (
        "permanent",
        "not_in_channel",
        True,
    )
    assert fake.messages("C0NOBOT0001") == []


async def test_archived_unknown_and_too_long_are_permanent(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    client = bot_only(fake, http)
    fake.add_channel("C0ARCHIVED1")
    fake.archive("C0ARCHIVED1")
    archived = await client.execute(
        Step("notice_group", text="hi"), Target("slack", "C0ARCHIVED1", MEMBER), NOW
    )
    missing = await client.execute(Step("kick"), Target("slack", "C0NOSUCH001", MEMBER), NOW)
    nobody = await client.execute(Step("kick"), Target("slack", CHANNEL, "U0NOBODY001"), NOW)
    too_long = await client.execute(Step("notice_group", text="x" * 40_000), AT_MEMBER, NOW)
    empty = await client.execute(Step("notice_private", text=""), AT_MEMBER, NOW)

    assert [(r.outcome, r.error) for r in (archived, missing, nobody, too_long, empty)] == [
        ("permanent", "is_archived"),
        ("permanent", "channel_not_found"),
        ("permanent", "user_not_found"),
        ("permanent", "msg_too_long"),
        ("permanent", "no_text"),
    ]
    assert fake.bot_messages(CHANNEL) == [] and fake.ephemerals == []


async def test_missing_scope_is_a_config_error_naming_the_scopes(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    fake.add_token("xoxb-narrow", "bot", {"chat:write"})
    client = SlackClient(http, fake.url, "xoxb-narrow")
    result = await client.execute(Step("kick"), AT_MEMBER, NOW)

    assert result.outcome == "permanent" and result.config_error
    assert result.error is not None
    assert "missing_scope" in result.error
    assert "needed: channels:manage" in result.error
    assert "provided: chat:write" in result.error
    assert fake.is_member(CHANNEL, MEMBER)


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-never-issued", "invalid_auth"), (BOT_TOKEN, "token_revoked")],
)
async def test_bad_tokens_are_config_errors(
    fake: FakeSlack, http: httpx.AsyncClient, token: str, error: str
) -> None:
    if error == "token_revoked":
        fake.revoke_token(BOT_TOKEN)
    result = await SlackClient(http, fake.url, token).execute(
        Step("notice_group", text="hi"), AT_MEMBER, NOW
    )

    assert (result.outcome, result.error, result.config_error) == ("permanent", error, True)
    assert fake.bot_messages(CHANNEL) == []


# ---------------------------------------------------------------------- transient answers


async def test_429_waits_the_retry_after_header(fake: FakeSlack, http: httpx.AsyncClient) -> None:
    fake.inject("429", retry_after=3)
    result = await bot_only(fake, http).execute(Step("notice_group", text="hi"), AT_MEMBER, NOW)

    assert (result.outcome, result.status, result.retry_after) == ("transient", 429, 3.0)
    assert result.error == "ratelimited" and not result.maybe_delivered
    assert only_call(fake).answer_status == 429
    assert fake.bot_messages(CHANNEL) == []


async def test_per_chat_limit_breach_is_a_429_with_retry_after(
    http: httpx.AsyncClient,
) -> None:
    with FakeSlack(chat_rate=1, chat_per=0.5) as fake:
        fake.add_channel(CHANNEL)
        fake.add_member(CHANNEL, MEMBER)
        client = bot_only(fake, http)
        first = await client.execute(Step("notice_group", text="one"), AT_MEMBER, NOW)
        second = await client.execute(Step("notice_group", text="two"), AT_MEMBER, NOW)

        assert first.outcome == "done"
        assert (second.outcome, second.retry_after) == ("transient", 0.5)
        assert len(fake.breaches) == 1 and len(fake.bot_messages(CHANNEL)) == 1


@pytest.mark.parametrize("error", ["rate_limited", "ratelimited"])
async def test_a_flood_answer_backs_off_about_a_second(
    fake: FakeSlack, http: httpx.AsyncClient, error: str
) -> None:
    fake.queue_error("chat.postMessage", error)
    result = await bot_only(fake, http).execute(Step("notice_group", text="hi"), AT_MEMBER, NOW)

    assert (result.outcome, result.error, result.retry_after) == ("transient", error, 1.0)
    assert not result.maybe_delivered
    assert fake.bot_messages(CHANNEL) == []


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_on_a_send_may_have_been_delivered(
    fake: FakeSlack, http: httpx.AsyncClient, status: int
) -> None:
    fake.inject("5xx", status=status)
    client = bot_only(fake, http)
    send = await client.execute(Step("notice_group", text="hi"), AT_MEMBER, NOW)
    fake.inject("5xx", status=status)
    kick = await client.execute(Step("kick"), AT_MEMBER, NOW)

    assert (send.outcome, send.status, send.maybe_delivered) == ("transient", status, True)
    assert (kick.outcome, kick.status, kick.maybe_delivered) == ("transient", status, False)


@pytest.mark.parametrize("error", ["service_unavailable", "request_timeout"])
async def test_slack_side_trouble_is_transient(
    fake: FakeSlack, http: httpx.AsyncClient, error: str
) -> None:
    fake.queue_error("chat.postEphemeral", error)
    result = await bot_only(fake, http).execute(Step("notice_private", text="hi"), AT_MEMBER, NOW)

    assert (result.outcome, result.error, result.maybe_delivered) == ("transient", error, True)


async def test_fatal_error_may_have_done_part_of_the_work(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    client = bot_only(fake, http)
    fake.queue_fatal_error("chat.postMessage", applied=True)
    send = await client.execute(Step("notice_group", text="hi"), AT_MEMBER, NOW)
    fake.queue_fatal_error("conversations.kick", applied=True)
    kick = await client.execute(Step("kick"), AT_MEMBER, NOW)

    assert (send.outcome, send.error, send.maybe_delivered) == ("transient", "fatal_error", True)
    assert (kick.outcome, kick.maybe_delivered) == ("transient", True)
    # The work did happen: a blind resend would post twice; the kick is safe to repeat.
    assert len(fake.bot_messages(CHANNEL)) == 1
    assert not fake.is_member(CHANNEL, MEMBER)
    again = await client.execute(Step("kick"), AT_MEMBER, NOW)
    assert again.outcome == "already"


async def test_a_hang_past_the_client_timeout_may_have_been_delivered(
    fake: FakeSlack,
) -> None:
    fake.inject("hang", hang_s=1.0)
    async with httpx.AsyncClient(timeout=0.5) as http:
        result = await bot_only(fake, http).execute(Step("notice_group", text="hi"), AT_MEMBER, NOW)

    assert result.outcome == "transient" and result.maybe_delivered
    assert result.status is None and result.error is not None and "Timeout" in result.error


async def test_nothing_listening_is_transient_and_not_delivered(http: httpx.AsyncClient) -> None:
    client = SlackClient(http, f"http://127.0.0.1:{free_port()}/api", BOT_TOKEN)
    result = await client.execute(Step("notice_group", text="hi"), AT_MEMBER, NOW)

    assert result.outcome == "transient" and not result.maybe_delivered
    assert result.status is None


# ---------------------------------------------------------------------- the error table


@pytest.mark.parametrize(
    ("method", "kind", "error", "outcome", "flag"),
    [
        ("conversations.kick", "kick", "already_in_channel", "already", None),
        ("conversations.kick", "kick", "method_not_supported_for_channel_type", "permanent", None),
        ("conversations.kick", "kick", "not_supported", "permanent", None),
        ("conversations.kick", "kick", "no_user", "permanent", None),
        ("conversations.kick", "kick", "unknown_method", "unsupported", None),
        ("chat.postMessage", "notice_group", "restricted_action", "permanent", "permission"),
        (
            "chat.postMessage",
            "notice_group",
            "restricted_action_read_only_channel",
            "permanent",
            "permission",
        ),
        ("chat.postMessage", "notice_group", "not_authed", "permanent", "config_error"),
        ("chat.postMessage", "notice_group", "token_expired", "permanent", "config_error"),
        ("chat.postMessage", "notice_group", "account_inactive", "permanent", "config_error"),
        ("chat.postMessage", "notice_group", "not_allowed_token_type", "permanent", "config_error"),
        ("chat.delete", "delete_message", "channel_not_found", "permanent", None),
        ("chat.delete", "delete_message", "compliance_exports_prevent_deletion", "permanent", None),
        (
            "chat.postEphemeral",
            "notice_private",
            "user_not_in_channel",
            "permanent",
            "undeliverable",
        ),
        ("chat.postEphemeral", "notice_private", "some_future_error", "permanent", None),
    ],
)
async def test_documented_refusals_are_classified(
    fake: FakeSlack,
    http: httpx.AsyncClient,
    method: str,
    kind: StepKind,
    error: str,
    outcome: str,
    flag: str | None,
) -> None:
    fake.queue_error(method, error)
    result = await with_admin(fake, http).execute(Step(kind, text="hi"), AT_MEMBER, NOW)

    assert (result.outcome, result.error) == (outcome, error)
    flags = {"permission", "config_error", "undeliverable", "maybe_delivered"}
    assert {f for f in flags if getattr(result, f)} == ({flag} if flag else set())


async def test_a_warning_is_noted_and_the_step_still_done(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    fake.warning = "superfluous_charset"
    result = await bot_only(fake, http).execute(Step("kick"), AT_MEMBER, NOW)

    assert (result.outcome, result.error) == ("done", "warning: superfluous_charset")
    assert not fake.is_member(CHANNEL, MEMBER)


# ---------------------------------------------------------------------- the fake itself


async def post(
    fake: FakeSlack,
    http: httpx.AsyncClient,
    method: str,
    *,
    json_body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    token: str | None = BOT_TOKEN,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if json_body is not None:
        headers["Content-Type"] = JSON_TYPE
        return await http.post(
            f"{fake.url}/{method}", content=json.dumps(json_body), headers=headers
        )
    return await http.post(f"{fake.url}/{method}", data=form or {}, headers=headers)


async def test_fake_json_bodies_take_the_token_only_from_the_header(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    body = {"channel": CHANNEL, "text": "hi", "token": BOT_TOKEN}
    in_body = await post(fake, http, "chat.postMessage", json_body=body, token=None)
    in_form = await post(
        fake,
        http,
        "chat.postMessage",
        form={"channel": CHANNEL, "text": "hi", "token": BOT_TOKEN},
        token=None,
    )
    in_header = await post(fake, http, "chat.postMessage", form={"channel": CHANNEL, "text": "hi"})

    assert (in_body.status_code, in_body.json()) == (200, {"ok": False, "error": "not_authed"})
    assert in_form.json()["ok"] is True and in_header.json()["ok"] is True
    assert len(fake.bot_messages(CHANNEL)) == 2


@pytest.mark.parametrize(
    "method", ["conversations.mute", "users.timeout", "conversations.ban", "conversations.unban"]
)
async def test_fake_has_no_mute_or_ban_methods(
    fake: FakeSlack, http: httpx.AsyncClient, method: str
) -> None:
    answer = await post(fake, http, method, json_body={"channel": CHANNEL, "user": MEMBER})

    assert (answer.status_code, answer.json()) == (200, {"ok": False, "error": "unknown_method"})
    assert fake.is_member(CHANNEL, MEMBER)


async def test_fake_bot_token_deletes_only_the_bots_own_messages(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    fake.add_message(CHANNEL, "1767225601.000100", BOT_USER, "an earlier notice")
    others = await post(fake, http, "chat.delete", json_body={"channel": CHANNEL, "ts": TS})
    own = await post(
        fake, http, "chat.delete", json_body={"channel": CHANNEL, "ts": "1767225601.000100"}
    )

    assert others.json() == {"ok": False, "error": "cant_delete_message"}
    assert own.json() == {"ok": True, "channel": CHANNEL, "ts": "1767225601.000100"}
    assert fake.has_message(CHANNEL, TS)
    assert not fake.has_message(CHANNEL, "1767225601.000100")


async def test_fake_dm_invite_and_rate_limit_answers(
    fake: FakeSlack, http: httpx.AsyncClient
) -> None:
    opened = await post(fake, http, "conversations.open", json_body={"users": MEMBER})
    invite = await post(
        fake, http, "conversations.invite", json_body={"channel": CHANNEL, "users": MEMBER}
    )
    fake.inject("429", retry_after=1)
    limited = await post(
        fake, http, "chat.postMessage", json_body={"channel": CHANNEL, "text": "x"}
    )
    no_charset = await http.post(
        f"{fake.url}/auth.test",
        content=b"{}",
        headers={"Authorization": f"Bearer {BOT_TOKEN}", "Content-Type": "application/json"},
    )

    dm = opened.json()["channel"]["id"]
    assert opened.json()["ok"] is True and dm.startswith("D") and fake.is_member(dm, MEMBER)
    assert invite.json() == {"ok": False, "error": "already_in_channel"}
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json() == {"ok": False, "error": "ratelimited"}
    assert no_charset.json()["warning"] == "missing_charset"
    assert fake.chat_of(fake.calls_to("POST /conversations.invite")[0]) == CHANNEL
