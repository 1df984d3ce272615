"""Slack Web API: a step -> the documented method call, the answer -> an outcome.

Slack is the platform with the gaps: no per-member mute or timeout and no channel ban
(those steps are `unsupported` and make no call), and a bot token deletes only the bot's
own messages, so removing a member's message needs a workspace admin's user token. Every
call is a JSON POST to `{base}/<method>`; JSON bodies carry the token only in the bearer
header. Slack answers HTTP 200 for almost everything, so the outcome is read from `ok` and
`error`, except rate limits (HTTP 429 + Retry-After). Reference:
shared/platform-api/slack.md (the enforcement calls and the error table of its section 3).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

from services.enforcement.calls import SEND_STEPS, CallOutcome, CallResult, Step, Target

# Slack's own wait when a 429 carries no usable Retry-After, and its pace for a
# `rate_limited` message flood (about one message per second per channel).
DEFAULT_RETRY_AFTER_S = 1.0

# The server may have done some or all of the work: a send may have been posted.
_SERVER_TROUBLE = frozenset({"service_unavailable", "request_timeout", "internal_error"})
_RATE = frozenset({"ratelimited", "rate_limited"})
# The operator must fix the app's tokens or scopes; retrying cannot help.
_CONFIG = frozenset(
    {
        "missing_scope",
        "not_authed",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
        "org_login_required",
    }
)
# A workspace setting or the bot's standing stops it: the group's admins must act.
_PERMISSION = frozenset(
    {
        "cant_delete_message",
        "restricted_action",
        "restricted_action_read_only_channel",
        "no_permission",
        "ekm_access_denied",
    }
)
# HTTP statuses without a Slack envelope that point at the settings (a wrong base URL or
# a proxy refusing the credentials) rather than at the request.
_CONFIG_STATUSES = frozenset({401, 403, 404})

_WHY_NO_MUTE = "Slack has no per-member mute or timeout"
_WHY_NO_BAN = "Slack has no channel ban"
_WHY_NO_UNMUTE = "nothing to lift: a Slack mute is never applied"
_WHY_NO_DELETE = "a bot token deletes only the bot's own messages"
_WHY_NO_MESSAGE = "no message to delete"


def message_link(channel: str, ts: str) -> str:
    """The permalink form admins open to remove a message by hand (ts without its dot)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _retry_after(headers: httpx.Headers) -> float:
    """Slack's Retry-After in seconds (httpx headers match names case-insensitively)."""
    raw = headers.get("retry-after")
    if raw is None:
        return DEFAULT_RETRY_AFTER_S
    try:
        value = float(raw.strip())
    except ValueError:
        return DEFAULT_RETRY_AFTER_S
    return value if value >= 0 else DEFAULT_RETRY_AFTER_S


class SlackClient:
    """One Slack app in one workspace: its bot token, and optionally an admin's user token
    (`xoxp-`) for removing members' messages."""

    platform: ClassVar[str] = "slack"

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        bot_token: str,
        user_token: str | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._bot_token = bot_token
        self._user_token = user_token

    # ------------------------------------------------------------------ mapping

    def describe(self, step: Step, target: Target, now: float) -> tuple[str, dict[str, Any]]:
        method, body = self._plan(step, target)
        if method is None:
            return f"none: {body['why']}", {}
        return f"POST /{method}", body

    def _plan(self, step: Step, target: Target) -> tuple[str | None, dict[str, Any]]:
        """(method, JSON body), or (None, {"why": ...}) for a step Slack cannot carry out."""
        channel = target.group_id
        kind = step.kind
        if kind == "notice_group":
            body: dict[str, Any] = {"channel": channel, "text": f"<@{target.user_id}> {step.text}"}
            if step.reply and target.message_id:
                body["thread_ts"] = target.message_id
            return "chat.postMessage", body
        if kind == "notice_private":
            return "chat.postEphemeral", {
                "channel": channel,
                "user": target.user_id,
                "text": step.text,
            }
        if kind == "delete_message":
            if not target.message_id:
                return None, {"why": _WHY_NO_MESSAGE}
            if self._user_token is None:
                return None, {"why": _WHY_NO_DELETE}
            return "chat.delete", {"channel": channel, "ts": target.message_id}
        if kind == "kick":
            return "conversations.kick", {"channel": channel, "user": target.user_id}
        if kind == "mute":
            return None, {"why": _WHY_NO_MUTE}
        if kind in ("ban", "unban"):
            return None, {"why": _WHY_NO_BAN}
        if kind == "unmute":
            return None, {"why": _WHY_NO_UNMUTE}
        return None, {"why": f"no Slack call for {kind}"}

    def _no_call(self, step: Step, target: Target, why: str) -> CallResult:
        call = f"none: {why}"
        if step.kind == "unmute":
            return CallResult("already", call)
        if why == _WHY_NO_MESSAGE:
            return CallResult("permanent", call, error=why)
        if why == _WHY_NO_DELETE:
            link = message_link(target.group_id, target.message_id or "")
            return CallResult("unsupported", call, error=f"{why}; an admin must remove it: {link}")
        return CallResult("unsupported", call, error=why)

    # ------------------------------------------------------------------ calling

    async def execute(self, step: Step, target: Target, now: float) -> CallResult:
        method, body = self._plan(step, target)
        if method is None:
            return self._no_call(step, target, str(body["why"]))
        call = f"POST /{method}"
        # Only chat.delete of a member's message needs the admin's user token.
        token = self._user_token if method == "chat.delete" else self._bot_token
        is_send = step.kind in SEND_STEPS
        try:
            response = await self._http.post(
                f"{self._base}/{method}",
                content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Authorization": f"Bearer {token}",
                },
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached Slack: repeating cannot post twice.
            return CallResult("transient", call, body, error=f"{type(exc).__name__}: {exc}")
        except httpx.TransportError as exc:
            # Written, then no answer (read timeout, dropped connection): it may have run.
            return CallResult(
                "transient",
                call,
                body,
                error=f"{type(exc).__name__}: {exc}",
                maybe_delivered=True,
            )
        return self._classify(step, call, body, response, is_send)

    def _classify(
        self,
        step: Step,
        call: str,
        body: dict[str, Any],
        response: httpx.Response,
        is_send: bool,
    ) -> CallResult:
        status = response.status_code
        if status == 429:
            return CallResult(
                "transient",
                call,
                body,
                status=status,
                error=_error_code(response) or "ratelimited",
                retry_after=_retry_after(response.headers),
            )
        if status >= 500:
            return CallResult(
                "transient",
                call,
                body,
                status=status,
                error=_error_code(response) or f"HTTP {status}",
                maybe_delivered=is_send,
            )
        answer = _envelope(response)
        if answer is None:
            if status >= 400:
                return CallResult(
                    "permanent",
                    call,
                    body,
                    status=status,
                    error=f"HTTP {status}",
                    config_error=status in _CONFIG_STATUSES,
                )
            # A 2xx that is not Slack's envelope (a proxy page?): it may have run.
            return CallResult(
                "transient",
                call,
                body,
                status=status,
                error=f"HTTP {status} without a Slack answer",
                maybe_delivered=is_send,
            )
        if answer.get("ok") is True:
            warning = answer.get("warning")
            return CallResult(
                "done",
                call,
                body,
                status=status,
                error=f"warning: {warning}" if warning else None,
            )
        return self._refusal(step, call, body, status, answer, response, is_send)

    def _refusal(
        self,
        step: Step,
        call: str,
        body: dict[str, Any],
        status: int,
        answer: dict[str, Any],
        response: httpx.Response,
        is_send: bool,
    ) -> CallResult:
        code = str(answer.get("error") or "unknown error")

        def result(outcome: CallOutcome, **flags: Any) -> CallResult:
            return CallResult(outcome, call, body, status=status, error=code, **flags)

        if code in _RATE:
            return result("transient", retry_after=_retry_after(response.headers))
        if code in _SERVER_TROUBLE:
            return result("transient", maybe_delivered=is_send)
        if code == "fatal_error":
            # "It's possible some aspect of the operation succeeded": never assume not.
            return result("transient", maybe_delivered=True)
        if code == "unknown_method":
            return result("unsupported")
        if code in ("message_not_found", "already_in_channel"):
            return result("already")
        if code == "not_in_channel":
            if step.kind == "kick":
                return result("already")
            # On a post or delete it is the bot that is not in the channel.
            return result("permanent", permission=True)
        if code == "missing_scope":
            needed = answer.get("needed")
            provided = answer.get("provided")
            return CallResult(
                "permanent",
                call,
                body,
                status=status,
                error=f"missing_scope (needed: {needed}; provided: {provided})",
                config_error=True,
            )
        if code in _CONFIG:
            return result("permanent", config_error=True)
        if code in _PERMISSION:
            return result("permanent", permission=True)
        if code == "user_not_in_channel" and step.kind == "notice_private":
            return result("permanent", undeliverable=True)
        # Every other refusal (cant_kick_self, cant_kick_from_general, is_archived,
        # channel_not_found, user_not_found, msg_too_long, no_text, ...) is for good.
        return result("permanent")


def _envelope(response: httpx.Response) -> dict[str, Any] | None:
    """Slack's `{"ok": ...}` answer, or None when the body is not one."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("ok"), bool):
        return data
    return None


def _error_code(response: httpx.Response) -> str | None:
    answer = _envelope(response)
    if answer is None or answer.get("ok"):
        return None
    error = answer.get("error")
    return str(error) if error else None
