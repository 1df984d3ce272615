"""Contact details posted as ads: QQ numbers, WeChat ids and phone numbers.

Read from the `light` view with separators between digits removed first, so
"１３８ 0013 8000" and "QQ：1 2 3 4 5 6 7 8" are seen as the numbers they are.
"""

from __future__ import annotations

import re

from services.moderation.detectors.base import Hit, MessageContext, make_hit
from shared.normalise import MessageText
from shared.rules import ContactsRule

_DIGIT_GAP = re.compile(r"(?<=\d)[\s\-.·_/]+(?=\d)")
_QQ = re.compile(r"(?:qq|扣扣|企鹅|加q|q号)\s*(?:号|号码)?\s*[:：]?\s*(\d{5,11})(?!\d)")
_WECHAT = re.compile(
    r"(?:微信|威信|薇信|徽信|v信|(?<![a-z])(?:vx|wx|weixin|wechat))\s*(?:号)?\s*[:：]?\s*"
    r"([a-z][-_a-z0-9]{5,19})(?![-_a-z0-9])"
)
_PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)86)?1[3-9]\d{9}(?!\d)|\+\d{1,3}\d{7,12}(?!\d)")
_HINT = re.compile(r"\d{5}|微信|威信|薇信|徽信|v信|vx|wx|weixin|wechat")


def _squeeze_digits(light: str) -> tuple[str, list[int]]:
    """Remove separators between digits; also return each kept character's light index."""
    if not _DIGIT_GAP.search(light):
        return light, list(range(len(light)))
    out: list[str] = []
    idx: list[int] = []
    pos = 0
    for m in _DIGIT_GAP.finditer(light):
        out.append(light[pos : m.start()])
        idx.extend(range(pos, m.start()))
        pos = m.end()
    out.append(light[pos:])
    idx.extend(range(pos, len(light)))
    return "".join(out), idx


class ContactsDetector:
    def __init__(self, rule_id: str, cfg: ContactsRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg
        self.checks = [
            (kind, rx)
            for kind, rx, on in (
                ("qq", _QQ, cfg.qq),
                ("wechat", _WECHAT, cfg.wechat),
                ("phone", _PHONE, cfg.phone),
            )
            if on
        ]

    def check(self, ctx: MessageContext) -> Hit | None:
        text = ctx.text
        if not text.original:
            return None
        light = text.light
        if not _HINT.search(light) and not _any_spaced_digits(light):
            return None
        found = find_contact(text, self.checks)
        if found is None:
            return None
        kind, matched = found
        return make_hit(self.rule_id, self.cfg, matched, ("contact", kind))


def _any_spaced_digits(light: str) -> bool:
    return _DIGIT_GAP.search(light) is not None


def find_contact(
    text: MessageText, checks: list[tuple[str, re.Pattern[str]]] | None = None
) -> tuple[str, str] | None:
    """(kind, original span) of the first contact detail of a message, or None."""
    checks = checks if checks is not None else [("qq", _QQ), ("wechat", _WECHAT), ("phone", _PHONE)]
    view, idx = _squeeze_digits(text.light)
    for kind, rx in checks:
        m = rx.search(view)
        if m is not None:
            start, end = m.span()
            return kind, text.original_from_light(idx[start], idx[end - 1] + 1)
    return None
