"""A fake Slack Web API held to shared/platform-api/slack.md (its section 6 checklist).

Slack answers nearly everything with HTTP 200 and `{"ok": ...}`, tells bot tokens from
admins' user tokens, and has no mute, timeout or ban method at all. The fake keeps those
traits so an adapter that forgets them fails here: a JSON body with the token anywhere but
the bearer header is `not_authed`, a bot token deleting a member's message gets
`cant_delete_message`, and a made-up method gets `unknown_method`. Multipart bodies are not
served (the enforcer never sends them).
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.responses import Response

from tests.support.fakes.server import Call, FakeClock, FakePlatform, json_response

TokenKind = Literal["bot", "user"]

BOT_TOKEN = "xoxb-1111-2222-fakebot"
BOT_USER = "UBOT000001"
BOT_ID = "BBOT000001"
# What an enforcement app's bot asks for at install (slack.md section 5).
BOT_SCOPES = frozenset({"chat:write", "channels:manage", "groups:write", "im:write"})
MAX_TEXT = 40_000


@dataclass
class Token:
    token: str
    kind: TokenKind
    user: str  # who the token acts as (the bot user for a bot token)
    scopes: frozenset[str]
    admin: bool = False
    revoked: bool = False


@dataclass
class Message:
    ts: str
    user: str
    text: str = ""
    thread_ts: str | None = None
    bot_id: str | None = None


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    message_ts: str
    thread_ts: str | None = None


@dataclass
class Channel:
    id: str
    general: bool = False
    private: bool = False
    archived: bool = False
    read_only: bool = False
    im: bool = False
    members: set[str] = field(default_factory=set)
    messages: dict[str, Message] = field(default_factory=dict)


@dataclass
class Queued:
    """An answer given instead of the method's own; `applied`: the method ran first (a
    fatal_error after part of the work was done)."""

    error: str
    extra: dict[str, Any]
    applied: bool


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:g}"


class FakeSlack(FakePlatform):
    """A workspace with one app: its bot token (and any user tokens tests add), channels,
    members and messages. Serves `POST {url}/<method>` with `url` ending in /api."""

    prefix = "/api"

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        bot_user: str = BOT_USER,
        bot_id: str = BOT_ID,
        bot_scopes: frozenset[str] | set[str] = BOT_SCOPES,
        team_id: str = "T0FAKE0001",
        chat_rate: int | None = None,
        chat_per: float = 1.0,
        clock: FakeClock | None = None,
    ) -> None:
        super().__init__(chat_rate=chat_rate, chat_per=chat_per, clock=clock)
        self.bot_user = bot_user
        self.bot_id = bot_id
        self.bot_token = bot_token
        self.team_id = team_id
        self.tokens: dict[str, Token] = {}
        self.users: set[str] = {bot_user}
        self.channels: dict[str, Channel] = {}
        self.ephemerals: list[Ephemeral] = []
        # (method, channel or None for every channel) refused with restricted_action.
        self.restricted: set[tuple[str, str | None]] = set()
        # chat.delete refused with compliance_exports_prevent_deletion (2021 spec's error).
        self.compliance_exports = False
        # conversations.kick's success body: today's docs example; OpenAPI's is {"ok":true}.
        self.kick_success: dict[str, Any] = {"ok": True, "errors": {}}
        # Added to every successful answer when set (Slack's `warning`).
        self.warning: str | None = None
        self._queued: dict[str, deque[Queued]] = {}
        self._seq = itertools.count(1)
        self._user_seq = itertools.count(1)
        self.add_token(bot_token, "bot", bot_scopes)

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    # ------------------------------------------------------------------ setup for tests

    def add_token(
        self,
        token: str,
        kind: TokenKind,
        scopes: frozenset[str] | set[str] | tuple[str, ...] = (),
        admin: bool = False,
        user: str | None = None,
    ) -> Token:
        """A token the workspace accepts. A user token acts as `user` (a new member id
        when omitted); `admin`: a workspace admin, who may delete anyone's message."""
        if kind == "bot":
            acting = user or self.bot_user
        else:
            acting = user or f"UUSER{next(self._user_seq):05d}"
        self.users.add(acting)
        entry = Token(token, kind, acting, frozenset(scopes), admin)
        self.tokens[token] = entry
        return entry

    def revoke_token(self, token: str) -> None:
        self.tokens[token].revoked = True

    def add_user(self, user: str) -> None:
        self.users.add(user)

    def add_channel(
        self,
        id: str,
        general: bool = False,
        bot_member: bool = True,
        private: bool = False,
        archived: bool = False,
        read_only: bool = False,
    ) -> Channel:
        channel = Channel(id, general, private, archived, read_only)
        if bot_member:
            channel.members.add(self.bot_user)
        self.channels[id] = channel
        return channel

    def add_member(self, channel: str, user: str) -> None:
        self.users.add(user)
        self.channels[channel].members.add(user)

    def add_message(
        self, channel: str, ts: str, user: str, text: str = "", thread_ts: str | None = None
    ) -> Message:
        self.users.add(user)
        message = Message(ts, user, text, thread_ts, self.bot_id if user == self.bot_user else None)
        self.channels[channel].messages[ts] = message
        return message

    def archive(self, channel: str) -> None:
        self.channels[channel].archived = True

    def restrict(self, method: str, channel: str | None = None) -> None:
        """A workspace setting: `method` answers restricted_action (in `channel`, or all)."""
        self.restricted.add((method, channel))

    def queue_error(self, method: str, error: str, *, applied: bool = False, **extra: Any) -> None:
        """The next call of `method` answers `{"ok":false,"error":error, **extra}` (HTTP 200).
        With `applied` the method does its work first, as a fatal_error may have."""
        self._queued.setdefault(method, deque()).append(Queued(error, extra, applied))

    def queue_fatal_error(self, method: str, *, applied: bool = False) -> None:
        self.queue_error(method, "fatal_error", applied=applied)

    # ------------------------------------------------------------------ state for tests

    def has_message(self, channel: str, ts: str) -> bool:
        return ts in self.channels[channel].messages

    def is_member(self, channel: str, user: str) -> bool:
        return user in self.channels[channel].members

    def messages(self, channel: str) -> list[Message]:
        return list(self.channels[channel].messages.values())

    def bot_messages(self, channel: str) -> list[Message]:
        return [m for m in self.messages(channel) if m.user == self.bot_user]

    # ------------------------------------------------------------------ the base's hooks

    def chat_of(self, call: Call) -> str | None:
        args = call.body if isinstance(call.body, dict) else call.query
        channel = args.get("channel")
        return str(channel) if channel else None

    def rate_limited(self, call: Call, retry_after: float) -> Response:
        return json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": _fmt_seconds(retry_after)},
        )

    # ------------------------------------------------------------------ dispatch

    async def handle(self, call: Call) -> Response:
        method = call.path.strip("/")
        handler = self._methods().get(method)
        if handler is None:
            return self._fail("unknown_method")
        try:
            args, token, warnings = self._read(call)
            queued = self._next_queued(method)
            if queued is not None and not queued.applied:
                raise SlackError(queued.error, **queued.extra)
            answer = handler(args, token)
            if queued is not None:
                raise SlackError(queued.error, **queued.extra)
        except SlackError as err:
            return self._fail(err.error, **err.extra)
        if self.warning:
            warnings.append(self.warning)
        if warnings:
            answer["warning"] = ",".join(warnings)
            answer["response_metadata"] = {"warnings": warnings}
        return json_response(answer)

    def _methods(self) -> dict[str, Any]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "conversations.kick": self._kick,
            "conversations.open": self._open,
            "conversations.invite": self._invite,
        }

    def _next_queued(self, method: str) -> Queued | None:
        queue = self._queued.get(method)
        return queue.popleft() if queue else None

    @staticmethod
    def _fail(error: str, **extra: Any) -> Response:
        return json_response({"ok": False, "error": error, **extra})

    def _read(self, call: Call) -> tuple[dict[str, str], Token, list[str]]:
        """The arguments and the caller's token, by Slack's rules: a JSON body takes the
        token only from the bearer header; a form body also from its `token` field."""
        header = call.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        ctype = call.content_type.lower()
        warnings: list[str] = []
        args: dict[str, str] = dict(call.query)
        query_token = args.pop("token", None)
        if "application/json" in ctype:
            if not isinstance(call.body, dict):
                raise SlackError("invalid_json")
            if "charset" not in ctype:
                warnings.append("missing_charset")
            body = dict(call.body)
            body.pop("token", None)  # ignored: JSON needs the header
            args.update({k: _as_arg(v) for k, v in body.items()})
            given = bearer
        elif "application/x-www-form-urlencoded" in ctype or call.body is None:
            form = dict(call.body) if isinstance(call.body, dict) else {}
            form_token = form.pop("token", None)
            args.update(form)
            given = bearer or form_token or query_token
        else:
            raise SlackError("invalid_post_type")
        if not given:
            raise SlackError("not_authed")
        token = self.tokens.get(given)
        if token is None:
            raise SlackError("invalid_auth")
        if token.revoked:
            raise SlackError("token_revoked")
        return args, token, warnings

    # ------------------------------------------------------------------ checks

    def _channel(self, args: dict[str, str]) -> Channel:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    @staticmethod
    def _need(token: Token, *alternatives: str) -> None:
        if not token.scopes.intersection(alternatives):
            raise SlackError(
                "missing_scope",
                needed=",".join(alternatives),
                provided=",".join(sorted(token.scopes)),
            )

    def _check_restricted(self, method: str, channel: Channel) -> None:
        if (method, None) in self.restricted or (method, channel.id) in self.restricted:
            raise SlackError("restricted_action")

    def _new_ts(self) -> str:
        return f"{int(self.clock.now())}.{next(self._seq):06d}"

    # ------------------------------------------------------------------ methods

    def _auth_test(self, args: dict[str, str], token: Token) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team_id": self.team_id,
            "user_id": token.user,
        }
        if token.kind == "bot":
            answer["bot_id"] = self.bot_id
        return answer

    def _post_message(self, args: dict[str, str], token: Token) -> dict[str, Any]:
        self._need(token, "chat:write")
        channel = self._channel(args)
        text = args.get("text", "")
        if not (text or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if channel.archived:
            raise SlackError("is_archived")
        if token.user not in channel.members:
            raise SlackError("not_in_channel")
        if channel.read_only and not token.admin:
            raise SlackError("restricted_action_read_only_channel")
        self._check_restricted("chat.postMessage", channel)
        thread_ts = args.get("thread_ts") or None
        ts = self._new_ts()
        bot_id = self.bot_id if token.kind == "bot" else None
        channel.messages[ts] = Message(ts, token.user, text, thread_ts, bot_id)
        message: dict[str, Any] = {"type": "message", "text": text, "user": token.user, "ts": ts}
        if bot_id:
            message.update(subtype="bot_message", bot_id=bot_id)
        if thread_ts:
            message["thread_ts"] = thread_ts
        return {"ok": True, "channel": channel.id, "ts": ts, "message": message}

    def _post_ephemeral(self, args: dict[str, str], token: Token) -> dict[str, Any]:
        self._need(token, "chat:write")
        channel = self._channel(args)
        text = args.get("text", "")
        if not (text or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        if channel.archived:
            raise SlackError("is_archived")
        if token.user not in channel.members:
            raise SlackError("not_in_channel")
        recipient = args.get("user", "")
        if recipient not in self.users:
            raise SlackError("user_not_found")
        if recipient not in channel.members:
            raise SlackError("user_not_in_channel")
        self._check_restricted("chat.postEphemeral", channel)
        ts = self._new_ts()
        # Not stored in the channel: ephemeral messages are not persisted.
        self.ephemerals.append(
            Ephemeral(channel.id, recipient, text, ts, args.get("thread_ts") or None)
        )
        return {"ok": True, "message_ts": ts}

    def _delete(self, args: dict[str, str], token: Token) -> dict[str, Any]:
        self._need(token, "chat:write")
        channel = self._channel(args)
        if self.compliance_exports:
            raise SlackError("compliance_exports_prevent_deletion")
        ts = args.get("ts", "")
        message = channel.messages.get(ts)
        if message is None:
            raise SlackError("message_not_found")
        # A bot deletes only what it posted; a user what they could delete in the client.
        allowed = message.user == token.user or (token.kind == "user" and token.admin)
        if not allowed:
            raise SlackError("cant_delete_message")
        self._check_restricted("chat.delete", channel)
        del channel.messages[ts]
        return {"ok": True, "channel": channel.id, "ts": ts}

    def _kick(self, args: dict[str, str], token: Token) -> dict[str, Any]:
        user = args.get("user", "")
        if not user:
            raise SlackError("no_user")
        channel = self._channel(args)
        if channel.im:
            raise SlackError("method_not_supported_for_channel_type")
        if token.kind == "bot":
            self._need(token, "groups:write" if channel.private else "channels:manage")
        else:
            self._need(token, "groups:write" if channel.private else "channels:write")
        if user not in self.users:
            raise SlackError("user_not_found")
        if user == token.user:
            raise SlackError("cant_kick_self")
        if channel.general:
            raise SlackError("cant_kick_from_general")
        self._check_restricted("conversations.kick", channel)
        if user not in channel.members:
            raise SlackError("not_in_channel")
        channel.members.discard(user)
        return dict(self.kick_success)

    def _open(self, args: dict[str, str], token: Token) -> dict[str, Any]:
        self._need(token, "im:write")
        if args.get("channel"):
            return {"ok": True, "channel": {"id": self._channel(args).id}}
        users = [u for u in args.get("users", "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        for user in users:
            if user not in self.users:
                raise SlackError("user_not_found")
        dm_id = "D" + "".join(sorted(u.lstrip("U") for u in users))[:10].upper()
        if dm_id in self.channels:
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": dm_id}}
        dm = Channel(dm_id, private=True, im=True, members={token.user, *users})
        self.channels[dm_id] = dm
        return {"ok": True, "channel": {"id": dm_id}}

    def _invite(self, args: dict[str, str], token: Token) -> dict[str, Any]:
        users = [u for u in args.get("users", "").split(",") if u]
        if not users:
            raise SlackError("no_user")
        channel = self._channel(args)
        if channel.im:
            raise SlackError("method_not_supported_for_channel_type")
        if token.kind == "bot":
            if channel.private:
                self._need(token, "groups:write", "groups:write.invites")
            else:
                self._need(token, "channels:manage", "channels:write.invites")
        else:
            if channel.private:
                self._need(token, "groups:write", "groups:write.invites")
            else:
                self._need(token, "channels:write", "channels:write.invites")
        if channel.archived:
            raise SlackError("is_archived")
        if token.user not in channel.members:
            raise SlackError("not_in_channel")  # the caller, not the invitee
        for user in users:
            if user not in self.users:
                raise SlackError("user_not_found")
            if user == token.user:
                raise SlackError("cant_invite_self")
            if user in channel.members:
                raise SlackError("already_in_channel")
        channel.members.update(users)
        return {"ok": True, "channel": {"id": channel.id}}


def _as_arg(value: Any) -> str:
    """A JSON argument as Slack reads it: strings as they are, other values as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
