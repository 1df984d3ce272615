"""Flood: more than `max_messages` messages from one user within `window` (event time).

The engine records every message time per user before detectors run; this detector only
counts. An excess message is always removed, but the flood counts on the ladder once per
window, or a burst of ten messages would walk a user from warning to kick in seconds.
"""

from __future__ import annotations

from bisect import bisect_right

from services.moderation.detectors.base import Hit, MessageContext, in_cooldown, make_hit
from shared.rules import FloodRule


def count_since(times: list[float], at: float, window: float) -> int:
    """Messages in (at - window, at]; `times` is sorted."""
    return bisect_right(times, at) - bisect_right(times, at - window)


class FloodDetector:
    def __init__(self, rule_id: str, cfg: FloodRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg
        self.horizon = float(cfg.window)

    def check(self, ctx: MessageContext) -> Hit | None:
        times = ctx.group.times.get(ctx.user_id)
        if not times or len(times) <= self.cfg.max_messages:
            return None
        n = count_since(times, ctx.at, self.cfg.window)
        if n <= self.cfg.max_messages:
            return None
        hit = make_hit(
            self.rule_id, self.cfg, None, ("flood", n, self.cfg.window, self.cfg.max_messages)
        )
        if in_cooldown(ctx, self.rule_id, ctx.at + self.cfg.window):
            hit.counts = False
        return hit
