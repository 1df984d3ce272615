"""MongoDB through PyMongo's async API (AsyncMongoClient); Motor is deprecated."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import Settings


def make_mongo(
    settings: Settings, timeout_s: float | None = None, *, retry_writes: bool = True
) -> AsyncMongoClient:
    """A client whose every wait is bounded.

    PyMongo's defaults wait on a store that accepts connections but never answers (a
    frozen or overloaded server) for as long as it stays that way: no socket timeout, and
    20 s to connect. So: 5 s to find a server, `mongo_connect_timeout_ms` to connect and
    handshake (the monitor's heartbeat uses it too, so a frozen server is marked unknown
    within it and operations stop being sent to it), and `mongo_socket_timeout_ms` for any
    one reply: long enough for the consumers' biggest transaction, short enough that a
    consumer never hangs on a dead socket. API requests bound their store calls much
    tighter on top of this, per request (`shared.http_server.within_store_deadline`).

    `timeout_s` sets PyMongo's client-side operation timeout (`timeoutMS`: selection,
    checkout and reply of each operation together) for a client that serves requests only
    (ingest's): every operation then fails within it, so a caller that falls back on a
    store error (ingest's dedup) answers in time. A `pymongo.timeout()` block overrides it.

    `retry_writes=False` is for a caller whose every write is idempotent on its own terms
    (the enforcer's ledger: an insert that may meet its own earlier copy, `$set`s of whole
    step records) and that retries from its checkpoint anyway: the server then keeps no
    retryable-write record per write (SecantusDB scans all of them on every write).
    """
    options: dict[str, Any] = {}
    if timeout_s is not None:
        options["timeoutMS"] = int(timeout_s * 1000)
    return AsyncMongoClient(
        settings.mongo_url,
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=settings.mongo_connect_timeout_ms,
        socketTimeoutMS=settings.mongo_socket_timeout_ms,
        tz_aware=True,
        uuidRepresentation="standard",
        retryWrites=retry_writes,
        **options,
    )


def database(client: AsyncMongoClient, settings: Settings) -> AsyncDatabase:
    return client[settings.mongo_db]
