"""`modstream replay`: run the moderation engine offline over the recorded history.

The same engine the live service runs is fed every event of a partition, in offset order,
from the very first one: moderation state (ladders, windows, complaint cases) depends on
all prior history, so a replay that started at --from would not be the service. Only
the decisions are filtered to the period and groups asked for.

Two passes share one read of the stream:
- the recorded rules: a fresh engine as `build_engine` makes it; the stream's own
  `ruleset.updated` events switch rules exactly when they did live. Its decisions should
  match the recorded ones id for id (the reproduction rate, 100% expected);
- the what-if rules (--rules FILE): the file's rule sets replace the recorded ones for
  the groups it names (their `ruleset.updated` events are dropped and one synthetic update
  carrying the file's rules goes first), and its default replaces the default.

Nothing live is touched: the consumer has no group id, is assigned partitions by hand,
never commits, and nothing is produced; MongoDB is only read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.moderation.engine import Engine, PartitionState
from services.moderation.replay_diff import Comparison, compare
from shared.archive import ARCHIVE
from shared.codec import RecordRejected, decode_decision, decode_event, event_from_dict
from shared.events import Decision, Event, RulesetUpdatedEvent
from shared.kafka import log_end_offsets
from shared.mongo import database, make_mongo
from shared.rules import default_ruleset, effective_rules, load_ruleset_file
from shared.settings import Settings

WHATIF_VERSION = 1
# How far before --from complaint events are kept for showing the causes of a decision
# (a complaint case gathers complaints over its window; a day or a week is typical).
CAUSE_LOOKBACK = timedelta(days=30)
_POLL_MS = 1_000
_STALL_POLLS = 60
_TEXT_LIMIT = 2_000
# Seek the decisions topic this much before --from: a platform clock running ahead of the
# broker's would otherwise hide a decision whose record is stamped before its decided_at.
_SEEK_MARGIN = timedelta(days=1)


class ReplayError(RuntimeError):
    """The replay cannot run as asked; the message says what to do."""


@dataclass(frozen=True, slots=True)
class CauseEvent:
    """A causing event as an auditor reads it: who, when, and what was said."""

    event_id: str
    type: str
    group_key: str
    user_key: str
    occurred_at: str
    text: str


@dataclass
class ReplayResult:
    frm: datetime
    to: datetime
    groups: list[str] | None
    rules_file: str | None
    events_source: str  # "topic" or "archive"
    decisions_source: str  # "topic" or "archive"
    partitions: int
    events_read: int
    events_rejected: int
    reproduction: Comparison
    what_if: Comparison | None
    causes: dict[str, CauseEvent] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def reproduced_pct(self) -> float:
        return self.reproduction.reproduced_pct


# ---------------------------------------------------------------------- passes (pure)


def _synthetic_rules(event: Event, overrides: dict[str, Any]) -> RulesetUpdatedEvent:
    return RulesetUpdatedEvent(
        event_id=f"replay-what-if:{event.group_key}",
        schema_version=1,
        occurred_at=event.occurred_at,
        platform=event.platform,
        group_id=event.group_id,
        user_id="replay",
        payload={"version": WHATIF_VERSION, "rules": overrides},  # type: ignore[arg-type]
    )


@dataclass
class Pass:
    """One engine over the stream, one state per partition, decisions kept if wanted."""

    engine: Engine
    keep: Callable[[Decision], bool]
    # group key -> the rule overrides that replace the recorded ones (what-if only)
    replace: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    state: PartitionState = field(default_factory=PartitionState)
    _primed: set[str] = field(default_factory=set)

    def new_partition(self) -> None:
        self.state = PartitionState()
        self._primed = set()

    def feed(self, event: Event) -> list[Decision]:
        group = event.group_key
        if group in self.replace:
            if event.type == "ruleset.updated":
                return []
            if group not in self._primed:
                self._primed.add(group)
                self.engine.apply(self.state, _synthetic_rules(event, self.replace[group]))
        kept = [d for d in self.engine.apply(self.state, event) if self.keep(d)]
        self.decisions.extend(kept)
        return kept


def in_period(
    frm: datetime, to: datetime, groups: Iterable[str] | None
) -> Callable[[Decision], bool]:
    wanted = set(groups) if groups else None

    def keep(d: Decision) -> bool:
        return frm <= d.decided_at < to and (wanted is None or d.group_key in wanted)

    return keep


def whatif_engine(
    live_default_engine: Engine, rules_file: Path
) -> tuple[Engine, dict[str, dict[str, Any]]]:
    """The engine and the per-group overrides of a what-if rules file."""
    groups, raw_default = load_ruleset_file(rules_file)
    if raw_default:
        engine = Engine(effective_rules(default_ruleset(), raw_default))
    else:
        engine = Engine(live_default_engine.default_rules)
    return engine, groups


def _cause_of(event: Event) -> CauseEvent:
    payload: Any = event.payload
    if event.type == "message.posted":
        text = payload.text
    elif event.type == "complaint.filed":
        text = f"[{payload.category}] {payload.reason}".strip()
    else:
        text = ""
    return CauseEvent(
        event.event_id,
        event.type,
        event.group_key,
        event.user_key,
        event.occurred_at.isoformat().replace("+00:00", "Z"),
        text[:_TEXT_LIMIT],
    )


@dataclass
class Replayer:
    """Feeds events to both passes and remembers the causing events worth showing."""

    frm: datetime
    to: datetime
    groups: list[str] | None
    passes: list[Pass]
    wanted_causes: set[str] = field(default_factory=set)
    causes: dict[str, CauseEvent] = field(default_factory=dict)
    events_read: int = 0
    events_rejected: int = 0

    def new_partition(self) -> None:
        for p in self.passes:
            p.new_partition()

    def feed_raw(self, raw: dict[str, Any]) -> None:
        try:
            event = event_from_dict(raw)
        except RecordRejected:
            # live moderation dead-letters these; the engine never saw them
            self.events_rejected += 1
            return
        self.feed(event)

    def feed(self, event: Event) -> None:
        self.events_read += 1
        decided: list[Decision] = []
        for p in self.passes:
            decided.extend(p.feed(event))
        if self.groups and event.group_key not in self.groups:
            return
        keep = event.event_id in self.wanted_causes or any(
            event.event_id in d.cause_event_ids for d in decided
        )
        if not keep and event.type == "complaint.filed":
            keep = self.frm - CAUSE_LOOKBACK <= event.occurred_at < self.to
        if keep:
            self.causes[event.event_id] = _cause_of(event)


# ---------------------------------------------------------------------- reading


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    """No group id, no commits: invisible to the live consumer groups."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        client_id="modstream-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        request_timeout_ms=max(settings.kafka_request_timeout_ms, 40_000),
    )


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.topics()  # fetches metadata
    parts = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or [])]


async def _bounds(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], bootstrap: str
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    if not tps:
        return {}, {}
    begins = await consumer.beginning_offsets(tps)
    ends = await log_end_offsets(bootstrap, tps)
    return dict(begins), dict(ends)


async def _read(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int
) -> AsyncIterator[bytes]:
    """The values of [start, end) of one partition (end: fixed when the replay began)."""
    if start >= end:
        return
    consumer.assign([tp])
    consumer.seek(tp, start)
    stalled = 0
    while True:
        batch = await consumer.getmany(tp, timeout_ms=_POLL_MS, max_records=5_000)
        records = batch.get(tp, [])
        if not records:
            if await consumer.position(tp) >= end:
                return
            stalled += 1
            if stalled >= _STALL_POLLS:
                raise ReplayError(
                    f"{tp.topic}[{tp.partition}] returned nothing for {_STALL_POLLS}s before "
                    f"offset {end}: is the broker up?"
                )
            continue
        stalled = 0
        for record in records:
            if record.offset >= end:
                return
            yield record.value or b""
        if records[-1].offset + 1 >= end:
            return


async def _archive_partitions(db: AsyncDatabase) -> list[int]:
    return sorted(int(p) for p in await db[ARCHIVE].distinct("partition", {"stream": "events"}))


async def _archive_events(db: AsyncDatabase, partition: int) -> AsyncIterator[dict[str, Any]]:
    cursor = (
        db[ARCHIVE]
        .find({"stream": "events", "partition": partition}, {"body": 1})
        .sort([("offset", ASCENDING)])
    )
    async for doc in cursor:
        yield doc["body"]


async def _archive_counts(db: AsyncDatabase, stream: str) -> dict[int, int]:
    pipeline: list[dict[str, Any]] = [
        {"$match": {"stream": stream}},
        {"$group": {"_id": "$partition", "n": {"$sum": 1}}},
    ]
    cursor = await db[ARCHIVE].aggregate(pipeline)
    return {int(d["_id"]): int(d["n"]) async for d in cursor}


async def _topic_lacks_history(
    db: AsyncDatabase | None,
    stream: str,
    begins: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    notes: list[str],
) -> bool:
    """True when the archive holds more of the stream than the topic does.

    A topic whose log begins after offset 0 has lost records (retention, deletion); a
    recreated topic begins at 0 but holds fewer records than the archive kept.
    """
    if not begins:
        notes.append(f"the {stream} topic does not exist; reading the archive")
        return True
    if any(b > 0 for b in begins.values()):
        notes.append(f"the {stream} topic no longer starts at offset 0; reading the archive")
        return True
    if db is None:
        return False
    try:
        counts = await _archive_counts(db, stream)
    except PyMongoError as err:
        notes.append(f"archive not checked ({err.__class__.__name__}); reading the topic")
        return False
    held = {tp.partition: ends[tp] - begins[tp] for tp in begins}
    if any(n > held.get(p, 0) for p, n in counts.items()):
        notes.append(f"the archive holds {stream} the topic lacks; reading the archive")
        return True
    return False


async def _recorded_from_topic(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    ends: dict[TopicPartition, int],
    frm: datetime,
    keep: Callable[[Decision], bool],
) -> list[Decision]:
    # A decision is produced after its causing event happened, so its record's timestamp
    # is >= decided_at; seeking to --from by timestamp skips nothing of the period.
    at_ms = int((frm - _SEEK_MARGIN).timestamp() * 1000)
    starts = await consumer.offsets_for_times({tp: at_ms for tp in tps})
    out: list[Decision] = []
    for tp in tps:
        found = starts.get(tp)
        if found is None:
            continue
        async for value in _read(consumer, tp, found.offset, ends[tp]):
            try:
                decision = decode_decision(value)
            except RecordRejected:
                continue
            if keep(decision):
                out.append(decision)
    return out


async def _recorded_from_archive(
    db: AsyncDatabase, frm: datetime, to: datetime, groups: list[str] | None
) -> list[Decision]:
    query: dict[str, Any] = {"stream": "decisions", "at": {"$gte": frm, "$lt": to}}
    if groups:
        query["group_key"] = {"$in": list(groups)}
    out = []
    async for doc in db[ARCHIVE].find(query, {"body": 1}).sort([("at", ASCENDING)]):
        out.append(Decision.model_validate(doc["body"]))
    return out


# ---------------------------------------------------------------------- the replay


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def replay(
    settings: Settings,
    frm: datetime,
    to: datetime,
    groups: list[str] | None = None,
    rules_file: Path | None = None,
    *,
    source: str = "auto",
    engine: Engine | None = None,
) -> ReplayResult:
    """Replay the stream and compare with the recorded decisions of [frm, to).

    source: "auto" (the topic while it holds the whole history, else the archive),
    "topic" or "archive". `engine` replaces `build_engine(settings)` (tests).
    """
    frm, to = _utc(frm), _utc(to)
    if frm >= to:
        raise ReplayError(f"--from ({frm.isoformat()}) must be before --to ({to.isoformat()})")
    if source not in ("auto", "topic", "archive"):
        raise ReplayError(f"source must be auto, topic or archive, not {source!r}")
    if engine is None:
        from services.moderation.app import build_engine

        engine = build_engine(settings)
    groups = sorted(set(groups)) if groups else None
    keep = in_period(frm, to, groups)
    passes = [Pass(engine, keep)]
    whatif: Pass | None = None
    if rules_file is not None:
        w_engine, replace = whatif_engine(engine, rules_file)
        whatif = Pass(w_engine, keep, replace)
        passes.append(whatif)
    notes: list[str] = []

    mongo = make_mongo(settings)
    consumer = _consumer(settings)
    await consumer.start()
    try:
        db = database(mongo, settings)
        ev_tps = await _partitions(consumer, settings.events_topic)
        ev_begins, ev_ends = await _bounds(consumer, ev_tps, settings.kafka_bootstrap)
        dec_tps = await _partitions(consumer, settings.decisions_topic)
        dec_begins, dec_ends = await _bounds(consumer, dec_tps, settings.kafka_bootstrap)

        ev_source = source
        if source == "auto":
            lacks = await _topic_lacks_history(db, "events", ev_begins, ev_ends, notes)
            ev_source = "archive" if lacks else "topic"
        dec_source = source
        if source == "auto":
            lacks = await _topic_lacks_history(db, "decisions", dec_begins, dec_ends, notes)
            dec_source = "archive" if lacks else "topic"

        if dec_source == "topic":
            recorded = await _recorded_from_topic(consumer, dec_tps, dec_ends, frm, keep)
        else:
            recorded = await _recorded_from_archive(db, frm, to, groups)

        replayer = Replayer(frm, to, groups, passes)
        for d in recorded:
            replayer.wanted_causes.update(d.cause_event_ids)
        if ev_source == "topic":
            partitions = len(ev_tps)
            for tp in ev_tps:
                replayer.new_partition()
                async for value in _read(consumer, tp, ev_begins[tp], ev_ends[tp]):
                    try:
                        event = decode_event(value)
                    except RecordRejected:
                        replayer.events_rejected += 1
                        continue
                    replayer.feed(event)
        else:
            parts = await _archive_partitions(db)
            partitions = len(parts)
            for partition in parts:
                replayer.new_partition()
                async for body in _archive_events(db, partition):
                    replayer.feed_raw(body)
    finally:
        await consumer.stop()
        await mongo.close()

    if replayer.events_rejected:
        notes.append(
            f"{replayer.events_rejected} record(s) were not valid events (skipped, as live)"
        )
    return ReplayResult(
        frm=frm,
        to=to,
        groups=groups,
        rules_file=str(rules_file) if rules_file else None,
        events_source=ev_source,
        decisions_source=dec_source,
        partitions=partitions,
        events_read=replayer.events_read,
        events_rejected=replayer.events_rejected,
        reproduction=compare(recorded, passes[0].decisions, strict=True),
        what_if=compare(recorded, whatif.decisions, strict=False) if whatif else None,
        causes=replayer.causes,
        notes=notes,
    )
