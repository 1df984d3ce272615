"""The one list of platforms and the one grammar of group and user keys.

A group key is `platform:group_id` and a user key `platform:user_id`: the platform is one
of `PLATFORMS`, the id is 1 to 256 characters without whitespace or '/' (keys are URL path
segments) that does not start with '$' (keys reach MongoDB queries). Ids may hold ':';
only the first ':' separates the platform. The stream keys
partitions by group key, rule sets are overridden per group key and the APIs are scoped
by it, so every part reads it the same way from here.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

Platform = Literal["onebot", "telegram", "discord", "slack", "api"]
PLATFORMS: tuple[str, ...] = get_args(Platform)
# The platforms whose webhooks ingest verifies and maps ("api" is the canonical route).
WEBHOOK_PLATFORMS: tuple[str, ...] = tuple(p for p in PLATFORMS if p != "api")

KEY = re.compile(rf"^(?:{'|'.join(PLATFORMS)}):[^\s$/][^\s/]{{0,255}}$")


def is_key(value: str) -> bool:
    """True for a well-formed group or user key."""
    return KEY.match(value) is not None


def key_problem(value: str, what: str = "group key") -> str | None:
    """Why `value` is not a well-formed key (`what`: "group key" or "user key"), or None."""
    if is_key(value):
        return None
    part = "group_id" if what == "group key" else "user_id"
    return (
        f"{what} {value[:80]!r} is not '{{platform}}:{{{part}}}' "
        f"with platform one of {', '.join(PLATFORMS)}"
    )


def group_key(platform: str, group_id: str) -> str:
    return f"{platform}:{group_id}"


def split_key(key: str) -> tuple[str, str]:
    """(platform, id) of a key; the id keeps any further ':'."""
    platform, _, rest = key.partition(":")
    return platform, rest
