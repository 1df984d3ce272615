"""A fake Discord REST API (v10) held to ../platform-api/discord.md: the enforcement routes,
their exact statuses and error bodies, permission bits and the role hierarchy, timeouts
capped at 28 days, nonce de-duplication and X-RateLimit-* headers.

Only what the enforcer uses is modelled: guilds with roles, members and bans; guild and DM
channels with messages. Channel permission overwrites are reduced to one `deny` mask for
the bot per channel, which is enough to take VIEW_CHANNEL or SEND_MESSAGES away.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote

from starlette.responses import Response

from tests.support.fakes.server import Call, FakeClock, FakePlatform, json_response

# Permission bits [PERM].
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
MODERATE_MEMBERS = 1 << 40
ALL_PERMISSIONS = (1 << 51) - 1
# What a bot usually gets to moderate a guild.
MODERATOR = (
    KICK_MEMBERS
    | BAN_MEMBERS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | MANAGE_MESSAGES
    | READ_MESSAGE_HISTORY
    | MODERATE_MEMBERS
)

MAX_TIMEOUT_S = 28 * 86400  # communication_disabled_until at most 28 days ahead [GUILD]
MAX_DELETE_MESSAGE_S = 604800  # ban's delete_message_seconds [GUILD]
CONTENT_MAX = 2000
NONCE_MAX = 25

RateLimitScope = Literal["user", "shared", "global", "cloudflare"]


def _error(code: int, message: str) -> dict[str, Any]:
    return {"message": message, "code": code}


def _form_error(errors: dict[str, Any]) -> dict[str, Any]:
    """The documented 50035 layout: {"code", "errors": {field: {"_errors": [...]}}, "message"}."""
    return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}


def _field(name: str, code: str, message: str) -> dict[str, Any]:
    return {name: {"_errors": [{"code": code, "message": message}]}}


UNAUTHORIZED = _error(0, "401: Unauthorized")
UNKNOWN_CHANNEL = _error(10003, "Unknown Channel")
UNKNOWN_GUILD = _error(10004, "Unknown Guild")
UNKNOWN_MEMBER = _error(10007, "Unknown Member")
UNKNOWN_MESSAGE = _error(10008, "Unknown Message")
UNKNOWN_BAN = _error(10026, "Unknown Ban")
MISSING_ACCESS = _error(50001, "Missing Access")
DM_ACTION = _error(50003, "Cannot execute action on a DM channel")
EMPTY_MESSAGE = _error(50006, "Cannot send an empty message")
CANNOT_DM = _error(50007, "Cannot send messages to this user")
MISSING_PERMISSIONS = _error(50013, "Missing Permissions")
INVALID_JSON = _error(50109, "The request body contains invalid JSON.")
BAD_TIMEOUT = _form_error(
    _field(
        "communication_disabled_until",
        "INVALID_COMMUNICATION_DISABLED_TIMESTAMP",
        "Invalid communication disabled timestamp",
    )
)
REPLY_UNKNOWN = _form_error(
    _field("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
)
BAD_CONTENT_TYPE = _form_error(
    {
        "_errors": [
            {
                "code": "CONTENT_TYPE_INVALID",
                "message": 'Expected "Content-Type" header to be one of '
                "{'application/json', 'application/x-www-form-urlencoded', "
                "'multipart/form-data'}.",
            }
        ]
    }
)


class _Refusal(Exception):
    """An error answer, raised from deep in a route and turned into the response."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


# ---------------------------------------------------------------------- the model


@dataclass
class Role:
    id: str
    name: str
    position: int
    permissions: int


@dataclass
class Member:
    user_id: str
    username: str
    roles: list[str]
    joined_at: str
    communication_disabled_until: str | None = None


@dataclass
class Ban:
    user_id: str
    reason: str | None
    delete_message_seconds: int


@dataclass
class Guild:
    id: str
    owner_id: str
    roles: dict[str, Role] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    bans: dict[str, Ban] = field(default_factory=dict)


@dataclass
class Message:
    id: str
    channel_id: str
    author_id: str
    content: str
    at: float  # the fake's clock when it was posted
    type: int = 0  # 0 DEFAULT, 19 REPLY
    nonce: str | int | None = None
    reference: dict[str, Any] | None = None
    pinged: list[str] = field(default_factory=list)  # users the message notifies

    def object(self, users: Callable[[str], str], bot_id: str) -> dict[str, Any]:
        author: dict[str, Any] = {"id": self.author_id, "username": users(self.author_id)}
        if self.author_id == bot_id:
            author["bot"] = True
        out: dict[str, Any] = {
            "id": self.id,
            "channel_id": self.channel_id,
            "author": author,
            "content": self.content,
            "timestamp": datetime.fromtimestamp(self.at, tz=UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [{"id": u, "username": users(u)} for u in self.pinged],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": self.type,
        }
        if self.nonce is not None:
            out["nonce"] = self.nonce
        if self.reference is not None:
            out["message_reference"] = self.reference
        return out


@dataclass
class Channel:
    id: str
    guild_id: str | None  # None: a DM channel
    deny: int = 0  # permissions taken from the bot in this channel (a member overwrite)
    recipient: str | None = None  # DM channels: the other user
    messages: dict[str, Message] = field(default_factory=dict)


@dataclass
class AuditEntry:
    """One moderation call's X-Audit-Log-Reason, raw and decoded."""

    method: str
    path: str
    raw: str
    reason: str


# ---------------------------------------------------------------------- the fake


_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("messages", re.compile(r"^/channels/(?P<c>\d+)/messages$")),
    ("message", re.compile(r"^/channels/(?P<c>\d+)/messages/(?P<m>\d+)$")),
    ("dm", re.compile(r"^/users/@me/channels$")),
    ("member", re.compile(r"^/guilds/(?P<g>\d+)/members/(?P<u>\d+)$")),
    ("ban", re.compile(r"^/guilds/(?P<g>\d+)/bans/(?P<u>\d+)$")),
]
_METHODS: dict[str, set[str]] = {
    "messages": {"POST"},
    "message": {"GET", "DELETE"},
    "dm": {"POST"},
    "member": {"GET", "PATCH", "DELETE"},
    "ban": {"GET", "PUT", "DELETE"},
}
_MENTION = re.compile(r"<@!?(\d+)>")


class FakeDiscord(FakePlatform):
    """Fake Discord. `chat_rate` (per `chat_per` seconds and guild) is what every answer
    advertises in X-RateLimit-Limit; `rate_limit_scope` picks the 429 form that injected
    and over-rate 429s take ("cloudflare": the non-JSON ban page)."""

    prefix = "/api/v10"

    def __init__(
        self,
        *,
        token: str = "fake-discord-token",
        bot_id: str = "1100000000000000001",
        chat_rate: int | None = None,
        chat_per: float = 1.0,
        clock: FakeClock | None = None,
        rate_limit_scope: RateLimitScope = "user",
        nonce_window_s: float = 300.0,
    ) -> None:
        super().__init__(chat_rate=chat_rate, chat_per=chat_per, clock=clock)
        self.token = token
        self.bot_id = bot_id
        self.rate_limit_scope: RateLimitScope = rate_limit_scope
        self.nonce_window_s = nonce_window_s
        self.guilds: dict[str, Guild] = {}
        self.channels: dict[str, Channel] = {}
        self.dm_channels: dict[str, str] = {}  # recipient -> channel id
        self.closed_dms: set[str] = set()
        self.usernames: dict[str, str] = {bot_id: "modbot"}
        self.audit_log: list[AuditEntry] = []
        self._nonces: dict[tuple[str, str | int], tuple[str, float]] = {}  # -> message, at
        self._windows: dict[str, deque[float]] = {}
        self._next_id = 1300000000000000100

    def __enter__(self) -> FakeDiscord:
        self.start()
        return self

    # ------------------------------------------------------------------ setup for tests

    def add_guild(
        self,
        guild_id: str,
        *,
        owner: str,
        bot_permissions: int = MODERATOR,
        bot_role_position: int = 10,
        everyone_permissions: int = 0,
    ) -> Guild:
        """A guild with its @everyone role (id = guild id, position 0) and the bot as a
        member holding one role at `bot_role_position` with `bot_permissions`."""
        guild = Guild(guild_id, owner)
        guild.roles[guild_id] = Role(guild_id, "@everyone", 0, everyone_permissions)
        bot_role = f"{guild_id}9"
        guild.roles[bot_role] = Role(bot_role, "modbot", bot_role_position, bot_permissions)
        self.guilds[guild_id] = guild
        self.add_member(guild_id, self.bot_id, bot_role, username="modbot")
        if owner not in guild.members:
            self.add_member(guild_id, owner)
        return guild

    def add_role(
        self, guild_id: str, role_id: str, *, position: int, permissions: int = 0, name: str = ""
    ) -> Role:
        role = Role(role_id, name or f"role{role_id}", position, permissions)
        self.guilds[guild_id].roles[role_id] = role
        return role

    def add_member(
        self, guild_id: str, user_id: str, *role_ids: str, username: str | None = None
    ) -> Member:
        name = username or self.usernames.get(user_id) or f"user{user_id[-4:]}"
        self.usernames[user_id] = name
        joined = datetime.fromtimestamp(self.clock.now(), tz=UTC).isoformat()
        member = Member(user_id, name, list(role_ids), joined)
        self.guilds[guild_id].members[user_id] = member
        return member

    def add_channel(self, guild_id: str, channel_id: str, *, deny: int = 0) -> Channel:
        channel = Channel(channel_id, guild_id, deny=deny)
        self.channels[channel_id] = channel
        return channel

    def add_message(
        self, channel_id: str, message_id: str, author_id: str, content: str = "hi"
    ) -> Message:
        message = Message(message_id, channel_id, author_id, content, self.clock.now())
        self.channels[channel_id].messages[message_id] = message
        return message

    def close_dms(self, user_id: str) -> None:
        """The user accepts no DMs from the bot: sends to them answer 403 50007."""
        self.closed_dms.add(user_id)

    # ------------------------------------------------------------------ state for tests

    def timeout_until(self, guild_id: str, user_id: str) -> str | None:
        member = self.guilds[guild_id].members.get(user_id)
        return None if member is None else member.communication_disabled_until

    def is_banned(self, guild_id: str, user_id: str) -> bool:
        return user_id in self.guilds[guild_id].bans

    def ban_of(self, guild_id: str, user_id: str) -> Ban | None:
        return self.guilds[guild_id].bans.get(user_id)

    def is_member(self, guild_id: str, user_id: str) -> bool:
        return user_id in self.guilds[guild_id].members

    def has_message(self, channel_id: str, message_id: str) -> bool:
        return message_id in self.channels[channel_id].messages

    def messages_in(self, channel_id: str) -> list[Message]:
        return list(self.channels[channel_id].messages.values())

    def dm_messages(self, user_id: str) -> list[Message]:
        channel_id = self.dm_channels.get(user_id)
        return [] if channel_id is None else self.messages_in(channel_id)

    # ------------------------------------------------------------------ FakePlatform

    def chat_of(self, call: Call) -> str | None:
        parts = call.path.split("/")
        if len(parts) > 2 and parts[1] == "guilds":
            return parts[2]
        if len(parts) > 2 and parts[1] == "channels":
            channel = self.channels.get(parts[2])
            return None if channel is None else channel.guild_id
        return None

    def rate_limited(self, call: Call, retry_after: float) -> Response:
        scope = self.rate_limit_scope
        retry_header = {"Retry-After": str(max(1, math.ceil(retry_after)))}
        if scope == "cloudflare":
            # Not the API's limiter: no JSON, no Via, no X-RateLimit-* [RL; DPY request].
            return Response(
                content=b"<html><body>error code: 1015</body></html>",
                status_code=429,
                headers=retry_header,
                media_type="text/html",
            )
        message = (
            "The resource is being rate limited."
            if scope == "shared"
            else "You are being rate limited."
        )
        body = {"message": message, "retry_after": retry_after, "global": scope == "global"}
        headers = {**self._rate_headers(call, exhausted=retry_after), **retry_header}
        headers["X-RateLimit-Scope"] = scope
        if scope == "global":
            headers["X-RateLimit-Global"] = "true"
        return json_response(body, 429, headers)

    def server_error(self, call: Call, status: int) -> Response:
        headers = self._rate_headers(call)
        if status == 500:
            return json_response(_error(0, "500: Internal Server Error"), 500, headers)
        # 502 / 504 / 524 come from the gateway in front of the API: an HTML page.
        page = f"<html><body>{status} error</body></html>".encode()
        return Response(content=page, status_code=status, headers=headers, media_type="text/html")

    async def handle(self, call: Call) -> Response:
        try:
            status, body = self._route(call)
        except _Refusal as refusal:
            status, body = refusal.status, refusal.body
        headers = self._rate_headers(call)
        if status == 204:
            return Response(status_code=204, headers=headers)
        return json_response(body, status, headers)

    # ------------------------------------------------------------------ rate headers

    def _rate_headers(self, call: Call, *, exhausted: float | None = None) -> dict[str, str]:
        """X-RateLimit-* as Discord sends them on every API answer. The window is the rate
        monitor's (per guild for guild and channel routes, per route otherwise)."""
        limit = self.chat_rate if self.chat_rate is not None else 5
        route = next((name for name, rx in _ROUTES if rx.match(call.path)), call.path)
        bucket = hashlib.sha1(f"{call.method} {route}".encode()).hexdigest()[:32]
        key = call.chat if call.chat is not None else f"{bucket}:{call.path}"
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= call.at - self.chat_per:
            window.popleft()
        window.append(call.at)
        remaining = 0 if exhausted is not None else max(0, limit - len(window))
        reset_after = exhausted if exhausted is not None else window[0] + self.chat_per - call.at
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{call.at + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
            "Via": "1.1 google",
        }

    # ------------------------------------------------------------------ routing

    def _route(self, call: Call) -> tuple[int, Any]:
        if call.headers.get("authorization") != f"Bot {self.token}":
            raise _Refusal(401, UNAUTHORIZED)
        if isinstance(call.body, bytes | bytearray):
            # The base parses JSON and form bodies; raw bytes are a bad body or type.
            raise _Refusal(400, INVALID_JSON if "json" in call.content_type else BAD_CONTENT_TYPE)
        raw_reason = call.headers.get("x-audit-log-reason")
        if raw_reason is not None:
            self.audit_log.append(
                AuditEntry(call.method, call.path, raw_reason, unquote(raw_reason))
            )
        for name, rx in _ROUTES:
            found = rx.match(call.path)
            if found is None:
                continue
            if call.method not in _METHODS[name]:
                raise _Refusal(405, _error(0, "405: Method Not Allowed"))
            handler: Callable[..., tuple[int, Any]] = getattr(
                self, f"_{call.method.lower()}_{name}"
            )
            return handler(call, **found.groupdict())
        raise _Refusal(404, _error(0, "404: Not Found"))

    # ------------------------------------------------------------------ rights

    def _guild(self, guild_id: str) -> Guild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise _Refusal(404, UNKNOWN_GUILD)
        return guild

    def _permissions(self, guild: Guild, user_id: str) -> int:
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        perms = guild.roles[guild.id].permissions
        for role_id in member.roles if member else []:
            perms |= guild.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def _top(self, guild: Guild, user_id: str) -> int:
        member = guild.members.get(user_id)
        return max((guild.roles[r].position for r in member.roles), default=0) if member else 0

    def _require(self, guild: Guild, bits: int, deny: int = 0) -> None:
        perms = self._permissions(guild, self.bot_id)
        if perms != ALL_PERMISSIONS:
            perms &= ~deny
        if perms & bits != bits:
            raise _Refusal(403, MISSING_PERMISSIONS)

    def _outranks(self, guild: Guild, user_id: str) -> None:
        """The bot may act only on members whose highest role is below its own."""
        if self.bot_id == guild.owner_id:
            return
        if user_id == guild.owner_id or self._top(guild, user_id) >= self._top(guild, self.bot_id):
            raise _Refusal(403, MISSING_PERMISSIONS)

    def _channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise _Refusal(404, UNKNOWN_CHANNEL)
        if channel.guild_id is not None:
            guild = self._guild(channel.guild_id)
            perms = self._permissions(guild, self.bot_id)
            if perms != ALL_PERMISSIONS and (perms & ~channel.deny) & VIEW_CHANNEL == 0:
                raise _Refusal(403, MISSING_ACCESS)
        return channel

    def _body(self, call: Call) -> dict[str, Any]:
        if call.body is None:
            return {}
        if not isinstance(call.body, dict):
            raise _Refusal(
                400,
                _form_error(
                    {
                        "_errors": [
                            {
                                "code": "DICT_TYPE_CONVERT",
                                "message": "Only dictionaries may be used in a DictType",
                            }
                        ]
                    }
                ),
            )
        return call.body

    # ------------------------------------------------------------------ messages

    def _post_messages(self, call: Call, c: str) -> tuple[int, Any]:
        channel = self._channel(c)
        body = self._body(call)
        content = body.get("content", "")
        if not isinstance(content, str):
            raise _Refusal(
                400,
                _form_error(
                    _field(
                        "content", "STRING_TYPE_CONVERT", "Could not interpret the value as string."
                    )
                ),
            )
        if len(content) > CONTENT_MAX:
            raise _Refusal(
                400,
                _form_error(
                    _field("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
                ),
            )
        nonce = body.get("nonce")
        if nonce is not None and not (
            (isinstance(nonce, str) and len(nonce) <= NONCE_MAX) or type(nonce) is int
        ):
            raise _Refusal(
                400,
                _form_error(
                    _field("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                ),
            )
        pinged = self._pinged(body.get("allowed_mentions"), content)
        reference = body.get("message_reference")
        if channel.guild_id is not None:
            guild = self._guild(channel.guild_id)
            needed = SEND_MESSAGES | (READ_MESSAGE_HISTORY if reference else 0)
            self._require(guild, needed, channel.deny)
        elif channel.recipient in self.closed_dms:
            raise _Refusal(403, CANNOT_DM)
        if not content.strip():
            raise _Refusal(400, EMPTY_MESSAGE)
        kept_reference, replied = self._reference(channel, reference)
        allowed = body.get("allowed_mentions")
        # Without allowed_mentions a reply pings its author; with it, only replied_user does.
        ping_replied = allowed is None or bool(allowed.get("replied_user", False))
        if replied is not None and ping_replied and replied.author_id not in pinged:
            pinged.append(replied.author_id)
        if nonce is not None and body.get("enforce_nonce") is True:
            # Same author, same nonce within minutes: the first message, and no second.
            seen = self._nonces.get((self.bot_id, nonce))
            if seen is not None and call.at - seen[1] <= self.nonce_window_s:
                first = self._find_message(seen[0])
                if first is not None:
                    return 200, first.object(self._username, self.bot_id)
        message = Message(
            self._snowflake(),
            channel.id,
            self.bot_id,
            content,
            call.at,
            type=19 if kept_reference else 0,
            nonce=nonce,
            reference=kept_reference,
            pinged=pinged,
        )
        channel.messages[message.id] = message
        if nonce is not None:
            self._nonces[(self.bot_id, nonce)] = (message.id, call.at)
        return 200, message.object(self._username, self.bot_id)

    def _pinged(self, allowed: Any, content: str) -> list[str]:
        """Who the content notifies under `allowed_mentions` [MSG "Allowed Mentions"]."""
        named = list(dict.fromkeys(_MENTION.findall(content)))
        if allowed is None:
            return named
        if not isinstance(allowed, dict):
            raise _Refusal(
                400,
                _form_error(
                    _field(
                        "allowed_mentions",
                        "DICT_TYPE_CONVERT",
                        "Only dictionaries may be used in a DictType",
                    )
                ),
            )
        parse = allowed.get("parse", [])
        users = allowed.get("users", [])
        for kind in ("users", "roles"):
            if kind in parse and allowed.get(kind):
                raise _Refusal(
                    400,
                    _form_error(
                        _field(
                            "allowed_mentions",
                            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                            f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                        )
                    ),
                )
        if len(users) > 100:
            raise _Refusal(
                400,
                _form_error(
                    _field(
                        "allowed_mentions",
                        "BASE_TYPE_MAX_LENGTH",
                        "users: Must be 100 or fewer in length.",
                    )
                ),
            )
        if "users" in parse:
            return named
        return [u for u in named if u in {str(x) for x in users}]

    def _reference(
        self, channel: Channel, reference: Any
    ) -> tuple[dict[str, Any] | None, Message | None]:
        """The reference the new message keeps, and the message it replies to."""
        if reference is None:
            return None, None
        if not isinstance(reference, dict) or "message_id" not in reference:
            raise _Refusal(400, REPLY_UNKNOWN)
        target_channel = self.channels.get(str(reference.get("channel_id", channel.id)))
        replied = None
        if target_channel is not None:
            replied = target_channel.messages.get(str(reference["message_id"]))
        if replied is None:
            if reference.get("fail_if_not_exists", True):
                raise _Refusal(400, REPLY_UNKNOWN)
            return None, None  # sent as a plain message
        kept = {"type": 0, "message_id": replied.id, "channel_id": replied.channel_id}
        if channel.guild_id is not None:
            kept["guild_id"] = channel.guild_id
        return kept, replied

    def _get_message(self, call: Call, c: str, m: str) -> tuple[int, Any]:
        channel = self._channel(c)
        message = channel.messages.get(m)
        if message is None:
            raise _Refusal(404, UNKNOWN_MESSAGE)
        return 200, message.object(self._username, self.bot_id)

    def _delete_message(self, call: Call, c: str, m: str) -> tuple[int, Any]:
        channel = self._channel(c)
        message = channel.messages.get(m)
        if message is None:
            raise _Refusal(404, UNKNOWN_MESSAGE)
        if message.author_id != self.bot_id:
            if channel.guild_id is None:
                raise _Refusal(403, DM_ACTION)
            self._require(self._guild(channel.guild_id), MANAGE_MESSAGES, channel.deny)
        del channel.messages[m]
        return 204, None

    def _post_dm(self, call: Call) -> tuple[int, Any]:
        body = self._body(call)
        recipient = body.get("recipient_id")
        if recipient is None:
            raise _Refusal(
                400,
                _form_error(_field("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")),
            )
        recipient = str(recipient)
        if recipient == self.bot_id:
            raise _Refusal(400, CANNOT_DM)  # a bot opening a DM with itself [ISSUES]
        channel_id = self.dm_channels.get(recipient)
        if channel_id is None:
            channel_id = self._snowflake()
            self.channels[channel_id] = Channel(channel_id, None, recipient=recipient)
            self.dm_channels[recipient] = channel_id
        return 200, {
            "id": channel_id,
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [{"id": recipient, "username": self._username(recipient)}],
        }

    # ------------------------------------------------------------------ members

    def _member_object(self, member: Member) -> dict[str, Any]:
        return {
            "user": {"id": member.user_id, "username": member.username},
            "nick": None,
            "roles": list(member.roles),
            "joined_at": member.joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "communication_disabled_until": member.communication_disabled_until,
        }

    def _get_member(self, call: Call, g: str, u: str) -> tuple[int, Any]:
        member = self._guild(g).members.get(u)
        if member is None:
            raise _Refusal(404, UNKNOWN_MEMBER)
        return 200, self._member_object(member)

    def _patch_member(self, call: Call, g: str, u: str) -> tuple[int, Any]:
        guild = self._guild(g)
        body = self._body(call)
        member = guild.members.get(u)
        if member is None:
            raise _Refusal(404, UNKNOWN_MEMBER)
        if "communication_disabled_until" in body:
            value = body["communication_disabled_until"]
            until = None if value is None else self._timeout_instant(value, call.at)
            self._require(guild, MODERATE_MEMBERS)
            # Owners and administrators cannot be timed out [GUILD]; the hierarchy is
            # believed to hold too (section 5).
            if self._permissions(guild, u) & ADMINISTRATOR:
                raise _Refusal(403, MISSING_PERMISSIONS)
            self._outranks(guild, u)
            member.communication_disabled_until = until
        return 200, self._member_object(member)

    def _timeout_instant(self, value: Any, now: float) -> str:
        if not isinstance(value, str):
            raise _Refusal(400, BAD_TIMEOUT)
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise _Refusal(400, BAD_TIMEOUT) from None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        if instant.timestamp() > now + MAX_TIMEOUT_S:
            raise _Refusal(400, BAD_TIMEOUT)
        return instant.astimezone(UTC).isoformat()

    def _delete_member(self, call: Call, g: str, u: str) -> tuple[int, Any]:
        guild = self._guild(g)
        self._require(guild, KICK_MEMBERS)
        if u not in guild.members:
            raise _Refusal(404, UNKNOWN_MEMBER)
        self._outranks(guild, u)
        del guild.members[u]
        return 204, None

    # ------------------------------------------------------------------ bans

    def _get_ban(self, call: Call, g: str, u: str) -> tuple[int, Any]:
        ban = self._guild(g).bans.get(u)
        if ban is None:
            raise _Refusal(404, UNKNOWN_BAN)
        return 200, {"reason": ban.reason, "user": {"id": u, "username": self._username(u)}}

    def _put_ban(self, call: Call, g: str, u: str) -> tuple[int, Any]:
        guild = self._guild(g)
        body = self._body(call)
        seconds = self._delete_seconds(body, call.query)
        self._require(guild, BAN_MEMBERS)
        if u in guild.members:
            self._outranks(guild, u)
            del guild.members[u]
        raw = call.headers.get("x-audit-log-reason")
        guild.bans[u] = Ban(u, None if raw is None else unquote(raw), seconds)
        if seconds > 0:
            for channel in self.channels.values():
                if channel.guild_id != g:
                    continue
                for mid, message in list(channel.messages.items()):
                    if message.author_id == u and message.at >= call.at - seconds:
                        del channel.messages[mid]
        return 204, None

    def _delete_seconds(self, body: dict[str, Any], query: dict[str, str]) -> int:
        """delete_message_seconds from the JSON body (the docs) or the query (discord.py),
        or the deprecated delete_message_days."""
        for name, unit, top in (
            ("delete_message_seconds", 1, MAX_DELETE_MESSAGE_S),
            ("delete_message_days", 86400, 7),
        ):
            value = body.get(name, query.get(name))
            if value is None:
                continue
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise _Refusal(
                    400,
                    _form_error(_field(name, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')),
                ) from None
            if not 0 <= number <= top:
                raise _Refusal(
                    400,
                    _form_error(
                        _field(
                            name,
                            "NUMBER_TYPE_MAX",
                            f"int value should be less than or equal to {top}.",
                        )
                    ),
                )
            return number * unit
        return 0

    def _delete_ban(self, call: Call, g: str, u: str) -> tuple[int, Any]:
        guild = self._guild(g)
        self._require(guild, BAN_MEMBERS)
        if u not in guild.bans:
            raise _Refusal(404, UNKNOWN_BAN)
        del guild.bans[u]
        return 204, None

    # ------------------------------------------------------------------ helpers

    def _find_message(self, message_id: str) -> Message | None:
        for channel in self.channels.values():
            if message_id in channel.messages:
                return channel.messages[message_id]
        return None

    def _username(self, user_id: str) -> str:
        return self.usernames.get(user_id, f"user{user_id[-4:]}")

    def _snowflake(self) -> str:
        self._next_id += 1
        return str(self._next_id)
