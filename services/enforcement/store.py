"""The enforcer's records in MongoDB: the ledger (intent before a call, outcome after, and
the outbox of `enforcement.recorded`), the consumer's checkpoints, and the schedule of
later calls.

One ledger document per (group, decision): decision ids are derived from the causing
event's id, which is unique only within its group. The document is written before the
first call (the plan and its steps), after each step, and once the outcome is known (the
record to publish, `published: false`). A restart re-reads the decision from the
checkpoint and resumes from this document: finished steps are not repeated, a send found
`sending` (it may have gone out, its answer was lost) becomes `unknown` and is never sent
again, and a finished record that was not yet acknowledged by the broker is published
again under the same event id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.consumer import Retryable

LEDGER = "enforcement_ledger"
CHECKPOINTS = "enforcement_checkpoints"
SCHEDULE = "enforcement_schedule"
LIMITS = "enforcement_limits"


def ledger_id(group_key: str, decision_id: str) -> str:
    return f"{group_key}|{decision_id}"


class EnforcementStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.ledger = db[LEDGER]
        self.checkpoints = db[CHECKPOINTS]
        self.schedule = db[SCHEDULE]

    async def ensure_indexes(self) -> None:
        await self.schedule.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.schedule.create_index(
            [("group_key", ASCENDING), ("user_id", ASCENDING), ("status", ASCENDING)]
        )
        await self.ledger.create_index([("published", ASCENDING)])

    # ------------------------------------------------------------------ checkpoints

    async def checkpoint(self, topic: str, partition: int) -> int:
        doc = await self.checkpoints.find_one({"_id": f"{topic}:{partition}"})
        return int(doc["offset"]) if doc else 0

    async def save_checkpoints(self, topic: str, offsets: dict[int, int]) -> None:
        """Never backwards: a late write of an older position changes nothing."""
        if not offsets:
            return
        await self.checkpoints.bulk_write(
            [
                UpdateOne(
                    {"_id": f"{topic}:{partition}"}, {"$max": {"offset": offset}}, upsert=True
                )
                for partition, offset in offsets.items()
            ],
            ordered=False,
        )

    # ------------------------------------------------------------------ the ledger

    async def open_entry(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Write the intent (plan and steps) unless an entry exists; the entry in force."""
        for _ in range(3):
            try:
                await self.ledger.insert_one(doc)
                return doc
            except DuplicateKeyError:
                found = await self.ledger.find_one({"_id": doc["_id"]})
                if found is not None:
                    return found
        raise Retryable(f"ledger entry {doc['_id']} neither inserted nor found")

    async def find(self, entry_id: str) -> dict[str, Any] | None:
        return await self.ledger.find_one({"_id": entry_id})

    async def set_step(self, entry_id: str, index: int, step: dict[str, Any]) -> None:
        await self.ledger.update_one({"_id": entry_id}, {"$set": {f"steps.{index}": step}})

    async def finish(self, entry_id: str, record: dict[str, Any], steps: list[Any]) -> None:
        await self.ledger.update_one(
            {"_id": entry_id},
            {"$set": {"state": "recorded", "record": record, "steps": steps, "published": False}},
        )

    async def put_finished(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A whole entry at once, for decisions that make no call (dry_run, refused): the
        entry in force (an earlier one wins, so a republish keeps its bytes)."""
        return await self.open_entry(doc)

    async def mark_published(self, entry_ids: list[str]) -> None:
        if entry_ids:
            await self.ledger.update_many(
                {"_id": {"$in": entry_ids}}, {"$set": {"published": True}}
            )

    # ------------------------------------------------------------------ the schedule

    async def add_scheduled(self, items: list[dict[str, Any]]) -> None:
        """Idempotent: each item's id is derived from its decision and phase."""
        if items:
            await self.schedule.bulk_write(
                [UpdateOne({"_id": i["_id"]}, {"$setOnInsert": i}, upsert=True) for i in items],
                ordered=False,
            )

    async def cancel_scheduled(
        self, group_key: str, user_id: str, phases: list[str], before: float
    ) -> int:
        """Pending later calls this member no longer needs (a revoke came first)."""
        result = await self.schedule.update_many(
            {
                "group_key": group_key,
                "user_id": user_id,
                "phase": {"$in": phases},
                "status": "pending",
                "decided_at": {"$lte": before},
            },
            {"$set": {"status": "cancelled"}},
        )
        return int(result.modified_count)

    async def claim_due(self, now: float, owner: str, lease_s: float) -> dict[str, Any] | None:
        """One due item, leased to `owner` (another replica skips it until the lease ends;
        a replica that died holding one frees it so)."""
        return await self.schedule.find_one_and_update(
            {"status": "pending", "due_at": {"$lte": now}, "lease_until": {"$lte": now}},
            {"$set": {"lease_until": now + lease_s, "owner": owner}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def set_scheduled(self, item_id: str, fields: dict[str, Any]) -> None:
        await self.schedule.update_one({"_id": item_id}, {"$set": fields})

    async def unpublished_scheduled(self) -> list[dict[str, Any]]:
        return await self.schedule.find({"status": "recorded", "published": False}).to_list(None)

    async def pending_scheduled(self) -> int:
        return int(await self.schedule.count_documents({"status": "pending"}))


def utc_now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
