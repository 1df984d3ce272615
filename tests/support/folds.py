"""What the reporting fold tests share: one Telegram group in Shanghai, its decisions and
its enforcement records, and a small in-memory store that applies a batch's updates the
way MongoDB does (for the operators the folds use), so a test can read folded documents
back without a server."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting.folds.base import Batch, GroupContext
from shared.events import Decision, EnforcementRecordedEvent

GROUP = "telegram:-1001"
SHANGHAI = GroupContext(GROUP, ZoneInfo("Asia/Shanghai"), "zh-CN")

Docs = dict[tuple[str, str], dict[str, Any]]


def decision(
    at: str, action: str = "warn", target: str = "42", n: int = 0, **fields: Any
) -> Decision:
    """Decision `d<n>` of GROUP's advertising rule against `target`, at `at` (ISO)."""
    return Decision(
        decision_id=f"d{n}",
        group_key=GROUP,
        target_user_id=target,
        action=action,  # type: ignore[arg-type]
        rule_id="ads.link",
        ruleset_version=1,
        reason="advertising",
        cause_event_ids=[f"ev{n}"],
        decided_at=datetime.fromisoformat(at),
        **fields,
    )


def enforced(
    at: str,
    outcome: str = "executed",
    action: str = "warn",
    n: int = 0,
    phase: str = "apply",
    target: str = "42",
    **payload: Any,
) -> EnforcementRecordedEvent:
    """The enforcer's record of decision `d<n>` (see `decision`), as it publishes it."""
    return EnforcementRecordedEvent.model_validate(
        {
            "event_id": f"enf-d{n}-{phase}-{at}",
            "schema_version": 1,
            "occurred_at": at,
            "received_at": at,
            "platform": "telegram",
            "group_id": "-1001",
            "user_id": target,
            "actor": {"name": "enforcement", "role": "system"},
            "payload": {
                "decision_id": f"d{n}",
                "action": action,
                "outcome": outcome,
                "phase": phase,
                "mode": "dry_run" if outcome == "dry_run" else "live",
                "rule_id": "ads.link",
                "platform_call": "POST /sendMessage",
                "attempts": 1,
                **payload,
            },
        }
    )


# ---------------------------------------------------------------- an in-memory store


def _parent(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *heads, last = path.split(".")
    for head in heads:
        doc = doc.setdefault(head, {})
    return doc, last


def _push(current: list[Any], spec: dict[str, Any]) -> list[Any]:
    items = [*current, *spec["$each"]]
    order = spec.get("$sort")
    if isinstance(order, dict):
        for field, direction in reversed(list(order.items())):
            items.sort(key=lambda i, f=field: i[f], reverse=direction < 0)  # type: ignore[misc]
    elif order is not None:
        items.sort(reverse=order < 0)
    if "$slice" in spec:
        n = spec["$slice"]
        items = items[:n] if n >= 0 else items[n:]
    return items


def apply_update(doc: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any]:
    """`update` applied to `doc` (None: an upsert that inserts)."""
    inserting = doc is None
    out: dict[str, Any] = {} if doc is None else doc
    for op, fields in update.items():
        if op == "$setOnInsert" and not inserting:
            continue
        for path, value in fields.items():
            parent, name = _parent(out, path)
            if op in ("$set", "$setOnInsert"):
                parent[name] = value
            elif op == "$inc":
                parent[name] = parent.get(name, 0) + value
            elif op == "$max":
                parent[name] = value if name not in parent else max(parent[name], value)
            elif op == "$min":
                parent[name] = value if name not in parent else min(parent[name], value)
            elif op == "$addToSet":
                into = parent.setdefault(name, [])
                into.extend(v for v in value["$each"] if v not in into)
            elif op == "$push":
                parent[name] = _push(parent.get(name, []), value)
            else:
                raise NotImplementedError(op)
    return out


def store(batches: Iterable[Batch], docs: Docs | None = None) -> Docs:
    """The documents after writing `batches` in turn, as the sink writes them."""
    out: Docs = {} if docs is None else docs
    for batch in batches:
        for key, delta in batch.docs.items():
            out[key] = apply_update(out.get(key), delta.to_update())
        for key, document in batch.inserts.items():
            out.setdefault(key, dict(document))
    return out


def of(docs: Docs, collection: str) -> list[dict[str, Any]]:
    """The documents of one collection, by _id, with their _id (as the store gives them)."""
    return [{"_id": key[1], **doc} for key, doc in sorted(docs.items()) if key[0] == collection]
