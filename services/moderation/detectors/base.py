"""What every message detector sees and what it reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from services.moderation.state import EXPIRY_COOLDOWN, GroupState, PartitionState
from shared import events, fast_codec
from shared.normalise import MessageText


@dataclass(slots=True)
class Hit:
    """One rule broken by one message.

    `counts` says whether the hit is a new violation on the ladder: false for rules
    configured with `ladder: false` and for rate rules still in their cooldown.
    `detail` is (text key, *values) that texts.py renders in the group's language.
    """

    rule_id: str
    kind: str
    category: str
    serious: bool
    counts: bool
    matched: str | None = None
    detail: tuple[Any, ...] = ()


@dataclass(slots=True)
class MessageContext:
    event_id: str
    at: float
    platform: str
    group_key: str
    user_id: str
    text: MessageText
    mentions: int
    attachments: list[events.Attachment] | list[fast_codec.Attachment]
    group: GroupState
    partition: PartitionState


class MessageDetector(Protocol):
    rule_id: str

    def check(self, ctx: MessageContext) -> Hit | None: ...


def make_hit(rule_id: str, cfg: Any, matched: str | None, detail: tuple[Any, ...] = ()) -> Hit:
    return Hit(rule_id, cfg.kind, cfg.category, cfg.serious, cfg.ladder, matched, detail)


def in_cooldown(ctx: MessageContext, rule_id: str, until: float) -> bool:
    """Rate rules count on the ladder once per window; later excess only loses messages."""
    key = (rule_id, ctx.user_id)
    current = ctx.group.cooldowns.get(key)
    if current is not None and current > ctx.at:
        return True
    ctx.group.cooldowns[key] = until
    ctx.group.schedule(until, EXPIRY_COOLDOWN, key)
    return False
