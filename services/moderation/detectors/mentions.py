"""Mention spam: more than `max_mentions` members mentioned in one message."""

from __future__ import annotations

from services.moderation.detectors.base import Hit, MessageContext, make_hit
from shared.rules import MentionsRule


class MentionsDetector:
    def __init__(self, rule_id: str, cfg: MentionsRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg

    def check(self, ctx: MessageContext) -> Hit | None:
        if ctx.mentions <= self.cfg.max_mentions:
            return None
        return make_hit(
            self.rule_id, self.cfg, None, ("mentions", ctx.mentions, self.cfg.max_mentions)
        )
