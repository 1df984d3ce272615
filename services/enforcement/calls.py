"""The enforcer's vocabulary: one step asked of a platform, and what came of it.

The pure core (services/enforcement/plan.py) turns a decision into steps; one adapter per
platform (services/enforcement/platforms/) turns a step into the documented HTTP call(s)
and classifies the answer. Nothing here does I/O, so the core and the adapters' mapping
are tested without a network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

StepKind = Literal[
    "notice_group",  # a notice in the group: mentions the member, replies to the message
    "notice_private",  # a notice to the member alone (DM, temp session, ephemeral)
    "delete_message",
    "mute",
    "unmute",
    "kick",
    "ban",
    "unban",
]
# Sends happen at most once: a send whose answer was lost is `unknown`, never repeated.
SEND_STEPS: frozenset[str] = frozenset({"notice_group", "notice_private"})

# What an adapter made of the platform's answer.
#   done         the platform did it
#   already      the wanted state held already (deleted message, member gone, not banned)
#   permanent    refused for good (rights, unknown user, bad request): never retried
#   transient    429 / 5xx / timeout / connection: retried with backoff (sends: see
#                `maybe_delivered`)
#   unsupported  the platform has no such call (Slack mute, OneBot unban, Telegram basic
#                group mute, an action a OneBot flavour does not implement)
CallOutcome = Literal["done", "already", "permanent", "transient", "unsupported"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a step acts, in the platform's own ids (strings, as the stream holds them)."""

    platform: str
    group_id: str  # OneBot group, Telegram chat, Discord guild, Slack channel
    user_id: str  # the member acted on
    message_id: str | None = None  # the message a decision is about (remove / reply to)
    channel_id: str | None = None  # Discord: the channel of message_id


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    # mute / ban: when it ends, absolute Unix seconds (already capped by the core to what
    # the platform can hold); None: no end (a permanent ban). The adapter converts to the
    # platform's unit (OneBot relative seconds, Telegram Unix seconds, Discord ISO 8601).
    until: int | None = None
    # notices: the text, in the group's language; the adapter adds the mention.
    text: str = ""
    # notice_group: reply to target.message_id (sent so that a deleted message does not
    # fail it: allow_sending_without_reply / fail_if_not_exists false / no reply segment
    # when the message is gone).
    reply: bool = False
    # A stable id of this step (from the decision id): Discord's nonce, log lines.
    key: str = ""
    # Why, for the platform's audit log where it keeps one (Discord X-Audit-Log-Reason,
    # go-cqhttp's kick message is not used: members would see it).
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CallResult:
    outcome: CallOutcome
    # Method and path of the call(s) made, without credentials: "POST /set_group_ban",
    # "POST /users/@me/channels; POST /channels/77/messages". Telegram's path omits the
    # bot<token> part: "POST /restrictChatMember".
    call: str
    # What was sent (JSON body or form/query values), without credentials.
    params: Mapping[str, Any] = field(default_factory=dict)
    status: int | None = None  # HTTP status of the last answer (None: no answer)
    # The platform's own words: "NOT_MANAGEABLE 机器人权限不足", "50013 Missing Permissions",
    # "Bad Request: not enough rights to restrict/unrestrict chat member", "cant_delete_message".
    error: str | None = None
    # transient: the platform's wait (Telegram parameters.retry_after, Discord retry_after
    # or Retry-After, Slack Retry-After), seconds.
    retry_after: float | None = None
    # transient on a send: the request may have reached the platform (a timeout after it
    # was written, a 5xx): repeating it could post twice, so the core records `unknown`.
    maybe_delivered: bool = False
    # permanent because the bot's credentials are wrong or revoked (401, Telegram 404 for
    # a malformed token, Slack invalid_auth ...): the operator must fix the settings.
    config_error: bool = False
    # permanent because the bot lacks a right or the target outranks it: admins must act.
    permission: bool = False
    # notice_private refused because the member cannot be messaged privately (Telegram
    # 403 can't initiate / blocked, Discord 50007, Slack user_not_in_channel): the core
    # falls back to a group notice.
    undeliverable: bool = False


class PlatformClient(Protocol):
    """One bot of one platform. `describe` is what dry_run records; `execute` calls.

    `now` is the Unix time the call is made at (the caller's clock, so tests control it);
    adapters never sleep and never retry: pacing and retries are the caller's.
    """

    platform: ClassVar[str]

    def describe(self, step: Step, target: Target, now: float) -> tuple[str, dict[str, Any]]:
        """The call `execute` would make now: ("POST /set_group_ban", body)."""
        ...

    async def execute(self, step: Step, target: Target, now: float) -> CallResult: ...
