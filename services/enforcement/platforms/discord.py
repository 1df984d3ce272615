"""Discord HTTP API v10: a step -> the documented REST call(s), the answer -> an outcome.

Discord's error `message` texts differ between its docs and the live API, so every decision
here switches on the JSON `code` (and the HTTP status), never on the text. Sends carry a
`nonce` with `enforce_nonce`, which makes Discord drop a repeat within a few minutes: a
send whose answer was lost can therefore be retried without posting twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from services.enforcement.calls import SEND_STEPS, CallOutcome, CallResult, Step, Target

USER_AGENT = "DiscordBot (https://github.com/modstream/modstream, 0.1.0)"
CONTENT_MAX = 2000  # characters of a message's content
NONCE_MAX = 25  # characters of a message nonce
REASON_MAX = 512  # characters of the URL-encoded X-Audit-Log-Reason
# A 429 without a JSON body is most likely a Cloudflare ban of the IP, not an API limit:
# wait long rather than add to the invalid-request count.
CLOUDFLARE_BACKOFF_S = 60.0
DM_PLACEHOLDER = "{dm.id}"  # the DM channel's id, known only after the first call

# Codes that mean "the wanted state holds already", per step.
_ALREADY: dict[str, frozenset[int]] = {
    "delete_message": frozenset({10008}),  # Unknown Message
    "kick": frozenset({10007}),  # Unknown Member
    "unban": frozenset({10026}),  # Unknown Ban
}
_PERMISSION_CODES = frozenset({50013, 50001})  # Missing Permissions / Missing Access
_CANNOT_DM = 50007
_UNKNOWN_MEMBER = 10007


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str  # relative to the base URL, ids in place
    body: dict[str, Any] | None = None
    reason: str = ""  # X-Audit-Log-Reason (moderation calls only)

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a step asks of Discord. `refusal` set: nothing is sent (the step cannot be
    expressed); `requests` otherwise, in order."""

    requests: tuple[_Request, ...] = ()
    refusal: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # what describe/CallResult show
    call: str = ""


def audit_reason(reason: str) -> str:
    """URL-encode the reason like discord.py (`/` and space kept) and cut it to the header's
    512 characters without splitting a %XX escape."""
    out: list[str] = []
    size = 0
    for ch in reason:
        enc = quote(ch, safe="/ ")
        if size + len(enc) > REASON_MAX:
            break
        out.append(enc)
        size += len(enc)
    return "".join(out)


def iso_until(until: int | float) -> str:
    """Discord wants an absolute instant; discord.py's `isoformat()` of an aware datetime
    gives the `+00:00` form, which is the one known to be accepted."""
    return datetime.fromtimestamp(until, tz=UTC).isoformat()


def nonce_for(step: Step, target: Target) -> str:
    """A stable nonce of at most 25 characters, so a repeated send of the same step is
    dropped by Discord. Without a step key, the target and text stand in (never a constant,
    which would make Discord drop different notices as duplicates)."""
    where = (target.group_id, target.channel_id or "", target.user_id, target.message_id or "")
    seed = step.key or "|".join((*where, step.text))
    return hashlib.sha256(f"{step.kind}|{seed}".encode()).hexdigest()[:NONCE_MAX]


def _clip(text: str) -> str:
    if len(text) <= CONTENT_MAX:
        return text
    return text[: CONTENT_MAX - 1] + "…"


def _plan(step: Step, target: Target) -> _Plan:
    g, u = target.group_id, target.user_id
    member = f"/guilds/{g}/members/{u}"
    kind = step.kind
    if kind == "notice_group":
        body: dict[str, Any] = {
            "content": _clip(f"<@{u}> {step.text}"),
            # Only the violator is pinged, whatever the text holds; `parse` is left out:
            # naming users in both is a validation error.
            "allowed_mentions": {"users": [u], "replied_user": False},
        }
        if step.reply and target.message_id:
            body["message_reference"] = {
                "message_id": target.message_id,
                "fail_if_not_exists": False,  # a deleted message must not fail the notice
            }
        body["nonce"] = nonce_for(step, target)
        body["enforce_nonce"] = True
        if not target.channel_id:
            line = "POST /channels/{channel.id}/messages"
            return _Plan(refusal="no channel to post in", params=body, call=line)
        req = _Request("POST", f"/channels/{target.channel_id}/messages", body)
        return _Plan((req,), params=body, call=req.line)
    if kind == "notice_private":
        body = {
            "content": _clip(step.text),
            "nonce": nonce_for(step, target),
            "enforce_nonce": True,
        }
        open_dm = _Request("POST", "/users/@me/channels", {"recipient_id": u})
        send = _Request("POST", f"/channels/{DM_PLACEHOLDER}/messages", body)
        return _Plan((open_dm, send), params=body, call=f"{open_dm.line}; {send.line}")
    if kind == "delete_message":
        line = f"DELETE /channels/{target.channel_id}/messages/{target.message_id}"
        if not target.channel_id or not target.message_id:
            return _Plan(refusal="no channel or message id to delete", call=line)
        req = _Request("DELETE", line.split(" ", 1)[1], None, step.reason)
        return _Plan((req,), call=req.line)
    if kind in ("mute", "unmute"):
        if kind == "mute" and step.until is None:
            return _Plan(refusal="a Discord timeout needs an end (until)", call=f"PATCH {member}")
        until = iso_until(step.until) if kind == "mute" and step.until is not None else None
        body = {"communication_disabled_until": until}
        req = _Request("PATCH", member, body, step.reason)
        return _Plan((req,), params=body, call=req.line)
    if kind == "kick":
        req = _Request("DELETE", member, None, step.reason)
        return _Plan((req,), call=req.line)
    if kind == "ban":
        # Sent explicitly: discord.py's default would wipe a day of the member's messages.
        body = {"delete_message_seconds": 0}
        req = _Request("PUT", f"/guilds/{g}/bans/{u}", body, step.reason)
        return _Plan((req,), params=body, call=req.line)
    if kind == "unban":
        req = _Request("DELETE", f"/guilds/{g}/bans/{u}", None, step.reason)
        return _Plan((req,), call=req.line)
    return _Plan(refusal=f"no Discord call for {kind!r}", call="")


def _json_body(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object of an answer; None when it is not JSON (Cloudflare, gateway)."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        data = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _field_errors(errors: Any, path: str = "") -> list[str]:
    """Flatten Discord's nested form errors into "field.path: CODE message" items."""
    out: list[str] = []
    if not isinstance(errors, dict):
        return out
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    code, message = item.get("code", ""), item.get("message", "")
                    out.append(f"{path or '(body)'}: {code} {message}".rstrip())
        else:
            out.extend(_field_errors(value, f"{path}.{key}" if path else str(key)))
    return out


def _error_text(response: httpx.Response, data: dict[str, Any] | None) -> str:
    if data is None:
        return f"{response.status_code} {response.reason_phrase}".rstrip()
    code = data.get("code", response.status_code)
    text = f"{code} {data.get('message', response.reason_phrase)}".rstrip()
    fields = _field_errors(data.get("errors"))
    if fields:
        text += ": " + "; ".join(fields)
    return text


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class DiscordClient:
    """One Discord bot: `base_url` like "https://discord.com/api/v10" (always versioned:
    an unversioned URL reaches an old default version)."""

    platform: ClassVar[str] = "discord"

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token

    # ------------------------------------------------------------------ the mapping

    def describe(self, step: Step, target: Target, now: float) -> tuple[str, dict[str, Any]]:
        plan = _plan(step, target)
        return plan.call, dict(plan.params)

    # ------------------------------------------------------------------ the calls

    async def execute(self, step: Step, target: Target, now: float) -> CallResult:
        plan = _plan(step, target)
        if plan.refusal is not None:
            outcome: CallOutcome = "unsupported" if not plan.call else "permanent"
            return CallResult(outcome, plan.call, plan.params, error=plan.refusal)
        if step.kind == "notice_private":
            return await self._notice_private(step, plan)
        (req,) = plan.requests
        result, _ = await self._one(step, req, plan.call, plan.params)
        return result

    async def _notice_private(self, step: Step, plan: _Plan) -> CallResult:
        open_dm, send = plan.requests
        first, dm = await self._one(step, open_dm, open_dm.line, plan.params, sends=False)
        if first.outcome != "done":
            return first
        dm_id = str(dm.get("id") or "")
        if not dm_id:
            return CallResult(
                "permanent",
                open_dm.line,
                plan.params,
                status=first.status,
                error="the DM channel answer has no id",
            )
        send = _Request(send.method, send.path.replace(DM_PLACEHOLDER, dm_id), send.body)
        result, _ = await self._one(step, send, f"{open_dm.line}; {send.line}", plan.params)
        return result

    def _headers(self, req: _Request) -> dict[str, str]:
        headers = {"Authorization": f"Bot {self._token}", "User-Agent": USER_AGENT}
        if req.body is not None:
            headers["Content-Type"] = "application/json"
        reason = audit_reason(req.reason) if req.reason else ""
        if reason:
            headers["X-Audit-Log-Reason"] = reason
        return headers

    async def _one(
        self,
        step: Step,
        req: _Request,
        call: str,
        params: dict[str, Any],
        *,
        sends: bool | None = None,
    ) -> tuple[CallResult, dict[str, Any]]:
        """One request and its classified answer, with the answer's JSON body when done
        (the DM channel's id is needed by the following send)."""
        is_send = step.kind in SEND_STEPS if sends is None else sends
        # Discord drops a repeated nonce with enforce_nonce: a lost answer cannot double-post.
        deduped = bool(req.body and req.body.get("nonce") and req.body.get("enforce_nonce"))
        may_repeat = is_send and not deduped
        content = None if req.body is None else json.dumps(req.body, ensure_ascii=False)
        try:
            response = await self._http.request(
                req.method,
                self._base + req.path,
                headers=self._headers(req),
                content=content.encode() if content is not None else None,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached Discord.
            error = f"connection failed: {type(exc).__name__} {exc}".rstrip()
            return CallResult("transient", call, params, error=error), {}
        except httpx.TransportError as exc:  # sent, answer lost (timeout, reset)
            error = f"no answer: {type(exc).__name__} {exc}".rstrip()
            return CallResult(
                "transient", call, params, error=error, maybe_delivered=may_repeat
            ), {}
        if 200 <= response.status_code < 300:
            data = _json_body(response) if response.content else None
            return CallResult("done", call, params, status=response.status_code), data or {}
        return _classify(step, response, call, params, may_repeat), {}


def _classify(
    step: Step,
    response: httpx.Response,
    call: str,
    params: dict[str, Any],
    may_repeat: bool,
) -> CallResult:
    """An error answer -> its outcome, by HTTP status and Discord `code` (section 3)."""
    status = response.status_code
    data = _json_body(response)
    error = _error_text(response, data)
    code = data.get("code") if data is not None else None
    if status == 429:
        retry = _float(data.get("retry_after")) if data is not None else None
        header = _float(response.headers.get("retry-after"))
        if data is None:  # not Discord's limiter: most likely a Cloudflare ban
            retry = max(header or 0.0, CLOUDFLARE_BACKOFF_S)
            error += " (no JSON: likely a Cloudflare ban)"
        elif retry is None:
            retry = header if header is not None else CLOUDFLARE_BACKOFF_S
        if data is not None and data.get("global") is True:
            error += " (global: pause every call)"
        scope = response.headers.get("x-ratelimit-scope")
        if scope:
            error += f" [scope {scope}]"
        return CallResult("transient", call, params, status, error, retry_after=retry)
    if status >= 500:
        return CallResult("transient", call, params, status, error, maybe_delivered=may_repeat)
    if status == 401:
        return CallResult("permanent", call, params, status, error, config_error=True)
    if code in _ALREADY.get(step.kind, frozenset()):
        return CallResult("already", call, params, status, error)
    if code in _PERMISSION_CODES:
        return CallResult("permanent", call, params, status, error, permission=True)
    if code == _CANNOT_DM:
        undeliverable = step.kind == "notice_private"
        return CallResult("permanent", call, params, status, error, undeliverable=undeliverable)
    if code == _UNKNOWN_MEMBER and step.kind in ("mute", "unmute"):
        error += " (the member left the guild: nothing to time out)"
    return CallResult("permanent", call, params, status, error)
