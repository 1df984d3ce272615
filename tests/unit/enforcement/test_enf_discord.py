"""The Discord adapter against the fake Discord REST API: per step the documented call, the
state it changes, and how each documented answer is classified."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.enforcement.calls import CallResult, Step, Target
from services.enforcement.platforms.discord import DM_PLACEHOLDER, USER_AGENT, DiscordClient
from tests.support.fakes.discord import (
    ADMINISTRATOR,
    KICK_MEMBERS,
    MANAGE_MESSAGES,
    MODERATE_MEMBERS,
    MODERATOR,
    VIEW_CHANNEL,
    FakeDiscord,
)
from tests.support.fakes.server import Call

TOKEN = "t0ken.abc"
GUILD = "1000000000000000001"
OWNER = "1000000000000000099"
CHANNEL = "1200000000000000001"
USER = "424242"
BYSTANDER = "535353"
MSG = "1300000000000000001"
MEMBER_ROLE = "2001"
HIGH_ROLE = "2002"
ADMIN_ROLE = "2003"
TARGET = Target("discord", GUILD, USER, message_id=MSG, channel_id=CHANNEL)
REASON = "R3 spam / links: 100% scam ✓"


def make_fake(bot_permissions: int = MODERATOR, **options: Any) -> FakeDiscord:
    """One guild: the bot's role at position 10, the violator at 1, a bystander, the
    violator's message in one channel."""
    fake = FakeDiscord(token=TOKEN, **options)
    fake.add_guild(GUILD, owner=OWNER, bot_permissions=bot_permissions, bot_role_position=10)
    fake.add_role(GUILD, MEMBER_ROLE, position=1)
    fake.add_role(GUILD, HIGH_ROLE, position=20)
    fake.add_role(GUILD, ADMIN_ROLE, position=1, permissions=ADMINISTRATOR)
    fake.add_member(GUILD, USER, MEMBER_ROLE, username="alex")
    fake.add_member(GUILD, BYSTANDER, MEMBER_ROLE)
    fake.add_channel(GUILD, CHANNEL)
    fake.add_message(CHANNEL, MSG, USER, "buy cheap coins at spam.example")
    return fake


@pytest.fixture()
async def fake() -> AsyncIterator[FakeDiscord]:
    with make_fake() as server:
        yield server


@pytest.fixture()
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def client_for(fake: FakeDiscord, http: httpx.AsyncClient, token: str = TOKEN) -> DiscordClient:
    return DiscordClient(http, fake.url, token)


def last(fake: FakeDiscord) -> Call:
    return fake.calls[-1]


def assert_described(client: DiscordClient, step: Step, result: CallResult, fake: FakeDiscord):
    """describe() names the calls execute made and the body of the last one."""
    call, params = client.describe(step, TARGET, time.time())
    sent = last(fake)
    if DM_PLACEHOLDER in call:
        dm = fake.dm_channels[USER]
        call = call.replace(DM_PLACEHOLDER, dm)
    assert call == result.call
    assert result.call.split("; ")[-1] == f"{sent.method} {sent.path}"
    assert params == (sent.body or {}) == dict(result.params)


def assert_headers(sent: Call, *, reason: str | None = None) -> None:
    assert sent.headers["authorization"] == f"Bot {TOKEN}"
    assert sent.headers["user-agent"] == USER_AGENT
    if sent.body is not None:
        assert sent.headers["content-type"] == "application/json"
    if reason is not None:
        assert sent.headers["x-audit-log-reason"] == quote(reason, safe="/ ")


# ---------------------------------------------------------------------- notices


async def test_group_notice_mentions_replies_and_pings_only_the_violator(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    text = f"your message was removed (rule R3). <@{BYSTANDER}> is not pinged."
    step = Step("notice_group", text=text, reply=True, key="dec-1:notice")

    result = await client.execute(step, TARGET, time.time())

    assert (result.outcome, result.status) == ("done", 200)
    sent = last(fake)
    assert (sent.method, sent.path) == ("POST", f"/channels/{CHANNEL}/messages")
    assert_headers(sent)
    assert "x-audit-log-reason" not in sent.headers
    body = sent.body
    assert set(body) == {
        "content",
        "allowed_mentions",
        "message_reference",
        "nonce",
        "enforce_nonce",
    }
    assert body["content"] == f"<@{USER}> {text}"
    assert body["allowed_mentions"] == {"users": [USER], "replied_user": False}
    assert body["message_reference"] == {"message_id": MSG, "fail_if_not_exists": False}
    assert isinstance(body["nonce"], str) and 0 < len(body["nonce"]) <= 25
    assert body["enforce_nonce"] is True
    notice = fake.messages_in(CHANNEL)[-1]
    assert notice.type == 19 and notice.reference and notice.reference["message_id"] == MSG
    assert notice.pinged == [USER]  # neither the bystander nor (as replied user) twice
    assert_described(client, step, result, fake)


async def test_group_notice_survives_a_deleted_message(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    deleted = await client.execute(Step("delete_message", reason=REASON), TARGET, time.time())
    assert deleted.outcome == "done"

    result = await client.execute(
        Step("notice_group", text="removed", reply=True, key="k"), TARGET, time.time()
    )

    assert result.outcome == "done"
    notice = fake.messages_in(CHANNEL)[-1]
    assert (notice.type, notice.reference) == (0, None)  # posted plainly, not failed

    # Without fail_if_not_exists: false the same reply is refused, as Discord does.
    answer = await http.post(
        f"{fake.url}/channels/{CHANNEL}/messages",
        headers={"Authorization": f"Bot {TOKEN}"},
        json={"content": "x", "message_reference": {"message_id": MSG}},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 50035,
        "errors": {
            "message_reference": {
                "_errors": [{"code": "REPLIES_UNKNOWN_MESSAGE", "message": "Unknown message"}]
            }
        },
        "message": "Invalid Form Body",
    }


async def test_group_notice_without_a_channel_is_permanent_and_calls_nothing(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    target = Target("discord", GUILD, USER, message_id=MSG)
    result = await client_for(fake, http).execute(
        Step("notice_group", text="x", key="k"), target, time.time()
    )
    assert result.outcome == "permanent"
    assert result.error == "no channel to post in"
    assert fake.calls == []


async def test_a_repeated_send_posts_once_within_the_nonce_window(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    step = Step("notice_group", text="warned", key="dec-7:notice")
    before = len(fake.messages_in(CHANNEL))

    first = await client.execute(step, TARGET, time.time())
    again = await client.execute(step, TARGET, time.time())

    assert first.outcome == again.outcome == "done"
    assert len(fake.messages_in(CHANNEL)) == before + 1
    assert fake.calls[0].body["nonce"] == fake.calls[1].body["nonce"]
    other = client.describe(Step("notice_group", text="warned", key="dec-8:notice"), TARGET, 0)
    assert other[1]["nonce"] != fake.calls[0].body["nonce"]

    fake.clock.advance(fake.nonce_window_s + 1)  # minutes later Discord forgets the nonce
    await client.execute(step, TARGET, time.time())
    assert len(fake.messages_in(CHANNEL)) == before + 2


async def test_private_notice_opens_a_dm_then_posts(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    step = Step("notice_private", text="You were timed out for 10 minutes.", key="dec-2:dm")

    result = await client.execute(step, TARGET, time.time())

    assert (result.outcome, result.status) == ("done", 200)
    open_dm, send = fake.calls
    dm = fake.dm_channels[USER]
    assert (open_dm.method, open_dm.path, open_dm.body) == (
        "POST",
        "/users/@me/channels",
        {"recipient_id": USER},
    )
    assert (send.method, send.path) == ("POST", f"/channels/{dm}/messages")
    assert set(send.body) == {"content", "nonce", "enforce_nonce"}
    assert send.body["enforce_nonce"] is True
    assert result.call == f"POST /users/@me/channels; POST /channels/{dm}/messages"
    assert [m.content for m in fake.dm_messages(USER)] == [step.text]
    for sent in (open_dm, send):
        assert_headers(sent)
        assert sent.chat is None  # DMs are not rate-monitored per guild
    assert_described(client, step, result, fake)


async def test_private_notice_to_closed_dms_is_undeliverable(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    fake.close_dms(USER)
    result = await client_for(fake, http).execute(
        Step("notice_private", text="x", key="k"), TARGET, time.time()
    )
    assert (result.outcome, result.status, result.undeliverable) == ("permanent", 403, True)
    assert result.error == "50007 Cannot send messages to this user"
    assert fake.dm_messages(USER) == []


# ---------------------------------------------------------------------- delete


async def test_delete_message_is_204_with_the_audit_reason_then_already(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    step = Step("delete_message", reason=REASON)

    result = await client.execute(step, TARGET, time.time())

    assert (result.outcome, result.status) == ("done", 204)
    sent = last(fake)
    assert (sent.method, sent.path, sent.body) == (
        "DELETE",
        f"/channels/{CHANNEL}/messages/{MSG}",
        None,
    )
    assert_headers(sent, reason=REASON)
    assert fake.audit_log[-1].reason == REASON
    assert sent.chat == GUILD
    assert not fake.has_message(CHANNEL, MSG)
    assert_described(client, step, result, fake)

    again = await client.execute(step, TARGET, time.time())
    assert (again.outcome, again.status, again.error) == ("already", 404, "10008 Unknown Message")


async def test_delete_without_manage_messages_is_a_permission_failure(
    http: httpx.AsyncClient,
) -> None:
    with make_fake(bot_permissions=MODERATOR & ~MANAGE_MESSAGES) as fake:
        result = await client_for(fake, http).execute(Step("delete_message"), TARGET, time.time())
        assert (result.outcome, result.status, result.permission) == ("permanent", 403, True)
        assert result.error == "50013 Missing Permissions"
        assert fake.has_message(CHANNEL, MSG)


async def test_a_hidden_channel_is_missing_access(http: httpx.AsyncClient) -> None:
    with make_fake() as fake:
        fake.add_channel(GUILD, "1200000000000000002", deny=VIEW_CHANNEL)
        fake.add_message("1200000000000000002", "1300000000000000009", USER)
        target = Target("discord", GUILD, USER, "1300000000000000009", "1200000000000000002")
        result = await client_for(fake, http).execute(Step("delete_message"), target, 0)
        assert (result.outcome, result.permission, result.error) == (
            "permanent",
            True,
            "50001 Missing Access",
        )


# ---------------------------------------------------------------------- timeouts


async def test_mute_patches_an_iso_instant_and_unmute_sends_null(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    until = int(time.time()) + 600
    mute = Step("mute", until=until, reason=REASON)

    result = await client.execute(mute, TARGET, time.time())

    assert (result.outcome, result.status) == ("done", 200)
    sent = last(fake)
    assert (sent.method, sent.path) == ("PATCH", f"/guilds/{GUILD}/members/{USER}")
    assert_headers(sent, reason=REASON)
    stamp = sent.body["communication_disabled_until"]
    assert set(sent.body) == {"communication_disabled_until"}
    assert stamp.endswith("+00:00")
    assert datetime.fromisoformat(stamp).timestamp() == until
    assert fake.timeout_until(GUILD, USER) == stamp
    assert_described(client, mute, result, fake)

    unmute = Step("unmute", reason="appeal granted")
    lifted = await client.execute(unmute, TARGET, time.time())
    assert (lifted.outcome, lifted.status) == ("done", 200)
    assert last(fake).body == {"communication_disabled_until": None}
    assert fake.timeout_until(GUILD, USER) is None
    assert_described(client, unmute, lifted, fake)


async def test_a_timeout_over_28_days_is_refused_with_the_field_error(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    until = int(time.time()) + 28 * 86400 + 3600
    result = await client_for(fake, http).execute(Step("mute", until=until), TARGET, 0)
    assert (result.outcome, result.status) == ("permanent", 400)
    assert result.error == (
        "50035 Invalid Form Body: communication_disabled_until: "
        "INVALID_COMMUNICATION_DISABLED_TIMESTAMP Invalid communication disabled timestamp"
    )
    assert fake.timeout_until(GUILD, USER) is None


@pytest.mark.parametrize(
    ("case", "bot_permissions"),
    [
        pytest.param("missing bit", MODERATOR & ~MODERATE_MEMBERS, id="no-MODERATE_MEMBERS"),
        pytest.param("above", MODERATOR, id="target-ranks-above-bot"),
        pytest.param("admin", MODERATOR, id="target-is-admin"),
        pytest.param("owner", MODERATOR, id="target-is-owner"),
    ],
)
async def test_timeouts_the_bot_may_not_give_are_permission_failures(
    http: httpx.AsyncClient, case: str, bot_permissions: int
) -> None:
    with make_fake(bot_permissions=bot_permissions) as fake:
        target = TARGET
        if case == "above":
            fake.add_member(GUILD, USER, HIGH_ROLE)
        elif case == "admin":
            fake.add_member(GUILD, USER, ADMIN_ROLE)
        elif case == "owner":
            target = Target("discord", GUILD, OWNER)
        until = int(time.time()) + 600
        result = await client_for(fake, http).execute(Step("mute", until=until), target, 0)
        assert (result.outcome, result.status, result.permission) == ("permanent", 403, True)
        assert result.error == "50013 Missing Permissions"
        assert fake.timeout_until(GUILD, target.user_id) is None


async def test_a_timeout_of_a_member_who_left_is_permanent(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    gone = Target("discord", GUILD, "777777")
    result = await client_for(fake, http).execute(
        Step("mute", until=int(time.time()) + 60), gone, 0
    )
    assert (result.outcome, result.status) == ("permanent", 404)
    assert result.error is not None and result.error.startswith("10007 Unknown Member")
    assert "left" in result.error


# ---------------------------------------------------------------------- kick, ban, unban


async def test_kick_is_204_then_already(fake: FakeDiscord, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    step = Step("kick", reason=REASON)

    result = await client.execute(step, TARGET, time.time())

    assert (result.outcome, result.status) == ("done", 204)
    sent = last(fake)
    assert (sent.method, sent.path, sent.body) == (
        "DELETE",
        f"/guilds/{GUILD}/members/{USER}",
        None,
    )
    assert_headers(sent, reason=REASON)
    assert not fake.is_member(GUILD, USER)
    assert_described(client, step, result, fake)

    again = await client.execute(step, TARGET, time.time())
    assert (again.outcome, again.status, again.error) == ("already", 404, "10007 Unknown Member")


async def test_kick_and_ban_are_refused_without_the_bit_or_above_the_bot(
    http: httpx.AsyncClient,
) -> None:
    with make_fake(bot_permissions=MODERATOR & ~KICK_MEMBERS) as fake:
        result = await client_for(fake, http).execute(Step("kick"), TARGET, 0)
        assert (result.outcome, result.permission) == ("permanent", True)
        assert fake.is_member(GUILD, USER)
    with make_fake() as fake:
        fake.add_member(GUILD, USER, HIGH_ROLE)
        result = await client_for(fake, http).execute(Step("ban"), TARGET, 0)
        assert (result.outcome, result.permission, result.error) == (
            "permanent",
            True,
            "50013 Missing Permissions",
        )
        assert not fake.is_banned(GUILD, USER)


async def test_ban_is_a_put_keeping_messages_and_unban_lifts_it(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    ban = Step("ban", until=int(time.time()) + 3600, reason=REASON)

    result = await client.execute(ban, TARGET, time.time())

    assert (result.outcome, result.status) == ("done", 204)
    sent = last(fake)
    assert (sent.method, sent.path) == ("PUT", f"/guilds/{GUILD}/bans/{USER}")
    assert sent.body == {"delete_message_seconds": 0}  # no expiry on Discord
    assert_headers(sent, reason=REASON)
    ban_state = fake.ban_of(GUILD, USER)
    assert ban_state is not None and ban_state.reason == REASON
    assert not fake.is_member(GUILD, USER)
    assert fake.has_message(CHANNEL, MSG)  # 0 s: none of the member's messages wiped
    assert_described(client, ban, result, fake)

    unban = Step("unban", reason="expired")
    lifted = await client.execute(unban, TARGET, time.time())
    assert (lifted.outcome, lifted.status) == ("done", 204)
    assert (last(fake).method, last(fake).path) == ("DELETE", f"/guilds/{GUILD}/bans/{USER}")
    assert not fake.is_banned(GUILD, USER)
    assert_described(client, unban, lifted, fake)

    again = await client.execute(unban, TARGET, time.time())
    assert (again.outcome, again.status, again.error) == ("already", 404, "10026 Unknown Ban")


async def test_the_fake_takes_delete_message_seconds_in_the_query_too(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    answer = await http.put(
        f"{fake.url}/guilds/{GUILD}/bans/{USER}?delete_message_seconds=86400",
        headers={"Authorization": f"Bot {TOKEN}"},
    )
    assert (answer.status_code, answer.content) == (204, b"")
    assert fake.is_banned(GUILD, USER)
    assert not fake.has_message(CHANNEL, MSG)  # discord.py's way wiped the last day


# ---------------------------------------------------------------------- transient answers


@pytest.mark.parametrize("scope", ["user", "shared", "global"])
async def test_429_is_transient_with_the_float_retry_after(
    http: httpx.AsyncClient, scope: str
) -> None:
    with make_fake(rate_limit_scope=scope) as fake:
        fake.inject("429", retry_after=0.25)
        result = await client_for(fake, http).execute(Step("delete_message"), TARGET, 0)
        assert (result.outcome, result.status, result.retry_after) == ("transient", 429, 0.25)
        assert result.error is not None and f"[scope {scope}]" in result.error
        assert ("global" in result.error.split("[")[0]) == (scope == "global")
        assert fake.has_message(CHANNEL, MSG)  # the limiter answered, nothing changed


async def test_429_without_json_backs_off_long(http: httpx.AsyncClient) -> None:
    with make_fake(rate_limit_scope="cloudflare") as fake:
        fake.inject("429", retry_after=0.25)
        result = await client_for(fake, http).execute(Step("kick"), TARGET, 0)
        assert result.outcome == "transient"
        assert result.retry_after is not None and result.retry_after >= 60


async def test_every_answer_advertises_the_rate_and_going_over_it_is_429(
    http: httpx.AsyncClient,
) -> None:
    with make_fake(chat_rate=3, chat_per=2.0) as fake:
        url = f"{fake.url}/channels/{CHANNEL}/messages/{MSG}"
        auth = {"Authorization": f"Bot {TOKEN}"}
        answers = [
            await http.delete(url, headers=auth),
            await http.delete(url, headers=auth),
            await http.delete(url, headers={"Authorization": "Bot wrong"}),
            await http.delete(url, headers=auth),
        ]
        assert [a.status_code for a in answers] == [204, 404, 401, 429]
        for answer in answers:
            for name in ("limit", "remaining", "reset", "reset-after", "bucket"):
                assert f"x-ratelimit-{name}" in answer.headers
            assert answer.headers["x-ratelimit-limit"] == "3"
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert answers[3].json() == {
            "message": "You are being rate limited.",
            "retry_after": 2.0,
            "global": False,
        }
        assert answers[3].headers["x-ratelimit-scope"] == "user"
        assert [b.chat for b in fake.breaches] == [GUILD]

        result = await client_for(fake, http).execute(Step("unban"), TARGET, 0)
        assert (result.outcome, result.retry_after) == ("transient", 2.0)


@pytest.mark.parametrize("status", [500, 502, 504, 524])
async def test_server_errors_are_transient_and_a_nonced_send_is_not_maybe_delivered(
    fake: FakeDiscord, http: httpx.AsyncClient, status: int
) -> None:
    client = client_for(fake, http)
    fake.inject("5xx", status=status, times=2)
    send = await client.execute(Step("notice_group", text="x", key="k"), TARGET, 0)
    kick = await client.execute(Step("kick"), TARGET, 0)
    for result in (send, kick):
        assert (result.outcome, result.status) == ("transient", status)
        assert result.maybe_delivered is False  # Discord drops the nonce's duplicate
        assert result.retry_after is None
    assert fake.is_member(GUILD, USER)


async def test_a_hang_is_a_transient_timeout(fake: FakeDiscord) -> None:
    fake.inject("hang", hang_s=2.0)
    async with httpx.AsyncClient(timeout=0.5) as http:
        started = time.monotonic()
        result = await client_for(fake, http).execute(
            Step("notice_group", text="x", key="k"), TARGET, 0
        )
    assert time.monotonic() - started < 1.5
    assert (result.outcome, result.status, result.maybe_delivered) == ("transient", None, False)
    assert result.error is not None and "Timeout" in result.error


async def test_nobody_listening_is_transient_and_undelivered(http: httpx.AsyncClient) -> None:
    with make_fake() as fake:
        url = fake.url
    result = await DiscordClient(http, url, TOKEN).execute(
        Step("notice_private", text="x", key="k"), TARGET, 0
    )
    assert (result.outcome, result.status, result.maybe_delivered) == ("transient", None, False)
    assert result.call == "POST /users/@me/channels"


# ---------------------------------------------------------------------- permanent answers


async def test_a_wrong_token_is_a_config_error(fake: FakeDiscord, http: httpx.AsyncClient) -> None:
    result = await client_for(fake, http, token="revoked").execute(Step("kick"), TARGET, 0)
    assert (result.outcome, result.status, result.config_error) == ("permanent", 401, True)
    assert result.error == "0 401: Unauthorized"
    assert fake.is_member(GUILD, USER)


async def test_the_fake_checks_content_type_and_allowed_mentions(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    auth = {"Authorization": f"Bot {TOKEN}"}
    url = f"{fake.url}/channels/{CHANNEL}/messages"
    plain = await http.post(url, headers={**auth, "Content-Type": "text/plain"}, content=b"hi")
    assert plain.status_code == 400
    assert plain.json()["code"] == 50035
    assert plain.json()["errors"]["_errors"][0]["code"] == "CONTENT_TYPE_INVALID"

    both = await http.post(
        url,
        headers=auth,
        json={"content": "x", "allowed_mentions": {"parse": ["users"], "users": [USER]}},
    )
    assert both.status_code == 400
    assert both.json()["code"] == 50035
    assert "allowed_mentions" in both.json()["errors"]
    assert len(fake.messages_in(CHANNEL)) == 1


async def test_a_long_reason_is_cut_to_512_encoded_characters(
    fake: FakeDiscord, http: httpx.AsyncClient
) -> None:
    reason = "é" * 300  # 6 characters each once URL-encoded
    await client_for(fake, http).execute(Step("kick", reason=reason), TARGET, 0)
    header = last(fake).headers["x-audit-log-reason"]
    assert len(header) <= 512
    assert fake.audit_log[-1].reason == "é" * (512 // 6)
