"""JSON with limits, for every body the HTTP edges read: no body can make the parser
recurse, build a 5,000-digit integer, or smuggle `NaN`/`Infinity` (which are not JSON and
which MongoDB and every JavaScript client read differently) into an event.

Pure (the standard library only), so the pure webhook core (services/ingest/webhooks.py)
parses with it as the routes do.
"""

from __future__ import annotations

import json
import math
from itertools import accumulate
from typing import Any

# Deeper than any payload a platform or a rule set sends (a Slack rich-text block is
# about 10 levels); MongoDB itself refuses documents nested over 100 levels.
JSON_MAX_DEPTH = 64
# Digits an integer literal may have before it is even converted: int() of a long digit
# string is quadratic, and Python refuses over 4,300 digits with a ValueError.
JSON_MAX_DIGITS = 40
# What BSON (and so every projection) can store; a bigger integer would fail on write,
# after ingest had already published it.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_OPENS_CLOSES = [0] * 256
for _c in b"[{":
    _OPENS_CLOSES[_c] = 1
for _c in b"]}":
    _OPENS_CLOSES[_c] = -1
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
TOO_DEEP = f"JSON nested too deeply (deeper than {JSON_MAX_DEPTH} levels)"


class JSONRejected(ValueError):
    """A body that is not JSON within the limits; `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text, brackets inside strings ignored.

    Linear and in C (bytes.replace/translate/split, itertools): about 0.1 s for 1 MB of
    '[' on the CI machine, so it can run before the parser, which would otherwise recurse
    once per level. Escaped backslashes are dropped first, then escaped quotes, so every
    quote left delimits a string and the even-numbered pieces between quotes are what lies
    outside strings. Malformed input gets some number; the parser then says what is wrong.
    """
    structure = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    outside = b"".join(structure.split(b'"')[0::2])
    return max(accumulate(map(_OPENS_CLOSES.__getitem__, outside)), default=0)


def _refuse_constant(name: str) -> Any:
    raise JSONRejected(f"constant {name} is not allowed (JSON has no NaN or Infinity)")


def _bounded_int(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    if digits > JSON_MAX_DIGITS:
        raise JSONRejected(
            f"integer with more than {JSON_MAX_DIGITS} digits is not allowed (got {digits} digits)"
        )
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise JSONRejected(
            f"integer {literal} is outside the signed 64-bit range the store can hold"
        )
    return value


def _bounded_float(literal: str) -> float:
    digits = sum(map(str.isdigit, literal))
    if digits > JSON_MAX_DIGITS:
        raise JSONRejected(
            f"number with more than {JSON_MAX_DIGITS} digits is not allowed (got {digits} digits)"
        )
    value = float(literal)
    if not math.isfinite(value):
        raise JSONRejected(f"number {literal} is out of range")
    return value


def parse_json(body: bytes) -> Any:
    """Decode a request body as JSON within the limits, or raise JSONRejected saying why.

    UTF-8 only (what RFC 8259 requires between systems), at most JSON_MAX_DEPTH levels,
    integers of at most JSON_MAX_DIGITS digits and within 64 bits, finite numbers, and
    no NaN/Infinity constants.
    """
    if not body.strip():
        raise JSONRejected("empty body: send a JSON document")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise JSONRejected(f"body is not UTF-8 (byte {err.start}): send JSON") from None
    if json_depth(body) > JSON_MAX_DEPTH:
        raise JSONRejected(TOO_DEEP)
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
        )
    except JSONRejected as err:  # a number or constant refused by the hooks above
        raise JSONRejected(f"JSON cannot be read: {err.reason}") from None
    except json.JSONDecodeError as err:
        raise JSONRejected(
            f"malformed JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:  # not reachable past json_depth; kept as the last line
        raise JSONRejected(TOO_DEEP) from None
    except ValueError as err:
        raise JSONRejected(f"JSON cannot be read: {str(err)[:120]}") from None
