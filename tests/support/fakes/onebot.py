"""A fake OneBot v11 HTTP API (QQ groups) held to shared/platform-api/onebot-v11.md (its
section 6 checklist), in the dialect of one of the three real implementations.

The three disagree on almost everything but `status` + `retcode`, and an adapter that
works against one can misread another, so the fake speaks each one's literal envelopes:
- `gocq` (go-cqhttp): keys in alphabetical order (Go marshals maps sorted), failures with
  `retcode` 100 and the reason in `msg`; 401 without a token, 403 with a wrong one; an
  unknown action is HTTP 200 + `retcode` 404 `API_NOT_FOUND`.
- `napcat`: `{"status","retcode","data","message","wording","echo","stream"}`, a random
  `echo` when none was sent, exceptions as `retcode` 200 with their text, schema errors
  as `retcode` 400; 403 `token verify failed!` with a missing or wrong token; duration
  defaults to 0 (= unmute); kick and recall do not check the underlying result.
- `lagrange`: `{"status","retcode","data","echo"}` with no text at all, exceptions as
  `retcode` 200, unknown actions as `retcode` 404; mute and kick answer `ok` whatever
  happened; the token only as exactly `Bearer <token>`.
`unknown_action="http404"` answers unknown actions as the spec says (HTTP 404) instead.

State: groups with members and their roles (and the bot's own role per group), mutes with
their end on the fake's clock, kicked members with the reject flag (nothing undoes it, as
on the platform) and messages by id. Texts the sources do not give (go-cqhttp's protocol
error wording, NapCat's NTQQ answer to an out-of-range duration) are the fake's own and
marked so where they are produced.
"""

from __future__ import annotations

import itertools
import json
import random
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.responses import Response

from tests.support.fakes.server import Call, FakeClock, FakePlatform, json_response

Flavour = Literal["gocq", "napcat", "lagrange"]
Role = Literal["owner", "admin", "member"]
UnknownAction = Literal["flavour", "http404"]

SELF_ID = 10_000  # the bot's own QQ number
MUTE_LIMIT_S = 2_592_000  # MiraiGo refuses a mute of this many seconds or more
FIRST_MESSAGE_ID = 1_864_213_530  # sent messages get int32 ids counted up from here
INT32_MAX = 2**31 - 1

GROUP_ACTIONS = frozenset({"send_group_msg", "set_group_ban", "set_group_kick"})
# Lagrange discards the result of these calls and answers ok [LAGRANGE *Operation.cs].
_LAGRANGE_ALWAYS_OK = frozenset({"set_group_ban", "set_group_kick"})
# The default `duration` of set_group_ban when it is omitted: the spec's and go-cqhttp's
# 1800 s, NapCat's schema default 0, Lagrange's uint default 0 (OneBotSetGroupBan.cs).
_DEFAULT_DURATION: dict[str, int] = {"gocq": 1800, "napcat": 0, "lagrange": 0}


@dataclass
class FakeGroup:
    group_id: int
    bot_role: Role
    members: dict[int, Role] = field(default_factory=dict)
    muted_until: dict[int, float] = field(default_factory=dict)  # user -> the fake's clock
    kicked: dict[int, bool] = field(default_factory=dict)  # user -> reject_add_request
    bot_muted: bool = False  # QQ refuses the bot's sends in this group


@dataclass
class FakeMessage:
    message_id: int
    group_id: int | None  # None: a private message
    sender: int
    content: Any  # the `message` as sent: a segment list, a segment or a string
    to_user: int | None = None  # private messages: the recipient
    via_group: int | None = None  # private messages: go-cqhttp's temp-session group
    deleted: bool = False


class Refused(Exception):
    """An action the implementation refuses. `code`/`wording` are go-cqhttp's; `napcat` is
    NapCat's exception text, or None where NapCat does not check the underlying call and
    answers ok. `early`: refused before the platform call (bad parameters), so even
    Lagrange's always-ok actions fail."""

    def __init__(
        self,
        code: str,
        wording: str,
        napcat: str | None = None,
        *,
        napcat_retcode: int = 200,
        early: bool = False,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.wording = wording
        self.napcat = napcat
        self.napcat_retcode = napcat_retcode
        self.early = early


def _num(value: Any) -> int | None:
    """A parameter as a number: JSON numbers and numeric strings (forms, NapCat's string
    ids) both count, as every implementation parses them [SPEC]."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _empty(message: Any) -> bool:
    return message is None or message == "" or message == [] or message == {}


class FakeOneBot(FakePlatform):
    """One bot account behind a OneBot v11 HTTP API. Serves `{url}/{action}` (a trailing
    slash too) by POST with JSON or form bodies, and by GET with a query string."""

    def __init__(
        self,
        *,
        flavour: Flavour = "gocq",
        access_token: str | None = None,
        self_id: int = SELF_ID,
        unknown_action: UnknownAction = "flavour",
        missing_actions: Iterable[str] = (),
        chat_rate: int | None = None,
        chat_per: float = 1.0,
        clock: FakeClock | None = None,
    ) -> None:
        super().__init__(chat_rate=chat_rate, chat_per=chat_per, clock=clock)
        self.flavour: Flavour = flavour
        self.access_token = access_token
        self.self_id = self_id
        self.unknown_action: UnknownAction = unknown_action
        # Actions this deployment does not implement (an older or trimmed build).
        self.missing_actions = set(missing_actions)
        self.groups: dict[int, FakeGroup] = {}
        self.friends: set[int] = set()
        self.messages: dict[int, FakeMessage] = {}
        self._ids = itertools.count(FIRST_MESSAGE_ID)
        self._actions: dict[str, Callable[[dict[str, Any]], Any]] = {
            "send_group_msg": self._send_group_msg,
            "send_private_msg": self._send_private_msg,
            "delete_msg": self._delete_msg,
            "set_group_ban": self._set_group_ban,
            "set_group_kick": self._set_group_kick,
        }

    def __enter__(self) -> FakeOneBot:
        self.start()
        return self

    # ------------------------------------------------------------------ setting up

    def reset(self) -> None:
        """Forget every group, friend, message, call, fault and breach, so that one running
        server can serve many tests (starting and stopping one costs about 0.2 s)."""
        with self._lock:
            self.faults.clear()
        self.calls.clear()
        self.breaches.clear()
        self.groups.clear()
        self.friends.clear()
        self.messages.clear()
        self.missing_actions.clear()
        self.unknown_action = "flavour"
        self._ids = itertools.count(FIRST_MESSAGE_ID)

    def add_group(
        self, group_id: int | str, *, bot_role: Role = "admin", bot_muted: bool = False
    ) -> FakeGroup:
        group = FakeGroup(int(group_id), bot_role, bot_muted=bot_muted)
        group.members[self.self_id] = bot_role
        self.groups[group.group_id] = group
        return group

    def add_member(self, group_id: int | str, user_id: int | str, role: Role = "member") -> None:
        self.groups[int(group_id)].members[int(user_id)] = role

    def add_friend(self, user_id: int | str) -> None:
        self.friends.add(int(user_id))

    def add_message(
        self,
        group_id: int | str,
        user_id: int | str,
        text: str = "",
        message_id: int | None = None,
    ) -> int:
        """A message a member posted (the id the group-message event would have carried)."""
        mid = next(self._ids) if message_id is None else message_id
        content = [{"type": "text", "data": {"text": text}}]
        self.messages[mid] = FakeMessage(mid, int(group_id), int(user_id), content)
        return mid

    def set_muted(self, group_id: int | str, user_id: int | str, until: float) -> None:
        """A mute that stands already (set by a person in the QQ client)."""
        self.groups[int(group_id)].muted_until[int(user_id)] = until

    # ------------------------------------------------------------------ reading state

    def is_muted(self, group_id: int | str, user_id: int | str) -> float | None:
        """When the member's mute ends (the fake's clock), or None if not muted now."""
        group = self.groups.get(int(group_id))
        until = group.muted_until.get(int(user_id)) if group else None
        return until if until is not None and until > self.clock.now() else None

    def is_member(self, group_id: int | str, user_id: int | str) -> bool:
        group = self.groups.get(int(group_id))
        return group is not None and int(user_id) in group.members

    def is_kicked(self, group_id: int | str, user_id: int | str) -> bool:
        group = self.groups.get(int(group_id))
        return group is not None and int(user_id) in group.kicked

    def rejected(self, group_id: int | str, user_id: int | str) -> bool:
        """Whether later join requests of the member are refused (reject_add_request)."""
        group = self.groups.get(int(group_id))
        return group is not None and group.kicked.get(int(user_id), False)

    def is_deleted(self, message_id: int | str) -> bool:
        message = self.messages.get(int(message_id))
        return message is not None and message.deleted

    def sent(self) -> list[FakeMessage]:
        """The bot's own messages, in the order sent."""
        return [m for m in self.messages.values() if m.sender == self.self_id]

    # ------------------------------------------------------------------ the base's hooks

    def chat_of(self, call: Call) -> str | None:
        action = call.path.strip("/")
        params = _peek(call)
        if action in GROUP_ACTIONS:
            group_id = _num(params.get("group_id"))
            return str(group_id) if group_id is not None else None
        if action == "delete_msg":
            message = self.messages.get(_num(params.get("message_id")) or 0)
            if message is not None and message.group_id is not None:
                return str(message.group_id)
        return None

    def rate_limited(self, call: Call, retry_after: float) -> Response:
        # OneBot documents no rate limit and no 429 anywhere (the spec, go-cqhttp, NapCat,
        # Lagrange): go-cqhttp's optional limiter delays calls instead of failing them, and
        # QQ's own risk control shows up only as failed sends. Answering 429 would teach
        # the adapter a status no deployment sends; an overloaded or restarting
        # implementation answers 5xx, a transient the enforcer retries, so that is what an
        # over-rate (or an injected "429") call gets.
        return Response(status_code=503, content=b"")

    # ------------------------------------------------------------------ serving

    async def handle(self, call: Call) -> Response:
        action = call.path.strip("/")
        if self.flavour == "lagrange":
            # Lagrange checks the token before it reads anything [LAGRANGE HttpService.cs].
            denied = self._auth(call)
            if denied is not None:
                return denied
        params = self._params(call)
        if isinstance(params, Response):
            return params
        if self.flavour != "lagrange":
            # go-cqhttp and NapCat refuse a malformed body before the token check.
            denied = self._auth(call)
            if denied is not None:
                return denied
        handler = self._actions.get(action)
        if handler is None or action in self.missing_actions:
            return self._unknown(action, params)
        echo = self._echo(params)
        try:
            data = handler(params)
        except Refused as refusal:
            return self._refused(action, refusal, echo)
        return self._ok(data, echo)

    def _auth(self, call: Call) -> Response | None:
        token = self.access_token
        if not token:
            return None
        header = call.headers.get("authorization")
        query = call.query.get("access_token", "")
        if self.flavour == "gocq":
            # The part after the scheme, whatever the scheme; else the query string.
            if header:
                _, space, rest = header.partition(" ")
                given = rest if space else header
            else:
                given = query
            if given == token:
                return None
            return Response(status_code=401 if given == "" else 403, content=b"")
        if self.flavour == "napcat":
            given = query or (header.split("Bearer ")[-1] if header else "")
            if given == token:
                return None
            return Response(
                status_code=403,
                content=b'{"message":"token verify failed!"}',
                media_type="text/html",
            )
        if header == f"Bearer {token}":
            return None
        if header is None:
            return Response(status_code=401, content=b"", headers={"WWW-Authenticate": "Bearer"})
        return Response(status_code=403, content=b"")

    def _params(self, call: Call) -> dict[str, Any] | Response:
        """The action's parameters, read the way the flavour reads them."""
        query = {k: v for k, v in call.query.items() if k != "access_token"}
        if call.method == "GET":
            return query
        if call.method != "POST":
            if self.flavour == "gocq":
                return Response(status_code=404, content=b"")
            if self.flavour == "lagrange":
                return Response(status_code=405, content=b"")
        ctype = call.content_type.split(";")[0].strip().lower()
        body: Any = call.body
        if ctype == "application/x-www-form-urlencoded" and isinstance(body, dict):
            form: dict[str, Any] = body
        elif ctype == "application/json" and (
            self.flavour != "lagrange" or call.content_type == "application/json"
        ):
            if body is None:
                form = {}
            elif isinstance(body, bytes):
                return self._malformed()
            else:
                form = body if isinstance(body, dict) else {}
        elif self.flavour == "gocq":
            form = {}  # any other body is ignored; parameters come from the query only
        elif self.flavour == "napcat":
            # Every body that is not a form is parsed as JSON (JSON5, in fact).
            try:
                parsed = json.loads(body) if body else {}
            except (TypeError, ValueError):
                return self._malformed()
            form = parsed if isinstance(parsed, dict) else {}
        else:
            # Lagrange wants exactly `application/json` or a form; anything else is 406.
            return Response(status_code=406, content=b"")
        if self.flavour == "lagrange":
            return dict(form)  # a POST's query string is not read
        return {**form, **query}  # go-cqhttp and NapCat: the query string wins

    def _malformed(self) -> Response:
        if self.flavour == "napcat":
            return Response(status_code=400, content=b"Invalid JSON", media_type="text/html")
        # go-cqhttp: an empty 400. Lagrange's answer is not documented (the failure is only
        # logged); the fake gives the spec's 400.
        return Response(status_code=400, content=b"")

    def _unknown(self, action: str, params: dict[str, Any]) -> Response:
        if self.unknown_action == "http404":
            return Response(status_code=404, content=b"")
        if self.flavour == "gocq":
            return _gocq_failed("API_NOT_FOUND", "API不存在", retcode=404)
        if self.flavour == "napcat":
            return _napcat("failed", 200, None, f"不支持的Api {action}", self._echo(params))
        return _lagrange("failed", 404, None)

    def _echo(self, params: dict[str, Any]) -> Any:
        """NapCat echoes the caller's `echo`, or makes one up; the others send none here."""
        if self.flavour != "napcat":
            return None
        echo = params.get("echo")
        if echo is None:
            return "".join(random.choices(string.ascii_lowercase + string.digits, k=11))
        return echo

    def _ok(self, data: Any, echo: Any) -> Response:
        if self.flavour == "gocq":
            return json_response({"data": data, "message": "", "retcode": 0, "status": "ok"})
        if self.flavour == "napcat":
            return _napcat("ok", 0, data, "", echo)
        return _lagrange("ok", 0, data)

    def _refused(self, action: str, refusal: Refused, echo: Any) -> Response:
        if self.flavour == "gocq":
            return _gocq_failed(refusal.code, refusal.wording)
        if self.flavour == "napcat":
            if refusal.napcat is None:
                return self._ok(None, echo)
            if refusal.napcat_retcode == 400:
                echo = None  # the schema check answers before the echo is attached
            return _napcat("failed", refusal.napcat_retcode, None, refusal.napcat, echo)
        if action in _LAGRANGE_ALWAYS_OK and not refusal.early:
            return self._ok(None, echo)
        return _lagrange("failed", 200, None)

    # ------------------------------------------------------------------ the manage rule

    def _unmanageable(self, group: FakeGroup, user_id: int) -> Refused | None:
        """Why the bot may not mute, kick or recall `user_id` [MIRAI Manageable; NAPCAT
        SetGroupBan.ts]: a plain-member bot manages no one, nobody manages the owner, an
        admin only the owner may manage, and the bot never itself."""
        role = group.members.get(user_id, "member")
        bot = group.bot_role
        if role == "owner":
            napcat = "cannot ban owner"
        elif role == "admin" and bot != "owner":
            napcat = "cannot ban admin"
        elif bot == "member" or user_id == self.self_id:
            napcat = "ERR_NOT_GROUP_ADMIN"
        else:
            return None
        return Refused("NOT_MANAGEABLE", "机器人权限不足", napcat)

    # ------------------------------------------------------------------ actions

    def _ids_of(self, params: dict[str, Any], action: str) -> tuple[int, int]:
        if self.flavour == "napcat":
            for key in ("group_id", "user_id"):
                if key not in params:
                    raise Refused(
                        "",
                        "",
                        f"Key: {key}, Message: Expected required property",
                        napcat_retcode=400,
                        early=True,
                    )
        group_id = _num(params.get("group_id", 0))
        user_id = _num(params.get("user_id", 0))
        if user_id is None and self.flavour == "napcat":
            # The QQ number does not resolve to an NTQQ uid.
            text = "get Uid Error" if action == "set_group_kick" else "uid error"
            raise Refused("", "", text, early=True)
        if (group_id is None or user_id is None) and self.flavour == "lagrange":
            raise Refused("", "", early=True)  # the payload does not deserialise
        # go-cqhttp parses a non-number as 0, which names no group.
        return group_id or 0, user_id or 0

    def _set_group_ban(self, params: dict[str, Any]) -> None:
        group_id, user_id = self._ids_of(params, "set_group_ban")
        duration = _num(params.get("duration", _DEFAULT_DURATION[self.flavour])) or 0
        group = self.groups.get(group_id)
        if group is None or user_id not in group.members:
            # go-cqhttp answers GROUP_NOT_FOUND for a member not in the group too (the code
            # falls through to the same message).
            raise Refused("GROUP_NOT_FOUND", "群聊不存在", "user not in group")
        if duration >= MUTE_LIMIT_S or duration < 0:
            # NapCat passes the duration to NTQQ, whose answer is in no source: the text
            # here is the fake's stand-in, in NapCat's failure envelope.
            raise Refused("DURATION_IS_NOT_IN_RANGE", "非法的禁言时长", "DURATION_IS_NOT_IN_RANGE")
        refusal = self._unmanageable(group, user_id)
        if refusal is not None:
            raise refusal
        if duration == 0:
            group.muted_until.pop(user_id, None)
        else:
            group.muted_until[user_id] = self.clock.now() + duration

    def _set_group_kick(self, params: dict[str, Any]) -> None:
        group_id, user_id = self._ids_of(params, "set_group_kick")
        reject = _flag(params.get("reject_add_request", False))
        group = self.groups.get(group_id)
        # NapCat awaits NTQQ's kick without checking its result [NAPCAT SetGroupKick.ts],
        # so it answers ok when nothing happened (napcat=None).
        if group is None:
            raise Refused("GROUP_NOT_FOUND", "群聊不存在")
        if user_id not in group.members:
            raise Refused("MEMBER_NOT_FOUND", "人员不存在")
        refusal = self._unmanageable(group, user_id)
        if refusal is not None:
            raise Refused(refusal.code, refusal.wording)
        del group.members[user_id]
        group.muted_until.pop(user_id, None)
        # The flag is never cleared: no OneBot action lifts it.
        group.kicked[user_id] = group.kicked.get(user_id, False) or reject

    def _delete_msg(self, params: dict[str, Any]) -> None:
        if self.flavour == "napcat" and "message_id" not in params:
            raise Refused(
                "",
                "",
                "Key: message_id, Message: Expected required property",
                napcat_retcode=400,
                early=True,
            )
        message = self.messages.get(_num(params.get("message_id")) or 0)
        if message is None:
            raise Refused("MESSAGE_NOT_FOUND", "消息不存在", "Recall failed")
        if message.group_id is None:
            if message.sender != self.self_id:
                raise Refused("CANNOT_RECALL_FRIEND_MSG", "无法撤回对方消息", "Recall failed")
            message.deleted = True
            return
        group = self.groups.get(message.group_id)
        allowed = not message.deleted and group is not None
        if allowed and group is not None and message.sender != self.self_id:
            allowed = self._unmanageable(group, message.sender) is None
        if not allowed:
            # go-cqhttp passes QQ's refusal on in `wording` (the text is the fake's own);
            # NapCat does not check the recall's result.
            raise Refused("RECALL_API_ERROR", "recall refused by the server (fake)")
        message.deleted = True

    def _new_message(self, **fields: Any) -> dict[str, int]:
        mid = next(self._ids)
        if mid > INT32_MAX:  # pragma: no cover - would take two billion sends
            raise RuntimeError("message ids are int32")
        self.messages[mid] = FakeMessage(mid, sender=self.self_id, **fields)
        return {"message_id": mid}

    def _send_group_msg(self, params: dict[str, Any]) -> dict[str, int]:
        if self.flavour == "napcat" and "group_id" not in params:
            raise Refused(
                "",
                "",
                "Key: group_id, Message: Expected required property",
                napcat_retcode=400,
                early=True,
            )
        group = self.groups.get(_num(params.get("group_id")) or 0)
        message = params.get("message")
        # NapCat's texts for these refusals are not in the doc: stand-ins of the fake.
        if group is None:
            raise Refused("GROUP_NOT_FOUND", "群聊不存在", "group not found (fake)")
        if _empty(message):
            raise Refused("EMPTY_MSG_ERROR", "消息为空", "empty message (fake)")
        if group.bot_muted:
            raise Refused("SEND_MSG_API_ERROR", "请参考 go-cqhttp 端输出", "send refused (fake)")
        return self._new_message(group_id=group.group_id, content=message)

    def _send_private_msg(self, params: dict[str, Any]) -> dict[str, int]:
        user_id = _num(params.get("user_id")) or 0
        via = _num(params.get("group_id"))
        message = params.get("message")
        if _empty(message):
            raise Refused("EMPTY_MSG_ERROR", "消息为空", "empty message (fake)")
        group = self.groups.get(via) if via is not None else None
        # A temp session needs the bot to be admin or owner of the group [GOCQ-DOC].
        temp = group is not None and group.bot_role != "member" and user_id in group.members
        if user_id not in self.friends and not temp:
            raise Refused("SEND_MSG_API_ERROR", "请参考 go-cqhttp 端输出", "send refused (fake)")
        return self._new_message(group_id=None, content=message, to_user=user_id, via_group=via)


def _peek(call: Call) -> dict[str, Any]:
    """The call's parameters without the flavour's rules (for the rate monitor)."""
    params: dict[str, Any] = dict(call.query)
    if isinstance(call.body, dict):
        params.update(call.body)
    return params


def _gocq_failed(code: str, wording: str, retcode: int = 100) -> Response:
    return json_response(
        {
            "data": None,
            "message": wording,
            "msg": code,
            "retcode": retcode,
            "status": "failed",
            "wording": wording,
        }
    )


def _napcat(status: str, retcode: int, data: Any, message: str, echo: Any) -> Response:
    return json_response(
        {
            "status": status,
            "retcode": retcode,
            "data": data,
            "message": message,
            "wording": message,
            "echo": echo,
            "stream": "normal-action",
        }
    )


def _lagrange(status: str, retcode: int, data: Any) -> Response:
    # Over HTTP no echo reaches Lagrange's action object, so it is always null.
    return json_response({"status": status, "retcode": retcode, "data": data, "echo": None})
