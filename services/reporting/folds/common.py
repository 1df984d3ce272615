"""Small pure helpers the folds share: keys, message kinds, stable hashes."""

from __future__ import annotations

import hashlib
import re

from shared.events import MessagePosted

_URL = re.compile(r"https?://\S", re.IGNORECASE)

# Kinds a message can count as, in the order of precedence: a message with a URL is a
# link whatever else it carries, so every message counts exactly once.
MESSAGE_KINDS = ("link", "image", "video", "audio", "file", "sticker", "other", "text")


def user_key_of(group_key: str, user_id: str) -> str:
    """Decisions carry the platform user id; the user key prefixes the group's platform."""
    platform = group_key.split(":", 1)[0]
    return f"{platform}:{user_id}"


def message_kind(message: MessagePosted) -> str:
    """The content kind a message counts as (content preferences, 内容偏好)."""
    if _URL.search(message.text):
        return "link"
    kinds = {a.kind for a in message.attachments}
    for kind in MESSAGE_KINDS[1:-1]:
        if kind in kinds:
            return kind
    return "text"


def stable_hash(*parts: str) -> str:
    """A hex digest that is the same on every run and machine (Python's hash() is not)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
