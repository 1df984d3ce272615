"""The audit trail of one user, read from the archive (read-only).

The archive, not the projections, is the source: it holds the events and decisions
themselves (with the rule-set version each decision ran under), it survives projection
rebuilds, and its chain proves nothing in the trail was edited.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.archive import ARCHIVE
from shared.chain import record_id

# Event types that concern a user beyond their own messages.
_TRAIL_TYPES = ["complaint.filed", "sanction.applied"]
_CLOSING_TYPES = ["complaint.resolved", "sanction.revoked"]
# At one instant a cause reads before its consequence: the message, then the decision.
_KIND_ORDER = {
    "message": 0,
    "complaint": 1,
    "decision": 2,
    "sanction": 3,
    "complaint_resolved": 4,
    "sanction_revoked": 5,
}


def _user_key(group_key: str, user_id: str | None) -> str | None:
    return None if not user_id else f"{group_key.split(':', 1)[0]}:{user_id}"


def _scope(allowed_groups: AbstractSet[str] | None) -> dict[str, Any]:
    return {} if allowed_groups is None else {"group_key": {"$in": sorted(allowed_groups)}}


async def user_history(
    db: AsyncDatabase, user_key: str, allowed_groups: AbstractSet[str] | None = None
) -> dict[str, Any]:
    """Every flagged message, decision, manual sanction and complaint by or about a user.

    allowed_groups: the groups the caller may see (None: all). Nothing of another group
    is read, so an operator scoped to one group never learns of the others.
    """
    archive = db[ARCHIVE]
    scope = _scope(allowed_groups)
    decisions: list[dict[str, Any]] = []
    complaints: dict[tuple[str, str], dict[str, Any]] = {}
    sanctions: dict[tuple[str, str], dict[str, Any]] = {}

    query = {"users": user_key, **scope, "type": {"$in": ["decision", *_TRAIL_TYPES]}}
    async for doc in archive.find(query).sort([("at", ASCENDING), ("_id", ASCENDING)]):
        body = doc["body"]
        group = doc["group_key"]
        if doc["stream"] == "decisions":
            decisions.append(
                {
                    "decision_id": body["decision_id"],
                    "group_key": group,
                    "decided_at": body["decided_at"],
                    "action": body["action"],
                    "duration_s": body.get("duration_s"),
                    "rule_id": body["rule_id"],
                    "ruleset_version": body["ruleset_version"],
                    "reason": body["reason"],
                    "matched": body.get("matched"),
                    "case_id": body.get("case_id"),
                    "cause_event_ids": list(body.get("cause_event_ids", [])),
                }
            )
            continue
        p = body.get("payload", {})
        actor_key = _user_key(group, body.get("user_id"))
        target_key = _user_key(group, p.get("target_user_id"))
        common = {
            "event_id": body["event_id"],
            "group_key": group,
            "occurred_at": body["occurred_at"],
            "actor": body.get("actor"),
        }
        if doc["type"] == "complaint.filed":
            complaints[(group, p["complaint_id"])] = {
                **common,
                "role": "about" if target_key == user_key else "by",
                "complaint_id": p["complaint_id"],
                "reporter": actor_key,
                "target": target_key,
                "target_message_id": p.get("target_message_id"),
                "category": p.get("category"),
                "reason": p.get("reason", ""),
                "resolution": None,
            }
        else:
            sanctions[(group, p["sanction_id"])] = {
                **common,
                "role": "about" if target_key == user_key else "by",
                "sanction_id": p["sanction_id"],
                "by": actor_key,
                "target": target_key,
                "action": p.get("action"),
                "duration_s": p.get("duration_s"),
                "reason": p.get("reason"),
                "by_role": p.get("by_role"),
                "revoked": None,
            }

    refs = [f"complaint:{cid}" for _, cid in complaints] + [
        f"sanction:{sid}" for _, sid in sanctions
    ]
    if refs:
        closing = {"refs": {"$in": refs}, "type": {"$in": _CLOSING_TYPES}, **scope}
        async for doc in archive.find(closing).sort([("at", ASCENDING)]):
            body, group = doc["body"], doc["group_key"]
            p = body.get("payload", {})
            closed = {
                "event_id": body["event_id"],
                "at": body["occurred_at"],
                "by": _user_key(group, body.get("user_id")),
                "actor": body.get("actor"),
            }
            if doc["type"] == "complaint.resolved":
                item = complaints.get((group, p.get("complaint_id", "")))
                if item is not None:
                    item["resolution"] = {
                        **closed,
                        "outcome": p["outcome"],
                        "note": p.get("note", ""),
                    }
            else:
                item = sanctions.get((group, p.get("sanction_id", "")))
                if item is not None:
                    item["revoked"] = {**closed, "reason": p.get("reason", "")}

    flagged = await _flagged_messages(db, user_key, decisions, allowed_groups)
    timeline = _timeline(decisions, list(complaints.values()), list(sanctions.values()), flagged)
    groups = sorted(
        {d["group_key"] for d in decisions}
        | {c["group_key"] for c in complaints.values()}
        | {s["group_key"] for s in sanctions.values()}
    )
    return {
        "user_key": user_key,
        "groups": groups,
        "flagged_messages": flagged,
        "decisions": decisions,
        "sanctions": list(sanctions.values()),
        "complaints": list(complaints.values()),
        "timeline": timeline,
    }


async def _flagged_messages(
    db: AsyncDatabase,
    user_key: str,
    decisions: list[dict[str, Any]],
    allowed_groups: AbstractSet[str] | None,
) -> list[dict[str, Any]]:
    """The user's own messages that caused a decision, each with those decisions."""
    by_event: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for d in decisions:
        for eid in d["cause_event_ids"]:
            by_event.setdefault((d["group_key"], eid), []).append(d)
    if not by_event:
        return []
    ids = [record_id("events", group, eid) for group, eid in by_event]
    query = {"_id": {"$in": ids}, "type": "message.posted", **_scope(allowed_groups)}
    out = []
    async for doc in db[ARCHIVE].find(query).sort([("at", ASCENDING)]):
        body = doc["body"]
        if _user_key(doc["group_key"], body.get("user_id")) != user_key:
            continue
        caused = by_event.get((doc["group_key"], body["event_id"]), [])
        out.append(
            {
                "event_id": body["event_id"],
                "group_key": doc["group_key"],
                "occurred_at": body["occurred_at"],
                "message_id": body["payload"].get("message_id"),
                "text": body["payload"].get("text", ""),
                "decisions": [d["decision_id"] for d in caused],
                "rules": sorted({d["rule_id"] for d in caused}),
                "ruleset_versions": sorted({d["ruleset_version"] for d in caused}),
            }
        )
    return out


def _timeline(
    decisions: list[dict[str, Any]],
    complaints: list[dict[str, Any]],
    sanctions: list[dict[str, Any]],
    flagged: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One list in time order, for reading the trail top to bottom."""
    rows: list[dict[str, Any]] = []
    for m in flagged:
        rows.append(
            {
                "at": m["occurred_at"],
                "kind": "message",
                "group_key": m["group_key"],
                "ref": m["event_id"],
                "summary": m["text"][:200],
            }
        )
    for d in decisions:
        dur = f" {d['duration_s']}s" if d.get("duration_s") else ""
        rows.append(
            {
                "at": d["decided_at"],
                "kind": "decision",
                "group_key": d["group_key"],
                "ref": d["decision_id"],
                "summary": f"{d['action']}{dur} by rule {d['rule_id']} (rules v{d['ruleset_version']})",
            }
        )
    for c in complaints:
        who = "complaint about this user" if c["role"] == "about" else "complaint filed"
        rows.append(
            {
                "at": c["occurred_at"],
                "kind": "complaint",
                "group_key": c["group_key"],
                "ref": c["complaint_id"],
                "summary": f"{who}: {c['category']}",
            }
        )
        if c["resolution"]:
            r = c["resolution"]
            rows.append(
                {
                    "at": r["at"],
                    "kind": "complaint_resolved",
                    "group_key": c["group_key"],
                    "ref": c["complaint_id"],
                    "summary": f"complaint {r['outcome']}",
                }
            )
    for s in sanctions:
        who = "sanction" if s["role"] == "about" else "sanction applied by this user"
        dur = f" {s['duration_s']}s" if s.get("duration_s") else ""
        rows.append(
            {
                "at": s["occurred_at"],
                "kind": "sanction",
                "group_key": s["group_key"],
                "ref": s["sanction_id"],
                "summary": f"{who}: {s['action']}{dur} ({s['by_role']})",
            }
        )
        if s["revoked"]:
            rows.append(
                {
                    "at": s["revoked"]["at"],
                    "kind": "sanction_revoked",
                    "group_key": s["group_key"],
                    "ref": s["sanction_id"],
                    "summary": f"revoked: {s['revoked']['reason']}",
                }
            )
    rows.sort(key=lambda r: (_sort_time(r["at"]), _KIND_ORDER.get(r["kind"], 9), r["ref"]))
    return rows


def _sort_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
