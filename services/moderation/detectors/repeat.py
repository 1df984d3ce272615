"""Repeated content: the same (or nearly the same) text `times` times within `window`.

"Nearly the same" is a fingerprint of the squeezed view with every run of digits
collapsed, so "buy now 1" / "buy now 2" and spacing or punctuation games are one text.
The fingerprints live in the partition state, keyed by the platform user, so with
`cross_group` a spammer posting the same ad in several groups is caught as long as those
groups share the partition (state lives with the partition that owns the group).
"""

from __future__ import annotations

import hashlib
import re

from services.moderation.detectors.base import Hit, MessageContext, in_cooldown, make_hit
from shared.rules import RepeatRule

_DIGITS = re.compile(r"\d+")


def fingerprint(squeezed: str) -> str:
    """Stable across processes (Python's hash() is salted per run, snapshots are not)."""
    collapsed = _DIGITS.sub("0", squeezed)
    return hashlib.blake2b(collapsed.encode(), digest_size=8).hexdigest()


class RepeatDetector:
    def __init__(self, rule_id: str, cfg: RepeatRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg

    def check(self, ctx: MessageContext) -> Hit | None:
        cfg = self.cfg
        squeezed = ctx.text.squeezed if ctx.text.original else ""
        if len(squeezed) < cfg.min_length:
            return None
        key = f"{ctx.platform}:{ctx.user_id}|{fingerprint(squeezed)}"
        part = ctx.partition
        if cfg.window > part.repeat_horizon:
            part.repeat_horizon = float(cfg.window)
        entries = part.repeats.get(key)
        if entries is None:
            entries = part.repeats[key] = []
        part.schedule_repeat(ctx.at + part.repeat_horizon, key)
        oldest = ctx.at - part.repeat_horizon
        if entries and entries[0][0] <= oldest:
            entries[:] = [e for e in entries if e[0] > oldest]
        entries.append((ctx.at, ctx.group_key))
        cutoff = ctx.at - cfg.window
        n = sum(
            1
            for t, g in entries
            if cutoff < t <= ctx.at and (cfg.cross_group or g == ctx.group_key)
        )
        if n < cfg.times:
            return None
        hit = make_hit(self.rule_id, cfg, ctx.text.original[:200], ("repeat", n, cfg.window))
        if in_cooldown(ctx, self.rule_id, ctx.at + cfg.window):
            hit.counts = False
        return hit
