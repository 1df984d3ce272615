"""MongoDB through PyMongo's async API (AsyncMongoClient); Motor is deprecated."""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import Settings


def make_mongo(settings: Settings) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongo_url,
        serverSelectionTimeoutMS=5_000,
        tz_aware=True,
        uuidRepresentation="standard",
    )


def database(client: AsyncMongoClient, settings: Settings) -> AsyncDatabase:
    return client[settings.mongo_db]
