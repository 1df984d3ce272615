"""`modstream rules apply FILE`: every rule change goes through ingest into the stream, so a
replay uses the rules in force at each moment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shared.rules import (
    effective_default,
    effective_rules,
    load_ruleset_file,
    validate_rules,
)


def check_file(path: Path) -> dict[str, dict[str, Any]]:
    """group key -> the whole effective rule set (default merged with the override)."""
    groups, raw_default = load_ruleset_file(path)
    if not groups:
        raise ValueError(f"{path}: no groups: list them under 'groups:' keyed by group key")
    default = effective_default(raw_default, source=str(path))
    result = {}
    for group_key, override in groups.items():
        if ":" not in group_key:
            raise ValueError(f"{path}: group key {group_key!r} must look like platform:group_id")
        merged = effective_rules(default, override)
        validate_rules(merged.model_dump(mode="json"), f"{path} [{group_key}]")
        result[group_key] = merged.model_dump(mode="json")
    return result


def ruleset_event(group_key: str, version: int, rules: dict[str, Any], by: str) -> dict[str, Any]:
    platform, _, group_id = group_key.partition(":")
    return {
        "event_id": f"ruleset-{platform}-{group_id}-v{version}",
        "type": "ruleset.updated",
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "platform": platform,
        "group_id": group_id,
        "user_id": by,
        "payload": {"version": version, "rules": rules},
    }


def apply_file(path: Path, url: str, token: str) -> list[tuple[str, int, str]]:
    if not token:
        raise ValueError("an admin token is needed: --token or MODSTREAM_API_TOKEN")
    rule_sets = check_file(path)
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for group_key, rules in rule_sets.items():
            current = client.get(f"/v1/rulesets/{group_key}")
            if current.status_code != 200:
                raise ValueError(f"{group_key}: {current.status_code} {current.text}")
            version = int(current.json()["version"]) + 1
            resp = client.post(
                "/v1/events", json=ruleset_event(group_key, version, rules, "rules-cli")
            )
            if resp.status_code != 202:
                raise ValueError(f"{group_key}: {resp.status_code} {resp.text}")
            out.append((group_key, version, resp.json()["results"][0]["status"]))
    return out
