"""Moderation state snapshots in MongoDB, each with the partition offset it reflects."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

COLLECTION = "moderation_snapshots"


def snapshot_id(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class SnapshotStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._coll = db[COLLECTION]

    async def load(self, topic: str, partition: int) -> tuple[int, dict[str, Any] | None]:
        doc = await self._coll.find_one({"_id": snapshot_id(topic, partition)})
        if doc is None:
            return 0, None
        state = doc["state"]
        return int(doc["offset"]), json.loads(state) if isinstance(state, str) else state

    async def save(
        self, topic: str, partition: int, offset: int, state: dict[str, Any] | str
    ) -> None:
        """Never move a snapshot backwards: a slower former owner must not undo a newer one.

        The filter only matches an older snapshot; when a newer one exists the upsert's
        insert collides on _id, which is exactly the case to ignore.
        """
        with contextlib.suppress(DuplicateKeyError):
            await self._coll.update_one(
                {"_id": snapshot_id(topic, partition), "offset": {"$lte": offset}},
                {"$set": {"offset": offset, "state": state}},
                upsert=True,
            )
