"""Canonical events as JSON-ready dicts (what ingest accepts and writes to the topic), and
the rules a ruleset.updated event carries."""

from __future__ import annotations

from typing import Any

from shared.rules import default_ruleset, effective_rules


def raw_event(
    event_id: str,
    etype: str,
    group_key: str,
    user: str,
    at: str,
    payload: dict[str, Any],
    *,
    schema_version: int | None = None,
) -> dict[str, Any]:
    """Event `event_id` of type `etype` by `user` in the group `platform:group_id`, at `at`
    (ISO); a message is schema version 2 and anything else 1 unless `schema_version` says."""
    platform, _, group_id = group_key.partition(":")
    if schema_version is None:
        schema_version = 2 if etype == "message.posted" else 1
    return {
        "event_id": event_id,
        "type": etype,
        "schema_version": schema_version,
        "occurred_at": at,
        "platform": platform,
        "group_id": group_id,
        "user_id": user,
        "payload": payload,
    }


def whole_rules(keywords: list[str]) -> dict[str, Any]:
    """What `modstream rules apply` sends: the default merged with an English, UTC group's
    override that bans `keywords`."""
    override = {
        "language": "en",
        "timezone": "UTC",
        "detectors": {"banned-words": {"kind": "keywords", "keywords": keywords}},
    }
    return effective_rules(default_ruleset(), override).model_dump(mode="json")
