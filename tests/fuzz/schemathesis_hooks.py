"""Schemathesis hooks for test_fuzz_openapi (loaded through SCHEMATHESIS_HOOKS).

The generator shrinks toward minimal values, so nearly every generated event would carry
the same id and be answered `duplicate`; a fresh counter id per call lets the valid ones
be accepted and travel on through moderation and reporting."""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

_ids = itertools.count()


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    body = case.body
    for item in body if isinstance(body, list) else [body]:
        if isinstance(item, dict) and str(item.get("event_id", "")).startswith("fz-"):
            item["event_id"] = f"fz-gen-{next(_ids)}"
