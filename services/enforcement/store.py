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
        await self.schedule.create_index([("status", ASCENDING), ("published", ASCENDING)])

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

    async def set_step(self, entry_id: str, index: int, step: dict[str, Any]) -> None:
        await self.ledger.update_one({"_id": entry_id}, {"$set": {f"steps.{index}": step}})

    async def claim_send(self, entry_id: str, index: int, step: dict[str, Any]) -> bool:
        """Mark a send `sending` if it is still pending: whether this run may send it."""
        result = await self.ledger.update_one(
            {"_id": entry_id, f"steps.{index}.state": "pending"},
            {"$set": {f"steps.{index}": step | {"state": "sending"}}},
        )
        return bool(result.matched_count)

    async def finish(
        self, entry_id: str, record: dict[str, Any], steps: list[Any]
    ) -> dict[str, Any]:
        """Finish an open entry with its record; the record in force (an entry another run
        finished first keeps its own, so one event id always carries one record)."""
        result = await self.ledger.update_one(
            {"_id": entry_id, "state": "open"},
            {"$set": {"state": "recorded", "record": record, "steps": steps, "published": False}},
        )
        if result.matched_count:
            return record
        found = await self.ledger.find_one({"_id": entry_id}, {"record": 1})
        if found is None or "record" not in found:
            raise Retryable(f"ledger entry {entry_id} was neither open nor recorded")
        return dict(found["record"])

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
        self, group_key: str, user_id: str, phases: list[str], before: float, keep: str
    ) -> int:
        """Later calls of this member's earlier decisions that a newer one makes moot (a
        revoke, a new sanction): pending ones, and ones a scheduler is carrying out (it
        then schedules nothing after them)."""
        result = await self.schedule.update_many(
            {
                "group_key": group_key,
                "user_id": user_id,
                "phase": {"$in": phases},
                "status": {"$in": ["pending", "running"]},
                "decided_at": {"$lte": before},
                "decision_id": {"$ne": keep},
            },
            {"$set": {"status": "cancelled"}},
        )
        return int(result.modified_count)

    async def claim_due(self, now: float, owner: str, lease_s: float) -> dict[str, Any] | None:
        """One due item, taken by `owner` under a lease (status `running`): another replica
        skips it until the lease ends, and takes it over if this one died holding it."""
        return await self.schedule.find_one_and_update(
            {
                "$or": [
                    {"status": "pending", "due_at": {"$lte": now}},
                    {"status": "running", "lease_until": {"$lte": now}},
                ]
            },
            {"$set": {"status": "running", "lease_until": now + lease_s, "owner": owner}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def finish_scheduled(self, item_id: str, owner: str, fields: dict[str, Any]) -> bool:
        """Record a running item this owner holds; False if it was cancelled meanwhile (or
        its lease passed to another replica)."""
        result = await self.schedule.update_one(
            {"_id": item_id, "status": "running", "owner": owner}, {"$set": fields}
        )
        return bool(result.matched_count)

    async def set_scheduled(self, item_id: str, fields: dict[str, Any]) -> None:
        await self.schedule.update_one({"_id": item_id}, {"$set": fields})

    async def unpublished_scheduled(self) -> list[dict[str, Any]]:
        return await self.schedule.find({"status": "recorded", "published": False}).to_list(None)

    async def pending_scheduled(self) -> int:
        return int(await self.schedule.count_documents({"status": "pending"}))
