"""The archive's record format: collection names, the stored document and its query fields.

The archive (every event and decision, hash-chained per group, see `shared/chain.py`) is
written by reporting inside its projection transactions and read by the audit commands,
the user history and replays; this module is the one definition they share.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.chain import record_id
from shared.events import Decision

ARCHIVE = "archive"
HEADS = "archive_heads"


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def index_fields(stream: str, group_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """Fields outside the hash that make the archive queryable: when (`at`, a real date,
    since RFC 3339 strings do not sort by time) and which user keys a record concerns."""
    platform = group_key.split(":", 1)[0]
    users: list[str] = []
    refs: list[str] = []
    if stream == "decisions":
        at = _parse_time(body.get("decided_at"))
        if body.get("target_user_id"):
            users.append(f"{platform}:{body['target_user_id']}")
        etype = "decision"
    else:
        at = _parse_time(body.get("occurred_at"))
        etype = str(body.get("type", ""))
        if body.get("user_id"):
            users.append(f"{platform}:{body['user_id']}")
        payload = body.get("payload") or {}
        if isinstance(payload, dict):
            if payload.get("target_user_id"):
                users.append(f"{platform}:{payload['target_user_id']}")
            # complaint.resolved and sanction.revoked only name what they close
            if payload.get("complaint_id"):
                refs.append(f"complaint:{payload['complaint_id']}")
            if payload.get("sanction_id"):
                refs.append(f"sanction:{payload['sanction_id']}")
    return {
        "at": at,
        "type": etype,
        "users": sorted(set(users)),
        "refs": refs,
    }


def archive_document(record: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a chain record: the record plus its _id and query fields."""
    return {
        "_id": record_id(record["stream"], record["group_key"], record["id"]),
        **record,
        **index_fields(record["stream"], record["group_key"], record["body"]),
    }


def decision_body(decision: Decision) -> dict[str, Any]:
    """A decision's canonical dict, as it travels on the decisions topic."""
    return decision.model_dump(mode="json", exclude_none=True)
