"""The accept path shared by canonical events and webhooks: claim ids, publish, confirm.

Each event of a request is answered once: `accepted` by the one request that claimed it,
`duplicate` by every other. Whatever the answer, the event is on the topic when it is
given: a claim another request has not confirmed is published again here (see dedup.py).
"""

from __future__ import annotations

from services.ingest.dedup import DedupStore, claim_key
from services.ingest.publisher import EventPublisher
from shared.events import Event, now_utc
from shared.metrics import INGEST_EVENTS
from shared.settings import Settings


class Ingest:
    def __init__(self, settings: Settings, publisher: EventPublisher, dedup: DedupStore) -> None:
        self.settings = settings
        self.publisher = publisher
        self.dedup = dedup

    async def accept(self, events: list[Event], platform: str) -> list[dict[str, str]]:
        at = now_utc()
        keys = [claim_key(e.group_key, e.event_id) for e in events]
        unique = list(dict.fromkeys(keys))
        claim = await self.dedup.claim(unique, at)
        publish = claim.to_publish
        fresh: list[Event] = []
        results: list[dict[str, str]] = []
        answered: set[str] = set()
        for event, key in zip(events, keys, strict=True):
            first = key not in answered
            answered.add(key)
            if first and key in publish:
                fresh.append(event)
            mine = first and key in claim.mine
            results.append(
                {"event_id": event.event_id, "status": "accepted" if mine else "duplicate"}
            )
        try:
            if fresh:
                await self.publisher.publish(fresh)
        except BaseException:
            # BrokerUnavailable (503: the client retries) or a cancelled request: the keys
            # are given back so the retry can claim and publish them.
            await self.dedup.release(claim)
            raise
        self.dedup.confirm_behind(claim, publish, at)
        for r in results:
            INGEST_EVENTS.labels(platform, r["status"], "").inc()
        return results
