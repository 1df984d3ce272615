"""The enforcement consumer: decisions in, platform calls out, one record per decision.

A batch's decisions run group by group at once (each group's in order, so a mute and its
revoke reach the platform in the order they were decided), up to ENFORCEMENT_CONCURRENCY
groups at a time. Once every decision of the batch has its record on the ledger, the
records are published to the events topic (keyed by group, like every event) and
acknowledged, and only then does the partition's checkpoint move: a crash anywhere
re-reads the batch, and the ledger turns each decision it has seen into nothing, its
unfinished steps, or a republish of its record under the same id.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from services.enforcement.executor import SERVICE, Enforcer
from services.enforcement.store import EnforcementStore, ledger_id
from shared.codec import RecordRejected, decode_decision
from shared.consumer import Records
from shared.events import Decision
from shared.kafka import dead_letter_record
from shared.logging import get_logger
from shared.settings import Settings


class EnforcementWorker:
    def __init__(
        self,
        settings: Settings,
        enforcer: Enforcer,
        store: EnforcementStore,
        broker: KafkaBroker,
    ) -> None:
        self.settings = settings
        self.enforcer = enforcer
        self.store = store
        self.broker = broker
        self.log = get_logger(service=SERVICE)
        self.lock = asyncio.Lock()
        self.owned: set[TopicPartition] = set()
        self.gate = asyncio.Semaphore(settings.enforcement_concurrency)

    async def assigned(self, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        out = {}
        for tp in tps:
            out[tp] = await self.store.checkpoint(tp.topic, tp.partition)
            self.owned.add(tp)
        return out

    async def revoked(self, tps: set[TopicPartition]) -> None:
        # Waits for a batch in flight: the next owner starts from a checkpoint this one
        # has finished with.
        async with self.lock:
            self.owned.difference_update(tps)

    async def idle(self) -> None:
        return None

    async def process(self, records: Records) -> None:
        async with self.lock:
            by_group: dict[str, list[Decision]] = defaultdict(list)
            dead: list[Any] = []
            done: dict[TopicPartition, int] = {}
            for tp, batch in records.items():
                if tp not in self.owned:
                    continue
                for record in batch:
                    try:
                        decision = decode_decision(record.value or b"")
                    except RecordRejected as err:
                        dead.append(await self.dead_letter(record, err.reason))
                        continue
                    by_group[decision.group_key].append(decision)
                done[tp] = batch[-1].offset + 1
            # Every group runs to its end even when one fails: a failure rewinds the batch,
            # and a group still in flight then would run beside its own replay (and could
            # send a notice the replay, not yet seeing it on the ledger, sends again).
            results = await asyncio.gather(
                *(self._group(ds) for ds in by_group.values()), return_exceptions=True
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
            out = [r for group in results if not isinstance(group, BaseException) for r in group]
            futures = [
                await self.broker.publish(
                    json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(),
                    self.settings.events_topic,
                    key=f"{record['platform']}:{record['group_id']}".encode(),
                    no_confirm=True,
                )
                for _, record in out
            ]
            await asyncio.gather(*futures, *dead)
            await self.store.mark_published([entry for entry, _ in out])
            for topic in {tp.topic for tp in done}:
                await self.store.save_checkpoints(
                    topic, {tp.partition: o for tp, o in done.items() if tp.topic == topic}
                )

    async def _group(self, decisions: list[Decision]) -> list[tuple[str, dict[str, Any]]]:
        """One group's decisions, in order."""
        out = []
        async with self.gate:
            for decision in decisions:
                record = await self.enforcer.carry_out(decision)
                if record is not None:
                    out.append((ledger_id(decision.group_key, decision.decision_id), record))
        return out

    async def poison(self, tp: TopicPartition, record: Any, reason: str) -> None:
        """A decision that fails whenever it is carried out (a bug, not the platform: the
        platform's answers are outcomes): dead-lettered, and the partition moves on."""
        await asyncio.wait_for(await self.dead_letter(record, reason), 30)
        await self.store.save_checkpoints(tp.topic, {tp.partition: record.offset + 1})

    async def dead_letter(self, record: Any, reason: str) -> Any:
        return await dead_letter_record(self.broker, self.settings, SERVICE, record, reason)
