"""Telegram Bot API: a step -> the documented call, the answer -> an outcome.

Held to shared/platform-api/telegram-bot-api.md. The traps this module exists for:
- `until_date` is an absolute Unix time, and one less than 30 s ahead makes a mute or a ban
  *permanent*, so a short sanction is sent at least 35 s ahead (latency included);
- basic groups (ids negative without the -100 prefix) have no `restrictChatMember` and no
  `unbanChatMember`: a mute there is unsupported and a kick is `banChatMember`;
- `text_mention` offsets count UTF-16 code units, not Python characters;
- a basic group upgraded to a supergroup answers every call with `migrate_to_chat_id`: the
  call is re-sent there once, and the result names the move so the group mapping can follow;
- the token is part of the URL path, so it is kept out of everything the result records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import httpx

from services.enforcement.calls import CallOutcome, CallResult, Step, Target

# Below 30 s ahead Telegram makes the sanction permanent; 5 s more covers the trip.
MIN_AHEAD_S = 35
# The text the mention entity covers: Target carries no display name, and a non-BMP mark
# keeps the UTF-16 arithmetic honest in every notice.
MENTION_MARK = "👤"

# The doc's mute example: every can_send_* flag, plus link previews, set false (fields left
# out count as false anyway, this keeps the intent readable in the record).
MUTED_PERMISSIONS: dict[str, bool] = dict.fromkeys(
    (
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
    ),
    False,
)
# Every ChatPermissions field of the schema granted: lifting a mute means "all true", and a
# field left out would count as false (servers ignore fields they do not know).
UNMUTED_PERMISSIONS: dict[str, bool] = {
    **dict.fromkeys(MUTED_PERMISSIONS, True),
    "can_react_to_messages": True,
    "can_edit_tag": True,
    "can_change_info": True,
    "can_invite_users": True,
    "can_pin_messages": True,
    "can_manage_topics": True,
}

_NUMERIC = re.compile(r"^-?\d+$")
_UPGRADED = "group chat was upgraded to a supergroup chat"
# 400 texts that mean the bot lacks a right, or the member outranks it: admins must act.
_PERMISSION_TEXTS = (
    "not enough rights",
    "have no rights",
    "CHAT_ADMIN_REQUIRED",
    "user is an administrator of the chat",
    "can't remove chat owner",
)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of MessageEntity offset and length."""
    return len(text.encode("utf-16-le")) // 2


def chat_ref(value: str) -> int | str:
    """Integers when numeric (the API's chat and user ids), `@username` as it is."""
    return int(value) if _NUMERIC.match(value) else value


def is_basic_group(chat_id: str) -> bool:
    """Basic groups have negative ids without the -100 prefix of supergroups and channels."""
    return (
        chat_id.startswith("-") and not chat_id.startswith("-100") and bool(_NUMERIC.match(chat_id))
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """The call a step maps to, or why there is none (`method` None)."""

    method: str | None
    body: dict[str, Any]
    outcome: CallOutcome = "unsupported"  # when there is no call
    note: str | None = None  # said in the result (no call, or a caveat of the call)

    @property
    def call(self) -> str:
        """As the record shows it; "none: <why>" when no call is made."""
        return f"POST /{self.method}" if self.method else f"none: {self.note}"


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None
    payload: Mapping[str, Any] | None
    headers: Mapping[str, str]
    error: str | None = None  # transport failure
    maybe_delivered: bool = False  # transport failure after the request went out


def _until(until: int, now: float) -> int:
    return max(until, math.ceil(now) + MIN_AHEAD_S)


def plan_step(step: Step, target: Target, now: float) -> _Plan:
    """The documented call of one step (pure: no I/O, no clock but `now`)."""
    chat = chat_ref(target.group_id)
    user = chat_ref(target.user_id)
    basic = is_basic_group(target.group_id)
    kind = step.kind
    if kind == "notice_group":
        return _Plan("sendMessage", _group_notice(chat, step, target))
    if kind == "notice_private":
        return _Plan("sendMessage", {"chat_id": user, "text": step.text})
    if kind == "delete_message":
        if target.message_id is None:
            return _Plan(None, {}, "permanent", "the decision names no message to delete")
        return _Plan("deleteMessage", {"chat_id": chat, "message_id": chat_ref(target.message_id)})
    if kind in ("mute", "unmute"):
        if basic:
            return _Plan(None, {}, note="restrictChatMember is available only for supergroups")
        body: dict[str, Any] = {"chat_id": chat, "user_id": user}
        if kind == "mute":
            body["permissions"] = dict(MUTED_PERMISSIONS)
            body["use_independent_chat_permissions"] = True
            if step.until is not None:
                body["until_date"] = _until(step.until, now)
        else:
            body["permissions"] = dict(UNMUTED_PERMISSIONS)
            body["use_independent_chat_permissions"] = True
        return _Plan("restrictChatMember", body)
    if kind == "kick":
        if basic:
            # Basic groups have no unban; a ban there removes the member (no expiry).
            return _Plan(
                "banChatMember", {"chat_id": chat, "user_id": user, "revoke_messages": False}
            )
        # Without only_if_banned the call removes a current member, who may rejoin.
        return _Plan("unbanChatMember", {"chat_id": chat, "user_id": user})
    if kind == "ban":
        body = {"chat_id": chat, "user_id": user}
        note = None
        if step.until is not None:
            body["until_date"] = _until(step.until, now)
            if basic:
                note = "basic group: until_date is ignored there, the ban has no end"
        body["revoke_messages"] = False
        return _Plan("banChatMember", body, note=note)
    if kind == "unban":
        if basic:
            return _Plan(
                None, {}, note="unbanChatMember is available for supergroup and channel chats only"
            )
        return _Plan("unbanChatMember", {"chat_id": chat, "user_id": user, "only_if_banned": True})
    return _Plan(None, {}, note=f"no Telegram call for {kind}")


def _group_notice(chat: int | str, step: Step, target: Target) -> dict[str, Any]:
    user = chat_ref(target.user_id)
    if isinstance(user, int):
        label = f"{MENTION_MARK}{user}"
        entity: dict[str, Any] = {
            "type": "text_mention",
            "offset": 0,
            "length": utf16_len(label),
            "user": {"id": user},
        }
    else:  # an @username: a plain mention entity
        label = user
        entity = {"type": "mention", "offset": 0, "length": utf16_len(label)}
    body: dict[str, Any] = {
        "chat_id": chat,
        "text": f"{label} {step.text}" if step.text else label,
        "entities": [entity],
    }
    if step.reply and target.message_id is not None:
        reply_to = chat_ref(target.message_id)
        if isinstance(reply_to, int):
            # A notice must not fail because the message was deleted first.
            body["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    return body


def _retry_after(payload: Mapping[str, Any], headers: Mapping[str, str]) -> float | None:
    parameters = payload.get("parameters")
    if isinstance(parameters, Mapping):
        value = parameters.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    header = headers.get("retry-after")
    if header is not None:
        try:
            return float(header)
        except ValueError:
            return None
    return None


def classify(
    kind: str,
    status: int | None,
    payload: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
) -> CallResult:
    """One answer -> an outcome, by HTTP status plus the description's prefix (the docs
    warn `error_code` may change; the server keeps it equal to the status). `call` and
    `params` are left empty for the caller to fill."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    body = payload or {}
    if status is not None and 200 <= status < 300 and body.get("ok") is True:
        return CallResult("done", "", status=status)
    description = body.get("description")
    text = description if isinstance(description, str) else f"HTTP {status}"
    if status is not None and 200 <= status < 300:
        # A success status without the envelope: the request arrived, the result is unknown.
        return CallResult(
            "transient", "", status=status, error=f"unreadable answer: {text}", maybe_delivered=True
        )
    if status == 429 or text.startswith("Too Many Requests"):
        return CallResult(
            "transient", "", status=status, error=text, retry_after=_retry_after(body, headers)
        )
    if status is not None and status >= 500:
        return CallResult("transient", "", status=status, error=text, maybe_delivered=True)
    if status == 401 or text.startswith("Unauthorized"):
        return CallResult("permanent", "", status=status, error=text, config_error=True)
    if status == 404 or text.startswith("Not Found"):
        return CallResult("permanent", "", status=status, error=text, config_error=True)
    if status == 403 or text.startswith("Forbidden"):
        if kind == "notice_private":
            # Never started, blocked, deactivated: the core falls back to a group notice.
            return CallResult("permanent", "", status=status, error=text, undeliverable=True)
        # Kicked from the chat or not a member: admins must re-add the bot.
        return CallResult("permanent", "", status=status, error=text, permission=True)
    reason = text.removeprefix("Bad Request: ")
    if reason.startswith("message to delete not found"):
        return CallResult("already", "", status=status, error=text)
    if any(reason.startswith(p) for p in _PERMISSION_TEXTS):
        return CallResult("permanent", "", status=status, error=text, permission=True)
    return CallResult("permanent", "", status=status, error=text)


def _migrate_to(answer: _Answer) -> int | None:
    if answer.status != 400 or answer.payload is None:
        return None
    parameters = answer.payload.get("parameters")
    if not isinstance(parameters, Mapping):
        return None
    new_id = parameters.get("migrate_to_chat_id")
    return new_id if isinstance(new_id, int) and not isinstance(new_id, bool) else None


class TelegramClient:
    """One bot: `{base_url}/bot{token}/{method}`, JSON bodies, no auth header."""

    platform: ClassVar[str] = "telegram"

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token

    def describe(self, step: Step, target: Target, now: float) -> tuple[str, dict[str, Any]]:
        """The call `execute` would make now; ("none: <why>", {}) when it makes none."""
        plan = plan_step(step, target, now)
        return plan.call, dict(plan.body)

    async def execute(self, step: Step, target: Target, now: float) -> CallResult:
        plan = plan_step(step, target, now)
        if plan.method is None:
            return CallResult(plan.outcome, plan.call, error=plan.note)
        answer = await self._send(plan)
        new_chat = _migrate_to(answer)
        if new_chat is None:
            return self._result(step, plan, answer)
        # Upgraded to a supergroup: the same step once more, planned for the new id (a
        # basic-group kick becomes the supergroup kick there, not a ban).
        first = self._result(step, plan, answer)
        moved = plan_step(step, replace(target, group_id=str(new_chat)), now)
        if moved.method is None:
            return replace(first, outcome=moved.outcome, error=f"{first.error}; {moved.note}")
        again = self._result(step, moved, await self._send(moved))
        said = f"{first.error} (migrate_to_chat_id {new_chat}): re-sent there"
        return replace(
            again,
            call=f"{plan.call}; {moved.call}",
            error=f"{said}; {again.error}" if again.error else said,
        )

    def _result(self, step: Step, plan: _Plan, answer: _Answer) -> CallResult:
        if answer.error is not None:
            return CallResult(
                "transient",
                plan.call,
                params=plan.body,
                error=answer.error,
                maybe_delivered=answer.maybe_delivered,
            )
        result = classify(step.kind, answer.status, answer.payload, answer.headers)
        error = result.error
        if result.outcome == "done" and plan.note:
            error = plan.note
        return replace(result, call=plan.call, params=plan.body, error=error)

    async def _send(self, plan: _Plan) -> _Answer:
        url = f"{self._base}/bot{self._token}/{plan.method}"
        try:
            response = await self._http.post(url, json=plan.body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the platform.
            return _Answer(None, None, {}, error=self._scrub(exc))
        except httpx.TransportError as exc:
            # Written, then no (complete) answer: the platform may have acted.
            return _Answer(None, None, {}, error=self._scrub(exc), maybe_delivered=True)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return _Answer(
            response.status_code,
            payload if isinstance(payload, Mapping) else None,
            dict(response.headers),
        )

    def _scrub(self, exc: Exception) -> str:
        text = f"{type(exc).__name__}: {exc}".replace(self._token, "<token>")
        return text if text.strip() != f"{type(exc).__name__}:" else type(exc).__name__
