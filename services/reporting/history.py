"""The audit trail of one user, read from the archive (read-only).

The archive, not the projections, is the source: it holds the events and decisions
themselves (with the rule-set version each decision ran under), it survives projection
rebuilds, and its chain proves nothing in the trail was edited.

The archive stores chunks (shared/archive.py): a query finds the chunks whose combined
query fields match, and the records inside are filtered by their own user keys, refs and
types (`index_fields`, as the writer computes them).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.reads import scope_filter
from shared.archive import ARCHIVE, chunk_records, record_fields, require_format, sort_time
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


# A matching record with its query fields.
_Found = tuple[dict[str, Any], dict[str, Any]]


async def _records(
    db: AsyncDatabase,
    query: dict[str, Any],
    allowed_groups: AbstractSet[str] | None,
    keep: Callable[[dict[str, Any], dict[str, Any]], bool],
) -> list[_Found]:
    """The records of the chunks matching `query` that `keep` (record, fields) accepts.
    A record naming a group outside the caller's is never returned, whatever chunk
    holds it."""
    found: list[_Found] = []
    projection = {"group_key": 1, "stream": 1, "records": 1}
    async for doc in db[ARCHIVE].find({**query, **scope_filter(allowed_groups)}, projection):
        for record in chunk_records(doc):
            if not isinstance(record.get("body"), dict):
                continue
            if allowed_groups is not None and record.get("group_key") not in allowed_groups:
                continue
            fields = record_fields(record)
            if keep(record, fields):
                found.append((record, fields))
    return found


def _by_time_and_id(item: _Found) -> tuple[Any, ...]:
    """Time, then the record's id (the order format 1 read them in: at, _id)."""
    record, fields = item
    rid = record_id(str(record["stream"]), str(record["group_key"]), str(record.get("id")))
    return (sort_time(fields["at"]), rid)


def _by_time(item: _Found) -> tuple[Any, ...]:
    """Time, then the order of the chain (as written)."""
    record, fields = item
    seq = record.get("seq")
    return (
        sort_time(fields["at"]),
        str(record["group_key"]),
        str(record["stream"]),
        seq if isinstance(seq, int) else -1,
    )


async def user_history(
    db: AsyncDatabase, user_key: str, allowed_groups: AbstractSet[str] | None = None
) -> dict[str, Any]:
    """Every flagged message, decision, manual sanction and complaint by or about a user.

    allowed_groups: the groups the caller may see (None: all). Nothing of another group
    is read, so an operator scoped to one group never learns of the others.
    """
    await require_format(db)
    decisions: list[dict[str, Any]] = []
    complaints: dict[tuple[str, str], dict[str, Any]] = {}
    sanctions: dict[tuple[str, str], dict[str, Any]] = {}

    wanted = {"decision", *_TRAIL_TYPES}
    trail = await _records(
        db,
        {"users": user_key, "types": {"$in": sorted(wanted)}},
        allowed_groups,
        lambda _, f: user_key in f["users"] and f["type"] in wanted,
    )
    for record, fields in sorted(trail, key=_by_time_and_id):
        body = record["body"]
        group = record["group_key"]
        if record["stream"] == "decisions":
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
            "role": "about" if target_key == user_key else "by",
        }
        if fields["type"] == "complaint.filed":
            complaints[(group, p["complaint_id"])] = {
                **common,
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
        wanted_refs = set(refs)
        closing = await _records(
            db,
            {"refs": {"$in": refs}, "types": {"$in": _CLOSING_TYPES}},
            allowed_groups,
            lambda _, f: f["type"] in _CLOSING_TYPES and not wanted_refs.isdisjoint(f["refs"]),
        )
        for record, fields in sorted(closing, key=_by_time):
            body, group = record["body"], record["group_key"]
            p = body.get("payload", {})
            closed = {
                "event_id": body["event_id"],
                "at": body["occurred_at"],
                "by": _user_key(group, body.get("user_id")),
                "actor": body.get("actor"),
            }
            if fields["type"] == "complaint.resolved":
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
    wanted = set(ids)
    messages = await _records(
        db,
        {"ids": {"$in": ids}, "types": "message.posted"},
        allowed_groups,
        lambda r, f: (
            f["type"] == "message.posted"
            and record_id(str(r["stream"]), str(r["group_key"]), str(r.get("id"))) in wanted
        ),
    )
    out = []
    for record, _ in sorted(messages, key=_by_time):
        body, group = record["body"], record["group_key"]
        if _user_key(group, body.get("user_id")) != user_key:
            continue
        caused = by_event.get((group, body["event_id"]), [])
        out.append(
            {
                "event_id": body["event_id"],
                "group_key": group,
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

    def add(at: str, kind: str, group: str, ref: str, summary: str) -> None:
        """One row, keys in the order of responses.TimelineEntry, whatever it records."""
        rows.append({"at": at, "kind": kind, "group_key": group, "ref": ref, "summary": summary})

    for m in flagged:
        add(m["occurred_at"], "message", m["group_key"], m["event_id"], m["text"][:200])
    for d in decisions:
        dur = f" {d['duration_s']}s" if d.get("duration_s") else ""
        summary = f"{d['action']}{dur} by rule {d['rule_id']} (rules v{d['ruleset_version']})"
        add(d["decided_at"], "decision", d["group_key"], d["decision_id"], summary)
    for c in complaints:
        who = "complaint about this user" if c["role"] == "about" else "complaint filed"
        group, ref = c["group_key"], c["complaint_id"]
        add(c["occurred_at"], "complaint", group, ref, f"{who}: {c['category']}")
        if c["resolution"]:
            r = c["resolution"]
            add(r["at"], "complaint_resolved", group, ref, f"complaint {r['outcome']}")
    for s in sanctions:
        who = "sanction" if s["role"] == "about" else "sanction applied by this user"
        dur = f" {s['duration_s']}s" if s.get("duration_s") else ""
        group, ref = s["group_key"], s["sanction_id"]
        add(s["occurred_at"], "sanction", group, ref, f"{who}: {s['action']}{dur} ({s['by_role']})")
        if s["revoked"]:
            revoked = s["revoked"]
            add(revoked["at"], "sanction_revoked", group, ref, f"revoked: {revoked['reason']}")
    rows.sort(key=lambda r: (_sort_time(r["at"]), _KIND_ORDER.get(r["kind"], 9), r["ref"]))
    return rows


def _sort_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
