"""OneBot v11 (QQ groups): a step -> one HTTP action, the answer -> an outcome.

QQ bots run behind one of three OneBot implementations (go-cqhttp, NapCat, Lagrange),
and they agree only on the envelope's `status` and `retcode`; go-cqhttp puts a machine
code in `msg`, NapCat puts its exception text in `message`/`wording`, Lagrange gives no
text at all. So the classifier reads the codes and texts when they are there and falls
back to `retcode` when they are not. Every call is `POST {base}/{action}` with a JSON
body, never with the `_async` / `_rate_limited` suffixes: those answer `async` and lose
the outcome of a sanction. Reference: shared/platform-api/onebot-v11.md (the calls of its
section 2 and the table of its section 3).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from services.enforcement.calls import CallOutcome, CallResult, Step, Target

# go-cqhttp (through MiraiGo) refuses `duration >= 2592000` (30 days); the core caps a
# mute to this already, the adapter clamps again rather than send a call sure to fail.
MAX_MUTE_S = 2_591_999

UNBAN_CALL = "none: OneBot v11 has no call that lifts reject_add_request"
_WHY_NO_UNBAN = (
    "OneBot v11 has no action that clears reject_add_request: the group's admins must "
    "re-admit the member in the QQ client"
)

# go-cqhttp `msg` codes and NapCat texts, by what they mean for the enforcer (section 3).
_PERMISSION_CODES = frozenset({"NOT_MANAGEABLE"})
_PERMISSION_TEXTS = ("cannot ban owner", "cannot ban admin", "ERR_NOT_GROUP_ADMIN")
_PERMANENT_CODES = frozenset(
    {
        "GROUP_NOT_FOUND",
        "DURATION_IS_NOT_IN_RANGE",
        "MEMBER_NOT_FOUND",  # on a mute or a send; on a kick or ban it means "already gone"
        "EMPTY_MSG_ERROR",
        "CANNOT_RECALL_FRIEND_MSG",
    }
)
_PERMANENT_TEXTS = ("user not in group",)
_UNSUPPORTED_TEXT = "不支持的Api"  # NapCat's unknown action (HTTP 200, retcode 200)
# A longer error body (an HTML page from a proxy) is cut: the record needs the gist.
_MAX_ERROR_CHARS = 300


def onebot_id(value: str) -> int | str:
    """A QQ id as the spec types it (a number) when it is one, else the string as given:
    NapCat declares ids as strings and go-cqhttp parses strings, so both forms work, but a
    non-numeric id sent as a number would be silently turned into 0 by go-cqhttp."""
    if value.isascii() and value.isdigit():
        return int(value)
    return value


def mute_seconds(until: int | None, now: float) -> int:
    """`set_group_ban`'s duration: relative seconds, at least 1 (0 would lift the mute) and
    at most MAX_MUTE_S. A longer or endless mute is clamped and still sent: the platform
    cannot hold more, and the core (which caps to what the platform holds and renews at
    expiry) records that; sending a value go-cqhttp refuses would mute nobody."""
    if until is None:
        return MAX_MUTE_S
    return min(MAX_MUTE_S, max(1, math.ceil(until - now)))


class OneBotClient:
    """One QQ bot account behind a OneBot v11 HTTP API (go-cqhttp, NapCat or Lagrange).

    The caller owns `http` (and its timeouts). `access_token` is sent as
    `Authorization: Bearer`, the one form all three implementations accept.
    """

    platform: ClassVar[str] = "onebot"

    def __init__(self, http: httpx.AsyncClient, base_url: str, access_token: str | None) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = access_token

    # ------------------------------------------------------------------ mapping

    def describe(self, step: Step, target: Target, now: float) -> tuple[str, dict[str, Any]]:
        action, body = self._plan(step, target, now)
        if action is None:
            return UNBAN_CALL, {}
        return f"POST /{action}", body

    def _plan(self, step: Step, target: Target, now: float) -> tuple[str | None, dict[str, Any]]:
        group_id = onebot_id(target.group_id)
        user_id = onebot_id(target.user_id)
        kind = step.kind
        if kind == "notice_group":
            # Segment values are strings in the spec (message/segment.md).
            segments: list[dict[str, Any]] = []
            if step.reply and target.message_id:
                segments.append({"type": "reply", "data": {"id": target.message_id}})
            segments.append({"type": "at", "data": {"qq": target.user_id}})
            segments.append({"type": "text", "data": {"text": " " + step.text}})
            return "send_group_msg", {"group_id": group_id, "message": segments}
        if kind == "notice_private":
            body: dict[str, Any] = {"user_id": user_id}
            if target.group_id:
                # go-cqhttp's extension: a temporary session through the group, so that a
                # member who is not the bot's friend can be reached.
                body["group_id"] = group_id
            body["message"] = step.text
            # A string message is parsed as CQ code unless escaped: a quoted "[CQ:at,...]"
            # in the text must stay text.
            body["auto_escape"] = True
            return "send_private_msg", body
        if kind == "delete_message":
            return "delete_msg", {"message_id": onebot_id(target.message_id or "")}
        if kind == "mute":
            # Always explicit: NapCat's default is 0 (= unmute), the spec's 1800.
            return "set_group_ban", {
                "group_id": group_id,
                "user_id": user_id,
                "duration": mute_seconds(step.until, now),
            }
        if kind == "unmute":
            return "set_group_ban", {"group_id": group_id, "user_id": user_id, "duration": 0}
        if kind == "kick":
            return "set_group_kick", {
                "group_id": group_id,
                "user_id": user_id,
                "reject_add_request": False,
            }
        if kind == "ban":
            # No ban with an end exists: the expiry is the core's to record and act on.
            return "set_group_kick", {
                "group_id": group_id,
                "user_id": user_id,
                "reject_add_request": True,
            }
        return None, {}

    # ------------------------------------------------------------------ calling

    async def execute(self, step: Step, target: Target, now: float) -> CallResult:
        call, body = self.describe(step, target, now)
        if not call.startswith("POST /"):
            return CallResult("unsupported", call, error=_WHY_NO_UNBAN)
        action = call.removeprefix("POST /")
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            response = await self._http.post(f"{self._base}/{action}", json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the implementation (it may be restarting): safe to repeat.
            return CallResult("transient", call, body, error=_exc_text(exc))
        except httpx.TransportError as exc:
            # Written, then no answer (read timeout, dropped connection): it may have run.
            return CallResult("transient", call, body, error=_exc_text(exc), maybe_delivered=True)
        verdict = classify(step.kind, response.status_code, response.content)
        return CallResult(
            verdict.outcome,
            call,
            body,
            status=response.status_code,
            error=verdict.error,
            maybe_delivered=verdict.maybe_delivered,
            config_error=verdict.config_error,
            permission=verdict.permission,
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an answer means, before it is put together with the call that got it."""

    outcome: CallOutcome
    error: str | None = None
    maybe_delivered: bool = False
    config_error: bool = False
    permission: bool = False


def classify(kind: str, status: int, content: bytes) -> Verdict:
    """One answer of any of the three implementations -> what the enforcer does with it.

    The HTTP status decides first (the spec's 401/403/404/400/406, a proxy's or a
    restarting server's 5xx); then the envelope. Failures the reply cannot explain
    (go-cqhttp's *_API_ERROR codes, NapCat's unlisted exceptions, Lagrange's bare retcode
    200) are transient with `maybe_delivered`: the call may have half-run, and the caller
    bounds the retries of a sanction and never repeats a send.
    """
    if status in (401, 403):
        return Verdict("permanent", _http_error(status, content), config_error=True)
    if status == 404:
        return Verdict("unsupported", _http_error(status, content))
    if status == 429 or status >= 500:
        # OneBot documents no 429; a proxy in front may send one. A 5xx may come after the
        # implementation ran the action.
        return Verdict("transient", _http_error(status, content), maybe_delivered=status != 429)
    if status != 200:
        # 400 (malformed body), 406 (content type), any other refusal: our bug, for good.
        return Verdict("permanent", _http_error(status, content))
    envelope = _envelope(content)
    if envelope is None:
        return Verdict(
            "transient", _http_error(status, content, "not a OneBot answer"), maybe_delivered=True
        )
    state = envelope.get("status")
    retcode = _retcode(envelope.get("retcode"))
    if state == "async" or retcode == 1:
        # Only `_async` actions answer this, and they are never sent: the outcome is unknown.
        return Verdict("transient", "async: outcome unknown", maybe_delivered=True)
    if state == "ok" or (retcode == 0 and state != "failed"):
        return Verdict("done")
    msg = envelope.get("msg")
    code = msg if isinstance(msg, str) else ""
    text = _text(envelope)
    error = _envelope_error(code, text, retcode)
    if retcode == 404 or code == "API_NOT_FOUND" or _UNSUPPORTED_TEXT in text:
        return Verdict("unsupported", error)
    if code == "MEMBER_NOT_FOUND" and kind in ("kick", "ban"):
        return Verdict("already", error)
    if code == "MESSAGE_NOT_FOUND" and kind == "delete_message":
        # go-cqhttp's own message store does not know the id: gone, or never seen by it.
        return Verdict("already", error)
    if code in _PERMISSION_CODES or any(t in text for t in _PERMISSION_TEXTS):
        return Verdict("permanent", error, permission=True)
    if code in _PERMANENT_CODES or any(t in text for t in _PERMANENT_TEXTS):
        return Verdict("permanent", error)
    if retcode == 400:
        # NapCat's schema check over HTTP: the body is wrong, repeating it cannot help.
        return Verdict("permanent", error)
    # RECALL_API_ERROR, SEND_MSG_API_ERROR, API_ERROR, NapCat "未知错误，可能操作超时",
    # Lagrange's bare retcode 200, and anything not in the table.
    return Verdict("transient", error, maybe_delivered=True)


def _envelope(content: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if isinstance(data, dict) and ("status" in data or "retcode" in data):
        return data
    return None


def _retcode(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _text(envelope: dict[str, Any]) -> str:
    """go-cqhttp's `wording` (its `message` is the same), else NapCat's `message`; only the
    first line, as an exception text may carry a stack after it."""
    for key in ("wording", "message"):
        value = envelope.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().splitlines()[0][:_MAX_ERROR_CHARS]
    return ""


def _envelope_error(code: str, text: str, retcode: int | None) -> str:
    words = " ".join(part for part in (code, text if text != code else "") if part)
    where = f"retcode {retcode}" if retcode is not None else "status failed"
    return f"{words} ({where})" if words else where


def _http_error(status: int, content: bytes, note: str = "") -> str:
    """`HTTP 403 token verify failed!`: the status, then what the body says if anything."""
    said = note
    if not said and content:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            said = data["message"]
        else:
            said = content.decode("utf-8", "replace").strip()
    said = said.splitlines()[0][:_MAX_ERROR_CHARS] if said.strip() else ""
    return f"HTTP {status} {said}".rstrip()


def _exc_text(exc: Exception) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
