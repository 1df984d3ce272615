"""The rule-version store: the highest rule-set version ingest has taken per group.

A rule change (`ruleset.updated`) must validate and raise its group's version, else
nothing of the request is sent (422 for invalid rules, 409 for a version not above the
one on record); once the events are on the topic the new version is recorded. Every
call shares the store deadline of one request (settings.store_timeout_s): a store that
does not answer is 503 + Retry-After (through shared.http_server.install_store_errors,
or VersionUnrecorded when the events were already accepted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException
from pymongo.errors import PyMongoError

from shared.events import Event
from shared.http_server import RETRY_AFTER_S, is_store_unavailable, within_store_deadline
from shared.rules import RulesError, validate_rules

RULESETS = "ingest_rulesets"


class VersionUnrecorded(HTTPException):
    """The events are on the topic but the new rule-set version is not on record, so a
    later, lower version would not be refused. 503: the client retries the same request,
    which is answered `duplicate` and records the version then."""

    def __init__(self, err: PyMongoError) -> None:
        super().__init__(
            503,
            "events accepted, but the rule-set version could not be recorded "
            f"({type(err).__name__}); retry the same request",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


class RulesetVersions:
    """The `ingest_rulesets` collection: one document per group, `{_id: group key,
    version}`."""

    def __init__(self, db: Any, deadline_s: float) -> None:
        self._db = db
        self._deadline_s = deadline_s

    async def check(self, events: Sequence[Event]) -> None:
        """Every rule change among `events` validates and raises its group's version
        (422 or 409 otherwise, for the first one that does not, in order)."""
        await within_store_deadline(self._check(events), self._deadline_s)

    async def record(self, events: Sequence[Event]) -> None:
        """Put the versions of the rule changes among `events` on record (never lowering
        one); a store that does not answer is VersionUnrecorded (503)."""
        try:
            await within_store_deadline(self._record(events), self._deadline_s)
        except PyMongoError as err:
            if not is_store_unavailable(err):
                raise
            raise VersionUnrecorded(err) from err

    async def version(self, group_key: str) -> int:
        """The group's rule-set version on record, 0 when it has none."""
        doc = await within_store_deadline(
            self._db[RULESETS].find_one({"_id": str(group_key)}), self._deadline_s
        )
        return int(doc["version"]) if doc else 0

    async def _check(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.type != "ruleset.updated":
                continue
            try:
                validate_rules(dict(event.payload.rules), f"event {event.event_id}")
            except RulesError as err:
                raise HTTPException(422, f"event {event.event_id}: invalid rules: {err}") from err
            doc = await self._db[RULESETS].find_one({"_id": event.group_key})
            current = int(doc["version"]) if doc else 0
            if event.payload.version <= current:
                raise HTTPException(
                    409,
                    f"event {event.event_id}: version {event.payload.version} is not above "
                    f"{event.group_key}'s current version {current}",
                )

    async def _record(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.type == "ruleset.updated":
                await self._db[RULESETS].update_one(
                    {"_id": event.group_key},
                    {"$max": {"version": event.payload.version}},
                    upsert=True,
                )
