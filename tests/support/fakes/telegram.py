"""A fake Telegram Bot API server held to shared/platform-api/telegram-bot-api.md (its
section 6 checklist).

The traits an adapter gets wrong are kept: the token is part of the path and a wrong one is
401 `Unauthorized`; `until_date` is absolute and anything under 30 s or over 366 days ahead
is *forever*; restrictions and bans end on their own at `until_date` (by `self.clock`);
basic groups have no restrict or unban; a permission left out of `permissions` is false;
messages 48 h old cannot be deleted; a reply to a gone message fails unless
`allow_sending_without_reply`; a bot cannot write first to a user; an upgraded basic group
answers with `migrate_to_chat_id`. Errors are the wire texts of the server source, with the
HTTP status equal to `error_code`. Multipart bodies are not served (the enforcer sends JSON).
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.responses import Response

from tests.support.fakes.server import Call, FakeClock, FakePlatform, json_response

ChatType = Literal["group", "supergroup"]
Status = Literal["creator", "administrator", "member", "restricted", "kicked", "left"]

TOKEN = "7000000001:AAFakeTokenForTestsOnly_0123456789"
FOREVER_BELOW_S = 30
FOREVER_ABOVE_S = 366 * 86400
DELETE_WINDOW_S = 48 * 3600

ALL_PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
MEDIA_PERMISSIONS = (
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
)
# What an enforcement bot is given when it is made an admin (telegram-bot-api.md section 5).
BOT_RIGHTS: dict[str, bool] = {"can_delete_messages": True, "can_restrict_members": True}

_ROUTE = re.compile(r"^/bot([^/]*)/([^/]+)/?$")
_TOKEN_SHAPE = re.compile(r"^\d+:[\w-]+$")
_NUMERIC = re.compile(r"^-?\d+$")


@dataclass
class Member:
    user_id: int
    status: Status
    until_date: int = 0  # restricted / kicked: Unix seconds, 0 = forever
    permissions: dict[str, bool] | None = None  # restricted
    rights: dict[str, bool] = field(default_factory=dict)  # administrator
    is_member: bool = True  # restricted: still in the chat


@dataclass
class Message:
    message_id: int
    from_id: int
    date: float  # the fake's clock
    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_to: int | None = None


@dataclass
class Chat:
    chat_id: int
    type: ChatType
    title: str
    username: str | None
    default_permissions: dict[str, bool]
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    next_message_id: int = 1
    migrated_to: int | None = None


class TelegramError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad(description: str, **parameters: Any) -> TelegramError:
    return TelegramError(400, f"Bad Request: {description}", **parameters)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _NUMERIC.match(value.strip()):
        return int(value.strip())
    return None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return value is True or (isinstance(value, int) and value == 1)


def _obj(value: Any) -> Any:
    """Object-valued parameters: plain in a JSON body, JSON strings in a form or query."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def utf16_slice(text: str, offset: int, length: int) -> str:
    data = text.encode("utf-16-le")
    return data[2 * offset : 2 * (offset + length)].decode("utf-16-le", "replace")


class FakeTelegram(FakePlatform):
    """One bot (its id is the token's number) in the chats tests add. Serves
    `{url}/bot<token>/<method>`; pass `url` and `token` to the adapter."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        chat_rate: int | None = None,
        chat_per: float = 1.0,
        clock: FakeClock | None = None,
    ) -> None:
        super().__init__(chat_rate=chat_rate, chat_per=chat_per, clock=clock)
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, str] = {}  # user id -> first name
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.private: dict[int, list[Message]] = {}
        self._state = threading.RLock()
        self._private_seq = 1
        self._methods = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "deletemessage": self._delete_message,
            "restrictchatmember": self._restrict,
            "banchatmember": self._ban,
            "kickchatmember": self._ban,  # the server's alias
            "unbanchatmember": self._unban,
        }

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    # ------------------------------------------------------------------ setup for tests

    def add_chat(
        self,
        chat_id: int,
        type: ChatType = "supergroup",
        *,
        bot_rights: dict[str, bool] | None = None,
        bot_status: Status = "administrator",
        title: str = "Example",
        username: str | None = None,
        default_permissions: dict[str, bool] | None = None,
    ) -> Chat:
        """A chat the bot is in; by default an admin with delete and restrict rights."""
        with self._state:
            chat = Chat(
                chat_id,
                type,
                title,
                username.lstrip("@") if username else None,
                dict(default_permissions or dict.fromkeys(ALL_PERMISSIONS, True)),
            )
            rights = dict(BOT_RIGHTS if bot_rights is None else bot_rights)
            chat.members[self.bot_id] = Member(
                self.bot_id, bot_status, rights=rights if bot_status == "administrator" else {}
            )
            self.chats[chat_id] = chat
            return chat

    def add_member(
        self,
        chat_id: int,
        user_id: int,
        status: Status = "member",
        *,
        rights: dict[str, bool] | None = None,
        until_date: int = 0,
        permissions: dict[str, bool] | None = None,
        first_name: str = "Alex",
    ) -> Member:
        with self._state:
            member = Member(
                user_id,
                status,
                until_date=until_date,
                permissions=dict(permissions) if permissions is not None else None,
                rights=dict(rights or {}),
                is_member=status not in ("kicked", "left"),
            )
            self.chats[chat_id].members[user_id] = member
            self.users.setdefault(user_id, first_name)
            return member

    def add_message(
        self,
        chat_id: int,
        user_id: int,
        *,
        message_id: int | None = None,
        text: str = "hello",
        at: float | None = None,
    ) -> int:
        """A message a member posted at `at` (the fake's clock; default now)."""
        with self._state:
            chat = self.chats[chat_id]
            mid = message_id if message_id is not None else chat.next_message_id
            chat.next_message_id = max(chat.next_message_id, mid + 1)
            when = self.clock.now() if at is None else at
            chat.messages[mid] = Message(mid, user_id, when, text)
            return mid

    def started_bot(self, user_id: int, first_name: str = "Alex") -> None:
        """The user opened a private chat with the bot: it may now write to them."""
        with self._state:
            self.started.add(user_id)
            self.users.setdefault(user_id, first_name)

    def upgrade(self, chat_id: int, new_id: int) -> Chat:
        """The basic group becomes a supergroup: calls to the old id get migrate_to_chat_id."""
        with self._state:
            old = self.chats[chat_id]
            new = Chat(
                new_id,
                "supergroup",
                old.title,
                old.username,
                dict(old.default_permissions),
                members=copy.deepcopy(old.members),
            )
            old.migrated_to = new_id
            self.chats[new_id] = new
            return new

    # ------------------------------------------------------------------ state for tests

    def member(self, chat_id: int, user_id: int) -> Member | None:
        """The member as the platform holds them now (expired sanctions already lifted)."""
        with self._state:
            self._expire()
            found = self.chats[chat_id].members.get(user_id)
            return copy.deepcopy(found)

    def status(self, chat_id: int, user_id: int) -> Status | None:
        found = self.member(chat_id, user_id)
        return found.status if found else None

    def has_message(self, chat_id: int, message_id: int) -> bool:
        with self._state:
            return message_id in self.chats[chat_id].messages

    def sent(self, chat_id: int) -> list[Message]:
        """What the bot posted in a chat (or privately to a user id), oldest first."""
        with self._state:
            if chat_id in self.chats:
                chat = self.chats[chat_id]
                return [m for m in chat.messages.values() if m.from_id == self.bot_id]
            return list(self.private.get(chat_id, []))

    def mentions(self, message: Message) -> list[tuple[str, int]]:
        """(the text a text_mention covers, counted in UTF-16 as clients do; the user id)."""
        return [
            (utf16_slice(message.text, e["offset"], e["length"]), e["user"]["id"])
            for e in message.entities
            if e.get("type") == "text_mention"
        ]

    def requests(self, method: str) -> list[Call]:
        """The calls of one method, matched as the server does (case-insensitively)."""
        wanted = method.lower()
        return [c for c in self.calls if self._route(c)[1] == wanted]

    def params(self, call: Call) -> dict[str, Any]:
        """A call's parameters: query string and body merged, as the server reads them."""
        merged: dict[str, Any] = dict(call.query)
        if isinstance(call.body, dict):
            merged.update(call.body)
        return merged

    # ------------------------------------------------------------------ FakePlatform

    def chat_of(self, call: Call) -> str | None:
        ref = self.params(call).get("chat_id")
        if ref is None or ref == "":
            return None
        number = _int(ref)
        if number is not None and number > 0:
            return None  # a user id: a private chat
        return str(ref)

    def rate_limited(self, call: Call, retry_after: float) -> Response:
        seconds = max(1, math.ceil(retry_after))
        return self._error(
            TelegramError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds),
            headers={"Retry-After": str(seconds)},
        )

    def server_error(self, call: Call, status: int) -> Response:
        if status == 500:
            return self._error(TelegramError(500, "Internal Server Error: restart"))
        # A gateway in front of the server answers in its own words.
        return Response(
            content=f"<html><body><h1>{status} Bad Gateway</h1></body></html>".encode(),
            status_code=status,
            media_type="text/html",
        )

    async def handle(self, call: Call) -> Response:
        token, method = self._route(call)
        if method is None:
            return self._error(TelegramError(404, "Not Found"))
        if token != self.token:
            if token is None or not _TOKEN_SHAPE.match(token):
                return self._error(TelegramError(401, "Unauthorized: invalid token specified"))
            return self._error(TelegramError(401, "Unauthorized"))
        handler = self._methods.get(method)
        if handler is None:
            return self._error(TelegramError(404, "Not Found: method not found"))
        params = self.params(call)
        with self._state:
            self._expire()
            try:
                result = handler(params)
            except TelegramError as exc:
                return self._error(exc)
        return json_response({"ok": True, "result": result})

    # ------------------------------------------------------------------ the rules

    def _route(self, call: Call) -> tuple[str | None, str | None]:
        match = _ROUTE.match(call.path)
        if match is None:
            return None, None
        return match.group(1), match.group(2).lower()

    def _error(self, exc: TelegramError, headers: dict[str, str] | None = None) -> Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": exc.code,
            "description": exc.description,
        }
        if exc.parameters:
            body["parameters"] = exc.parameters
        return json_response(body, status=exc.code, headers=headers)

    def _expire(self) -> None:
        now = self.clock.now()
        for chat in self.chats.values():
            for member in chat.members.values():
                if member.until_date and member.until_date <= now:
                    if member.status == "restricted":
                        member.status = "member" if member.is_member else "left"
                        member.permissions = None
                        member.until_date = 0
                    elif member.status == "kicked":
                        member.status = "left"
                        member.until_date = 0

    def _until(self, raw: Any) -> int:
        """0, absent, under 30 s or over 366 days ahead: forever (0)."""
        until = _int(raw) or 0
        now = self.clock.now()
        if until <= 0 or until < now + FOREVER_BELOW_S or until > now + FOREVER_ABOVE_S:
            return 0
        return until

    def _chat(self, params: dict[str, Any]) -> Chat:
        ref = params.get("chat_id")
        if ref is None or ref == "":
            raise _bad("chat_id is empty")
        number = _int(ref)
        chat: Chat | None = None
        if number is not None:
            chat = self.chats.get(number)
        elif isinstance(ref, str) and ref.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username == ref[1:]), None)
        if chat is None:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise _bad(
                "group chat was upgraded to a supergroup chat", migrate_to_chat_id=chat.migrated_to
            )
        kind = "supergroup" if chat.type == "supergroup" else "group"
        bot = chat.members.get(self.bot_id)
        if bot is None or bot.status == "left":
            raise TelegramError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if bot.status == "kicked":
            raise TelegramError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return chat

    def _user_id(self, params: dict[str, Any]) -> int:
        user_id = _int(params.get("user_id"))
        if user_id is None or user_id <= 0:
            raise _bad("invalid user_id specified")
        return user_id

    def _bot_may(self, chat: Chat, right: str) -> bool:
        bot = chat.members[self.bot_id]
        if bot.status == "creator":
            return True
        if bot.status != "administrator":
            return False
        # Basic-group admins hold every right; supergroup admins what they were given.
        return chat.type == "group" or bot.rights.get(right, False)

    def _require_restrict(self, chat: Chat) -> None:
        if not self._bot_may(chat, "can_restrict_members"):
            raise _bad("not enough rights to restrict/unrestrict chat member")

    def _sanctionable(self, chat: Chat, user_id: int) -> Member | None:
        """The member a sanction may touch; owners, admins and the bot itself refused."""
        if user_id == self.bot_id:
            raise _bad("can't restrict self")
        member = chat.members.get(user_id)
        if member is not None and member.status == "creator":
            raise _bad("can't remove chat owner")
        if member is not None and member.status == "administrator":
            raise _bad("user is an administrator of the chat")
        return member

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "ModBot"}

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        message_id = _int(params.get("message_id"))
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad("message to delete not found")
        if self.clock.now() - message.date >= DELETE_WINDOW_S:
            raise _bad("message can't be deleted for everyone")
        if message.from_id != self.bot_id and not self._bot_may(chat, "can_delete_messages"):
            raise _bad("message can't be deleted")
        del chat.messages[message_id]
        return True

    def _restrict(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        if chat.type != "supergroup":
            raise _bad("method is available only for supergroups")
        user_id = self._user_id(params)
        asked = _obj(params.get("permissions"))
        if not isinstance(asked, dict):
            raise _bad("can't parse permissions JSON object")
        # Every flag starts false: a permission left out is taken away.
        granted = {name: _bool(asked.get(name, False)) for name in ALL_PERMISSIONS}
        if not _bool(params.get("use_independent_chat_permissions")):
            if granted["can_send_other_messages"] or granted["can_add_web_page_previews"]:
                granted.update(dict.fromkeys(MEDIA_PERMISSIONS, True))
            if granted["can_send_polls"]:
                granted["can_send_messages"] = True
        self._require_restrict(chat)
        member = self._sanctionable(chat, user_id)
        if member is None:
            if user_id not in self.users:
                raise _bad("user not found")
            member = chat.members[user_id] = Member(user_id, "left", is_member=False)
        lifted = all(granted[name] for name, on in chat.default_permissions.items() if on)
        if lifted:
            member.status = "member" if member.is_member else "left"
            member.permissions = None
            member.until_date = 0
        else:
            member.status = "restricted"
            member.permissions = granted
            member.until_date = self._until(params.get("until_date"))
        return True

    def _ban(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        user_id = self._user_id(params)
        self._require_restrict(chat)
        member = self._sanctionable(chat, user_id)
        if member is None:
            # Banning someone who is not in the chat is believed to succeed (doc section 7).
            member = chat.members[user_id] = Member(user_id, "left", is_member=False)
        member.status = "kicked"
        member.is_member = False
        member.permissions = None
        # until_date applies to supergroups and channels only.
        member.until_date = (
            self._until(params.get("until_date")) if chat.type == "supergroup" else 0
        )
        # revoke_messages is always true for supergroups.
        if _bool(params.get("revoke_messages")) or chat.type == "supergroup":
            for mid in [m.message_id for m in chat.messages.values() if m.from_id == user_id]:
                del chat.messages[mid]
        return True

    def _unban(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        if chat.type != "supergroup":
            raise _bad("method is available for supergroup and channel chats only")
        user_id = self._user_id(params)
        member = chat.members.get(user_id)
        if _bool(params.get("only_if_banned")) and (member is None or member.status != "kicked"):
            return True  # not banned: nothing happens
        self._require_restrict(chat)
        member = self._sanctionable(chat, user_id)
        if member is not None:
            # Not banned and not a member: may join again (a current member is removed).
            member.status = "left"
            member.is_member = False
            member.until_date = 0
            member.permissions = None
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = _int(params.get("chat_id"))
        if ref is not None and ref > 0 and ref not in self.chats:
            return self._send_private(ref, params)
        chat = self._chat(params)
        text = self._text(params)
        entities = self._entities(params)
        reply = _obj(params.get("reply_parameters"))
        if not isinstance(reply, dict):  # the pre-7.0 top-level fields
            reply = {
                "message_id": params.get("reply_to_message_id"),
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        reply_to = _int(reply.get("message_id"))
        if reply_to is not None and reply_to not in chat.messages:
            if not _bool(reply.get("allow_sending_without_reply")):
                raise _bad("message to be replied not found")
            reply_to = None
        mid = chat.next_message_id
        chat.next_message_id += 1
        message = Message(mid, self.bot_id, self.clock.now(), text, entities, reply_to)
        chat.messages[mid] = message
        shown = {"id": chat.chat_id, "title": chat.title, "type": chat.type}
        answer = self._message_json(message, shown)
        if reply_to is not None:
            original = chat.messages[reply_to]
            answer["reply_to_message"] = {
                "message_id": reply_to,
                "from": {
                    "id": original.from_id,
                    "is_bot": original.from_id == self.bot_id,
                    "first_name": self.users.get(original.from_id, "ModBot"),
                },
                "chat": shown,
                "date": int(original.date),
                "text": original.text,
            }
        return answer

    def _send_private(self, user_id: int, params: dict[str, Any]) -> dict[str, Any]:
        if user_id in self.deactivated:
            raise TelegramError(403, "Forbidden: user is deactivated")
        if user_id in self.blocked:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")
        if user_id not in self.started:
            raise TelegramError(403, "Forbidden: bot can't initiate conversation with a user")
        text = self._text(params)
        message = Message(
            self._private_seq, self.bot_id, self.clock.now(), text, self._entities(params)
        )
        self._private_seq += 1
        self.private.setdefault(user_id, []).append(message)
        name = self.users.get(user_id, "Alex")
        return self._message_json(message, {"id": user_id, "first_name": name, "type": "private"})

    def _text(self, params: dict[str, Any]) -> str:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("message text is empty")
        return text

    def _entities(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        raw = params.get("entities")
        if raw is None:
            return []
        entities = _obj(raw)
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise _bad("can't parse entities JSON object")
        return [dict(e) for e in entities]

    def _message_json(self, message: Message, chat: dict[str, Any]) -> dict[str, Any]:
        entities = []
        for entity in message.entities:
            shown = dict(entity)
            user = entity.get("user")
            if isinstance(user, dict) and "id" in user:
                uid = _int(user["id"]) or 0
                shown["user"] = {
                    "id": uid,
                    "is_bot": False,
                    "first_name": self.users.get(uid, "Alex"),
                }
            entities.append(shown)
        answer: dict[str, Any] = {
            "message_id": message.message_id,
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "ModBot"},
            "chat": chat,
            "date": int(message.date),
            "text": message.text,
        }
        if entities:
            answer["entities"] = entities
        return answer
