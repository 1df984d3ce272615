"""Where each projection lives in MongoDB, so a rebuild can write a new generation beside
the one serving reads and switch over atomically (blue/green)."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

# Projection name -> fold version. Bump a version when its fold changes meaning: the
# checkpoint is keyed by it, so the new version folds the stream again from the start.
PROJECTIONS: dict[str, int] = {
    "activity": 2,  # v2: month documents with days inside (write efficiency)
    "users": 2,
    "violations": 2,
    "complaints": 2,
    "operators": 2,
    "spotchecks": 2,
    "groups": 1,
    "enforcement": 1,  # v1: decided against what the enforcer did
    "queue": 1,
}

SERVING = "projection_serving"
CHECKPOINTS = "checkpoints"


def physical_name(projection: str, generation: int) -> str:
    """The fold version is part of the name: a changed fold never folds onto old data."""
    return f"p_{projection}_v{PROJECTIONS[projection]}_g{generation}"


class ProjectionNames:
    """Logical projection -> physical collection, as recorded in `projection_serving`."""

    def __init__(self, generations: dict[str, int] | None = None) -> None:
        self.generations = {p: 1 for p in PROJECTIONS} | (generations or {})

    def physical(self, projection: str) -> str:
        return physical_name(projection, self.generations[projection])

    @classmethod
    async def load(cls, db: AsyncDatabase) -> ProjectionNames:
        generations = {
            d["_id"]: int(d["generation"])
            async for d in db[SERVING].find({})
            if d["_id"] in PROJECTIONS
        }
        return cls(generations)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProjectionNames) and self.generations == other.generations


async def collection_for(db: AsyncDatabase, projection: str):  # type: ignore[no-untyped-def]
    """The collection serving reads for a projection now (re-read per request: cheap, and a
    switch by `modstream rebuild` is seen at once)."""
    doc = await db[SERVING].find_one({"_id": projection})
    generation = int(doc["generation"]) if doc else 1
    return db[physical_name(projection, generation)]
