"""New members: stricter limits for the first `period` after joining.

Spam accounts join and post at once, so for a newcomer any link, invite or contact
detail, any media, and a lower flood limit are violations. Members whose join this
partition never saw (joined before the stream began) are treated as established.
"""

from __future__ import annotations

from services.moderation.detectors.base import Hit, MessageContext, in_cooldown, make_hit
from services.moderation.detectors.contacts import find_contact
from services.moderation.detectors.flood import count_since
from services.moderation.detectors.links import first_link
from shared.rules import NewMembersRule


class NewMembersDetector:
    def __init__(self, rule_id: str, cfg: NewMembersRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg
        self.horizon = float(cfg.flood_window if cfg.flood_max else 0)

    def check(self, ctx: MessageContext) -> Hit | None:
        joined = ctx.group.joined.get(ctx.user_id)
        if joined is None or ctx.at - joined >= self.cfg.period or ctx.at < joined:
            return None
        cfg = self.cfg
        if cfg.block_media and ctx.attachments:
            kinds = sorted({a.kind for a in ctx.attachments})
            return make_hit(self.rule_id, cfg, None, ("new_media", cfg.period, ",".join(kinds)))
        if cfg.block_links and ctx.text.original:
            link = first_link(ctx.text)
            if link is None:
                contact = find_contact(ctx.text)
                link = contact[1] if contact else None
            if link is not None:
                return make_hit(self.rule_id, cfg, link, ("new_link", cfg.period))
        if cfg.flood_max:
            times = ctx.group.times.get(ctx.user_id) or []
            n = count_since(times, ctx.at, cfg.flood_window)
            if n > cfg.flood_max:
                hit = make_hit(
                    self.rule_id, cfg, None, ("new_flood", n, cfg.flood_window, cfg.flood_max)
                )
                if in_cooldown(ctx, self.rule_id, ctx.at + cfg.flood_window):
                    hit.counts = False
                return hit
        return None
