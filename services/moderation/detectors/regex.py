"""Regular expressions with RE2: linear time, so no pattern an admin writes can stall
the consumer on a hostile message. Patterns run on the normalised `base` view by default
(case-folded, full-width folded, traditional -> simplified), or on the original text."""

from __future__ import annotations

import re2

from services.moderation.detectors.base import Hit, MessageContext, make_hit
from shared.rules import RegexRule


class RegexDetector:
    def __init__(self, rule_id: str, cfg: RegexRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg
        # one alternation: RE2 scans the text once for all patterns of the rule
        combined = "|".join(f"(?:{p})" for p in cfg.patterns)
        self.regex = re2.compile(combined)

    def check(self, ctx: MessageContext) -> Hit | None:
        text = ctx.text
        if not text.original:
            return None
        if self.cfg.on == "original":
            m = self.regex.search(text.original)
            if m is None:
                return None
            return make_hit(self.rule_id, self.cfg, m.group(0))
        view = text.base
        m = self.regex.search(view)
        if m is None:
            return None
        start, end = m.span()
        matched = text.original_from_base(start, end) if end > start else ""
        return make_hit(self.rule_id, self.cfg, matched)
