"""The reporting sink: one MongoDB transaction per partition batch, checkpoint included.

Exactly-once effect comes from here, not from Kafka: a batch's projection updates and the
checkpoints (projection, version, generation, topic, partition -> next offset) commit
together or not at all, and on assignment the consumer resumes from those checkpoints.
Each checkpoint carries an owner epoch; a write is a compare-and-set on (epoch, offset),
so a former owner that lost its partition cannot commit over the new one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pymongo import InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from services.reporting.archive_writer import ArchiveWriter
from services.reporting.event_ids import EventIdLog, PassFirstOccurrences, event_key
from services.reporting.folds import fold_decision, fold_event, index_specs
from services.reporting.folds.base import Batch, GroupDirectory
from services.reporting.generations import CHECKPOINTS, PROJECTIONS, ProjectionNames
from shared.archive import decision_body
from shared.codec import RecordRejected, decode_decision, event_to_dict
from shared.consumer import Retryable
from shared.events import Decision, Event
from shared.fast_codec import decode_model_fast
from shared.settings import Settings


class LostOwnership(Retryable):
    """Another consumer took this partition: drop the batch, never overwrite its work."""


class _RecordFailed(Exception):
    """A fold raised on one record: the record's fault (folds are pure), not the store's."""

    def __init__(self, offset: int, err: Exception) -> None:
        super().__init__(offset, err)
        self.offset = offset
        self.reason = f"fold failed: {type(err).__name__}: {err}"[:1000]


@dataclass(frozen=True, slots=True)
class _Plan:
    start: int
    fresh: frozenset[str] | None  # None: an events batch
    projections: list[str]


def seen_collection(physical: str) -> str:
    """Decisions already folded into one physical projection ("decision_id group_key";
    bare decision ids in documents written before ids were scoped by group)."""
    return f"{physical}_seen"


def decision_key(decision: Decision) -> str:
    """Decision ids derive from event ids, which are unique within a group only."""
    return f"{decision.decision_id} {decision.group_key}"


@dataclass(frozen=True, slots=True)
class Rejected:
    offset: int
    reason: str
    value: bytes


def checkpoint_id(projection: str, generation: int, topic: str, partition: int) -> str:
    return f"{projection}:v{PROJECTIONS[projection]}:g{generation}:{topic}:{partition}"


class ProjectionSink:
    def __init__(
        self,
        client: AsyncMongoClient,
        db: AsyncDatabase,
        settings: Settings,
        names: ProjectionNames,
        projections: list[str] | None = None,
        archive: ArchiveWriter | None = None,
        event_ids: EventIdLog | PassFirstOccurrences | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.settings = settings
        self.names = names
        self.projections = projections or list(PROJECTIONS)
        self.directory = GroupDirectory()
        self.epochs: dict[tuple[str, str, int], int] = {}
        self.offsets: dict[tuple[str, str, int], int] = {}
        self.writes = 0
        # The live sink also appends every record to the tamper-evident archive, in the
        # same transaction; a rebuild folds projections only.
        self.archive = archive
        self.archive_writes = 0
        # Where repeats are told apart: the store (the live sink), or one pass's own
        # memory (a rebuild, which reads every partition from its start).
        self.event_ids = event_ids if event_ids is not None else EventIdLog(db)

    async def ensure_indexes(self) -> None:
        await self.event_ids.ensure_indexes()
        specs = index_specs()
        for projection in self.projections:
            await self.db[seen_collection(self.names.physical(projection))].create_index("ids")
            coll = self.db[self.names.physical(projection)]
            for spec in specs.get(projection, []):
                keys, options = spec if isinstance(spec, tuple) else (spec, {})
                await coll.create_index(keys, **options)

    async def load_directory(self) -> None:
        async for doc in self.db[self.names.physical("groups")].find({}):
            self.directory.learn(doc["group_key"], doc.get("timezone"), doc.get("language"))

    async def claim(self, topic: str, partition: int) -> int:
        """Take ownership (bump the epoch) and return the offset to resume from."""
        resume: int | None = None
        for projection in self.projections:
            generation = self.names.generations[projection]
            doc = await self.db[CHECKPOINTS].find_one_and_update(
                {"_id": checkpoint_id(projection, generation, topic, partition)},
                {"$inc": {"epoch": 1}, "$setOnInsert": {"offset": 0}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            assert doc is not None  # upserted
            key = (projection, topic, partition)
            self.epochs[key] = int(doc["epoch"])
            self.offsets[key] = int(doc["offset"])
            resume = self.offsets[key] if resume is None else min(resume, self.offsets[key])
        return resume or 0

    def release(self, topic: str, partition: int) -> None:
        for projection in self.projections:
            self.epochs.pop((projection, topic, partition), None)
            self.offsets.pop((projection, topic, partition), None)

    async def apply(
        self, topic: str, partition: int, records: list[tuple[int, bytes]]
    ) -> list[Rejected]:
        """Fold one partition's records and commit them with the checkpoints. Returns the
        records that could not be decoded or folded (the caller dead-letters them).

        A record that repeats an event already folded (same group and event id earlier in
        the partition) changes nothing and is not archived again."""
        if not records:
            return []
        is_decisions = topic == self.settings.decisions_topic
        decoded: list[tuple[int, Event | Decision]] = []
        rejected: list[Rejected] = []
        values = dict(records)
        for offset, value in records:
            try:
                decoded.append(
                    (offset, decode_decision(value) if is_decisions else decode_model_fast(value))
                )
            except RecordRejected as err:
                rejected.append(Rejected(offset, err.reason, value))
        next_offset = records[-1][0] + 1
        try:
            async with self.client.start_session() as session, await session.start_transaction():
                if not is_decisions:
                    repeats = await self.event_ids.repeats(
                        topic,
                        partition,
                        [
                            (o, event_key(partition, r.group_key, r.event_id))
                            for o, r in decoded
                            if not isinstance(r, Decision)
                        ],
                        session,
                    )
                    if repeats:
                        decoded = [(o, r) for o, r in decoded if o not in repeats]
                plans = await self._plans(topic, partition, decoded, is_decisions, session)
                batch, failed = self._fold_isolating(decoded, plans, f"{topic}:{partition}")
                if failed:
                    bad = {f.offset for f in failed}
                    decoded = [(o, r) for o, r in decoded if o not in bad]
                if self.archive is not None:
                    self._stage_archive(decoded, partition, is_decisions)
                await self._write(batch, session)
                if self.archive is not None:
                    self.archive_writes += await self.archive.write(self.db, session)
                await self._checkpoint(topic, partition, next_offset, session)
        except BaseException:
            if self.archive is not None:
                self.archive.discard()
            raise
        if self.archive is not None:
            self.archive.commit()
        for projection in self.projections:
            key = (projection, topic, partition)
            self.offsets[key] = max(self.offsets.get(key, 0), next_offset)
        rejected.extend(Rejected(f.offset, f.reason, values[f.offset]) for f in failed)
        return sorted(rejected, key=lambda r: r.offset)

    async def skip(self, topic: str, partition: int, offset: int) -> None:
        """Move every projection's checkpoint past one record without folding it: the
        consumer gave up on it (it failed however often it was tried) and dead-letters it."""
        async with self.client.start_session() as session, await session.start_transaction():
            await self._checkpoint(topic, partition, offset + 1, session)
        for projection in self.projections:
            key = (projection, topic, partition)
            self.offsets[key] = max(self.offsets.get(key, 0), offset + 1)

    def _fold_isolating(
        self, decoded: list[tuple[int, Any]], plans: list[_Plan], source: str
    ) -> tuple[Batch, list[_RecordFailed]]:
        """Fold, leaving out each record a fold raises on (and folding the rest again, so
        no half-folded record is left in the batch). Bounded by the number of records."""
        failed: list[_RecordFailed] = []
        records = decoded
        while True:
            try:
                return self._fold(records, plans, source), failed
            except _RecordFailed as err:
                failed.append(err)
                records = [(o, r) for o, r in records if o != err.offset]

    def _stage_archive(
        self, decoded: list[tuple[int, Any]], partition: int, is_decisions: bool
    ) -> None:
        assert self.archive is not None
        for offset, record in decoded:
            if is_decisions:
                self.archive.append(
                    "decisions",
                    record.group_key,
                    record.decision_id,
                    partition,
                    offset,
                    decision_body(record),
                )
            else:
                self.archive.append(
                    "events",
                    record.group_key,
                    record.event_id,
                    partition,
                    offset,
                    event_to_dict(record),
                )

    async def _plans(
        self,
        topic: str,
        partition: int,
        decoded: list[tuple[int, Any]],
        is_decisions: bool,
        session: Any,
    ) -> list[_Plan]:
        """Which records to fold into which projections.

        Each projection resumes from its own checkpoint (a bumped fold version restarts at
        0 while the others go on) and has its own set of decisions already folded:
        moderation re-emits decisions with the same ids after a crash. Projections with
        the same start and the same unseen decisions share one pass (the usual case).
        """
        keys = sorted({decision_key(d) for _, d in decoded}) if is_decisions else []
        # Seen documents written before ids were scoped by group hold bare decision ids.
        lookup = keys + sorted({d.decision_id for _, d in decoded}) if is_decisions else []
        groups: dict[tuple[int, frozenset[str] | None], list[str]] = defaultdict(list)
        for projection in self.projections:
            start = self.offsets.get((projection, topic, partition), 0)
            fresh: frozenset[str] | None = None
            if is_decisions:
                seen_coll = self.db[seen_collection(self.names.physical(projection))]
                seen = {
                    i
                    async for d in seen_coll.find(
                        {"ids": {"$in": lookup}}, {"ids": 1}, session=session
                    )
                    for i in d["ids"]
                }
                fresh = frozenset(
                    k for k in keys if k not in seen and k.split(" ", 1)[0] not in seen
                )
            groups[(start, fresh)].append(projection)
        return [_Plan(start, fresh, projections) for (start, fresh), projections in groups.items()]

    def _fold(self, decoded: list[tuple[int, Any]], plans: list[_Plan], source: str) -> Batch:
        merged = Batch()
        for plan in sorted(plans, key=lambda p: p.start):
            batch = Batch()
            folded: set[str] = set()
            for offset, record in decoded:
                if offset < plan.start:
                    continue
                try:
                    if plan.fresh is not None:
                        dkey = decision_key(record)
                        if dkey not in plan.fresh or dkey in folded:
                            continue
                        folded.add(dkey)
                        ctx = self.directory.get(record.group_key)
                        if record.timezone:  # the clock of the rules that decided
                            ctx = GroupDirectory.context(
                                record.group_key,
                                record.timezone,
                                record.language or ctx.language,
                                ctx,
                            )
                        fold_decision(batch, record, ctx, only=plan.projections)
                    else:
                        if record.type == "ruleset.updated":
                            rules = record.payload.rules
                            self.directory.learn(
                                record.group_key, rules.get("timezone"), rules.get("language")
                            )
                        fold_event(
                            batch,
                            record,
                            self.directory.get(record.group_key),
                            self.settings,
                            only=plan.projections,
                        )
                except Exception as err:  # folds are pure: the record is at fault
                    raise _RecordFailed(offset, err) from err
            wanted = set(plan.projections)
            for key, delta in batch.docs.items():
                if key[0] in wanted:
                    merged.docs[key] = delta
            for key, doc in batch.inserts.items():
                if key[0] in wanted:
                    merged.inserts[key] = doc
            if plan.fresh is not None and folded:
                # Only projections a decision changes need to remember it: folding a
                # re-emitted decision into any other changes nothing anyway.
                touched = {key[0] for key in batch.docs} | {key[0] for key in batch.inserts}
                batch_id = f"{source}:{decoded[0][0]}-{decoded[-1][0]}"
                for projection in wanted & touched:
                    merged.seen[projection] = (batch_id, sorted(folded))
        return merged

    async def _write(self, batch: Batch, session: Any) -> None:
        ops: dict[str, list[Any]] = defaultdict(list)
        for (projection, doc_id), delta in batch.docs.items():
            ops[self.names.physical(projection)].append(
                UpdateOne({"_id": doc_id}, delta.to_update(), upsert=True)
            )
        for (projection, doc_id), doc in batch.inserts.items():
            ops[self.names.physical(projection)].append(
                UpdateOne({"_id": doc_id}, {"$setOnInsert": doc}, upsert=True)
            )
        for projection, (batch_id, seen_ids) in batch.seen.items():
            # One document per batch (ids in a multikey-indexed array), not one per decision.
            ops[seen_collection(self.names.physical(projection))].append(
                InsertOne({"_id": batch_id, "ids": seen_ids})
            )
        for collection, updates in ops.items():
            await self.db[collection].bulk_write(updates, ordered=False, session=session)
            self.writes += len(updates)

    async def _checkpoint(self, topic: str, partition: int, next_offset: int, session: Any) -> None:
        for projection in self.projections:
            key = (projection, topic, partition)
            if self.offsets[key] >= next_offset:
                continue  # ahead of this batch: it was folded into this projection before
            generation = self.names.generations[projection]
            result = await self.db[CHECKPOINTS].update_one(
                {
                    "_id": checkpoint_id(projection, generation, topic, partition),
                    "epoch": self.epochs[key],
                    "offset": self.offsets[key],
                },
                {"$set": {"offset": next_offset}},
                session=session,
            )
            if result.matched_count != 1:
                raise LostOwnership(f"{topic}:{partition} is owned by another consumer now")
