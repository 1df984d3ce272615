"""Keywords and phrases, matched with Aho-Corasick on the normalised views.

Two passes: the `base` view (spaces kept, so whole-word checks work) and, when
`evasion` is on, the `squeezed` view without separators. A squeezed match only counts
when it is made of whole short tokens ("b a d", "b.a.d", "f u ck"), so "is hit" never
matches "shit". Allow-list phrases are matched too, and a keyword inside an allowed
phrase is ignored. Automatons are built once per rule set version, never per message.
"""

from __future__ import annotations

import ahocorasick

from services.moderation.detectors.base import Hit, MessageContext, make_hit
from shared.normalise import MessageText, is_wordish, normalise
from shared.rules import KeywordsRule

_KEYWORD, _ALLOW = 0, 1
# longest token of a spaced-out evasion ("f u ck" has tokens of 1, 1 and 2 letters)
MAX_EVASION_TOKEN = 2


def _automaton(phrases: list[tuple[str, int]]) -> ahocorasick.Automaton | None:
    if not phrases:
        return None
    auto = ahocorasick.Automaton()
    for text, kind in phrases:
        if text in auto:
            prev = auto.get(text)
            if prev[1] == _ALLOW:  # an allowed phrase that is also a keyword stays allowed
                continue
        auto.add_word(text, (len(text), kind))
    auto.make_automaton()
    return auto


def _matches(
    auto: ahocorasick.Automaton, view: str
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    keys: list[tuple[int, int]] = []
    allows: list[tuple[int, int]] = []
    for end, (length, kind) in auto.iter(view):
        span = (end - length + 1, end + 1)
        (allows if kind == _ALLOW else keys).append(span)
    return keys, allows


def _allowed(span: tuple[int, int], allows: list[tuple[int, int]]) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in allows)


class KeywordsDetector:
    def __init__(self, rule_id: str, cfg: KeywordsRule) -> None:
        self.rule_id = rule_id
        self.cfg = cfg
        keywords = [normalise(k) for k in cfg.keywords]
        allows = [normalise(a) for a in cfg.allow]
        self.base = _automaton([(k, _KEYWORD) for k in keywords] + [(a, _ALLOW) for a in allows])
        self.squeezed = (
            _automaton(
                [(k.replace(" ", ""), _KEYWORD) for k in keywords]
                + [(a.replace(" ", ""), _ALLOW) for a in allows]
            )
            if cfg.evasion
            else None
        )

    def check(self, ctx: MessageContext) -> Hit | None:
        text = ctx.text
        if not text.original or self.base is None:
            return None
        matched = self._in_base(text)
        if matched is None and self.squeezed is not None:
            matched = self._in_squeezed(text)
        if matched is None:
            return None
        return make_hit(self.rule_id, self.cfg, matched)

    def _in_base(self, text: MessageText) -> str | None:
        view = text.base
        keys, allows = _matches(self.base, view)  # type: ignore[arg-type]
        for start, end in sorted(keys):
            if _allowed((start, end), allows):
                continue
            if self.cfg.whole_words and not self._whole(view, start, end):
                continue
            return text.original_from_base(start, end)
        return None

    @staticmethod
    def _whole(view: str, start: int, end: int) -> bool:
        if is_wordish(view[start]) and start > 0 and is_wordish(view[start - 1]):
            return False
        return not (is_wordish(view[end - 1]) and end < len(view) and is_wordish(view[end]))

    def _in_squeezed(self, text: MessageText) -> str | None:
        base = text.base
        if " " not in base:
            return None  # nothing was squeezed out: the base pass saw it all
        keys, allows = _matches(self.squeezed, text.squeezed)  # type: ignore[arg-type]
        for start, end in sorted(keys):
            if _allowed((start, end), allows):
                continue
            b_start, b_end = text.base_span_of_squeezed(start, end)
            piece = base[b_start:b_end]
            if " " not in piece:
                continue  # no separator inside: the base pass already judged it
            if b_start > 0 and base[b_start - 1] != " ":
                continue
            if b_end < len(base) and base[b_end] != " ":
                continue
            if any(len(tok) > MAX_EVASION_TOKEN for tok in piece.split(" ")):
                continue
            return text.original_from_base(b_start, b_end)
        return None
