"""Text views that defeat common evasion, with a way back to the original characters.

Detectors match on normalised views, but a moderator has to see what the user actually
wrote, so every view can map a span back to the original text. Views are built with
`str.translate` over memoised per-character tables (C speed on the hot path); the index
maps are only built when a detector reports a match, which is rare.

Views of one message:
- `light`: NFKC (full-width -> ASCII), casefold, zero-width and other format characters
  removed. Punctuation kept: links and contact details are read from it.
- `base`: `light`, plus combining marks dropped, traditional -> simplified Chinese, and
  every separator (space, punctuation, symbol, control) turned into one space.
- `squeezed`: `base` without the spaces, which exposes "b a d w o r d" and "b.a.d".
"""

from __future__ import annotations

import unicodedata

from opencc import OpenCC

ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF})
# Ideographic / half-width full stops that NFKC keeps but people use to disguise domains.
_DOT_LIKE = {"。": ".", "｡": ".", "︒": "."}
_CJK_START = 0x2E80

_t2s = OpenCC("t2s")


def _light_char(ch: str) -> str:
    if ord(ch) in ZERO_WIDTH:
        return ""
    out = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        if unicodedata.category(c) == "Cf" or ord(c) in ZERO_WIDTH:
            continue
        out.append(_DOT_LIKE.get(c, c))
    return "".join(out)


def _base_char(ch: str) -> str:
    out = []
    for c in _light_char(ch):
        cat = unicodedata.category(c)
        if cat == "Mn":
            continue
        if cat[0] in "ZPS" or cat == "Cc":
            out.append(" ")
        elif ord(c) >= _CJK_START:
            out.append(_t2s.convert(c))
        else:
            out.append(c)
    return "".join(out)


class _Table(dict[int, str]):
    """A `str.translate` table that computes and remembers each character on first use."""

    def __init__(self, fold: object) -> None:
        super().__init__()
        self._fold = fold

    def __missing__(self, key: int) -> str:
        value: str = self._fold(chr(key))  # type: ignore[operator]
        self[key] = value
        return value


LIGHT_TABLE = _Table(_light_char)
BASE_TABLE = _Table(_base_char)


def _collapse(s: str) -> str:
    return " ".join(s.split())


def normalise(text: str) -> str:
    """The base view of a text: what keywords are written in after normalisation."""
    return _collapse(text.translate(BASE_TABLE))


def is_wordish(ch: str) -> bool:
    """Letters and digits of alphabetic scripts, where a keyword needs word boundaries.

    CJK text has no spaces between words, so CJK keywords match anywhere.
    """
    return ch.isalnum() and ord(ch) < _CJK_START


class MessageText:
    """The views of one message, built lazily and at most once each."""

    __slots__ = ("_base", "_base_map", "_light", "_light_map", "_squeezed", "original")

    def __init__(self, original: str) -> None:
        self.original = original
        self._light: str | None = None
        self._base: str | None = None
        self._squeezed: str | None = None
        self._base_map: list[int] | None = None
        self._light_map: list[int] | None = None

    @property
    def light(self) -> str:
        if self._light is None:
            self._light = self.original.translate(LIGHT_TABLE)
        return self._light

    @property
    def base(self) -> str:
        if self._base is None:
            self._base = _collapse(self.original.translate(BASE_TABLE))
        return self._base

    @property
    def squeezed(self) -> str:
        if self._squeezed is None:
            self._squeezed = self.base.replace(" ", "")
        return self._squeezed

    def _build_base_map(self) -> list[int]:
        """For every character of `base`, the index of the original character it came from."""
        if self._base_map is None:
            chars: list[str] = []
            idx: list[int] = []
            for i, ch in enumerate(self.original):
                for c in BASE_TABLE[ord(ch)]:
                    if c == " " and (not chars or chars[-1] == " "):
                        continue
                    chars.append(c)
                    idx.append(i)
            if chars and chars[-1] == " ":
                chars.pop()
                idx.pop()
            self._base_map = idx
        return self._base_map

    def original_from_base(self, start: int, end: int) -> str:
        idx = self._build_base_map()
        return self.original[idx[start] : idx[end - 1] + 1]

    def base_span_of_squeezed(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of `squeezed` to the span of `base` it was squeezed from."""
        base = self.base
        pos = -1
        b_start = b_end = 0
        for j, c in enumerate(base):
            if c == " ":
                continue
            pos += 1
            if pos == start:
                b_start = j
            if pos == end - 1:
                b_end = j + 1
                break
        return b_start, b_end

    def original_from_light(self, start: int, end: int) -> str:
        if self._light_map is None:
            idx: list[int] = []
            for i, ch in enumerate(self.original):
                idx.extend([i] * len(LIGHT_TABLE[ord(ch)]))
            self._light_map = idx
        idx = self._light_map
        return self.original[idx[start] : idx[end - 1] + 1]
