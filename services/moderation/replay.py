"""`modstream replay`: run the moderation engine offline over the recorded history.

The same engine the live service runs is fed every event of a partition, in offset order,
from the very first one: moderation state (ladders, windows, complaint cases) depends on
all prior history, so a replay that started at --from would not be the service. Only
the decisions are filtered to the period and groups asked for.

Two passes share one read of the stream:
- the recorded rules: a fresh engine as the live service builds it; the stream's own
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
from services.moderation.engine_config import configured_default_rules, log_rejected_rules
from services.moderation.factory import make_engine
from services.moderation.replay_diff import Comparison, compare
from shared.archive import (
    ARCHIVE,
    ArchiveFormatError,
    chunk_records,
    record_fields,
    records_in_offset_order,
    require_format,
    sort_time,
)
from shared.codec import RecordRejected, decode_decision, event_from_dict
from shared.events import Decision, Event, RulesetUpdatedEvent
from shared.fast_codec import decode_model_fast
from shared.kafka import log_end_offsets
from shared.mongo import database, make_mongo
from shared.rules import effective_default, load_ruleset_file
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
    default = effective_default(raw_default) if raw_default else live_default_engine.default_rules
    return make_engine(default), groups


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


@dataclass(frozen=True, slots=True)
class _Bounds:
    """A topic's partitions and, per partition, its first and end offsets (fixed when the
    replay began); no partitions when the topic does not exist."""

    tps: list[TopicPartition]
    begins: dict[TopicPartition, int]
    ends: dict[TopicPartition, int]


async def _bounds(consumer: AIOKafkaConsumer, topic: str, bootstrap: str) -> _Bounds:
    tps = await _partitions(consumer, topic)
    if not tps:
        return _Bounds(tps, {}, {})
    begins = await consumer.beginning_offsets(tps)
    ends = await log_end_offsets(bootstrap, tps)
    return _Bounds(tps, dict(begins), dict(ends))


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


async def _archive_readable(db: AsyncDatabase) -> None:
    """A ReplayError on an archive of the earlier format (one document per record)."""
    try:
        await require_format(db)
    except ArchiveFormatError as err:
        raise ReplayError(str(err)) from err


async def _archive_partitions(db: AsyncDatabase) -> list[int]:
    await _archive_readable(db)
    return sorted(int(p) for p in await db[ARCHIVE].distinct("partition", {"stream": "events"}))


async def _archive_events(db: AsyncDatabase, partition: int) -> AsyncIterator[dict[str, Any]]:
    """A partition's archived events in offset order, from its chunks (which interleave:
    one batch holds the chunks of every group of the partition)."""
    cursor = (
        db[ARCHIVE]
        .find({"stream": "events", "partition": partition}, {"offset_lo": 1, "records": 1})
        .sort([("offset_lo", ASCENDING)])
    )
    async for record in records_in_offset_order(cursor):
        yield record["body"]


async def _archive_counts(db: AsyncDatabase, stream: str) -> dict[int, int]:
    """Records archived per partition (a chunk's `ids` lists its records)."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"stream": stream}},
        {
            "$group": {
                "_id": "$partition",
                "n": {"$sum": {"$size": {"$ifNull": ["$ids", []]}}},
            }
        },
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
    await _archive_readable(db)
    # chunks whose decisions span part of the period; each record is then checked itself
    query: dict[str, Any] = {"stream": "decisions", "at_hi": {"$gte": frm}, "at_lo": {"$lt": to}}
    if groups:
        query["group_key"] = {"$in": list(groups)}
    wanted = set(groups) if groups else None
    found: list[tuple[Any, str, int, dict[str, Any]]] = []
    async for doc in db[ARCHIVE].find(query, {"records": 1}):
        for record in chunk_records(doc):
            at = record_fields(record)["at"]
            if at is None or not frm <= sort_time(at)[1] < to:
                continue
            group = str(record.get("group_key"))
            if wanted is not None and group not in wanted:
                continue
            seq = record.get("seq")
            found.append((sort_time(at), group, seq if isinstance(seq, int) else -1, record))
    found.sort(key=lambda f: f[:3])
    return [Decision.model_validate(f[3]["body"]) for f in found]


# ---------------------------------------------------------------------- the replay


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_SOURCES = ("auto", "topic", "archive")


def _checked_period(frm: datetime, to: datetime, source: str) -> tuple[datetime, datetime]:
    """The period in UTC; a ReplayError for an empty period or an unknown source."""
    frm, to = _utc(frm), _utc(to)
    if frm >= to:
        raise ReplayError(f"--from ({frm.isoformat()}) must be before --to ({to.isoformat()})")
    if source not in _SOURCES:
        raise ReplayError(f"source must be auto, topic or archive, not {source!r}")
    return frm, to


def _recorded_rules_engine(settings: Settings) -> Engine:
    """What the live service runs: the configured default, ignored updates logged."""
    return make_engine(configured_default_rules(settings), on_rejected_rules=log_rejected_rules)


def _passes(
    engine: Engine, rules_file: Path | None, keep: Callable[[Decision], bool]
) -> tuple[Pass, Pass | None]:
    """The recorded-rules pass and, with a rules file, the what-if pass."""
    recorded = Pass(engine, keep)
    if rules_file is None:
        return recorded, None
    w_engine, replace = whatif_engine(engine, rules_file)
    return recorded, Pass(w_engine, keep, replace)


async def _source_for(
    source: str, db: AsyncDatabase, stream: str, bounds: _Bounds, notes: list[str]
) -> str:
    """Where to read a stream from: the source asked for, or under "auto" the topic
    while it holds the whole history, else the archive."""
    if source != "auto":
        return source
    lacks = await _topic_lacks_history(db, stream, bounds.begins, bounds.ends, notes)
    return "archive" if lacks else "topic"


async def _recorded(
    dec_source: str,
    consumer: AIOKafkaConsumer,
    db: AsyncDatabase,
    decisions: _Bounds,
    frm: datetime,
    to: datetime,
    groups: list[str] | None,
) -> list[Decision]:
    """The recorded decisions of the period (and groups)."""
    if dec_source == "topic":
        return await _recorded_from_topic(
            consumer, decisions.tps, decisions.ends, frm, in_period(frm, to, groups)
        )
    return await _recorded_from_archive(db, frm, to, groups)


async def _feed_from_topic(replayer: Replayer, consumer: AIOKafkaConsumer, events: _Bounds) -> int:
    """Every event of the topic, partition by partition; the partitions read."""
    for tp in events.tps:
        replayer.new_partition()
        async for value in _read(consumer, tp, events.begins[tp], events.ends[tp]):
            try:
                event = decode_model_fast(value)
            except RecordRejected:
                replayer.events_rejected += 1
                continue
            replayer.feed(event)
    return len(events.tps)


async def _feed_from_archive(replayer: Replayer, db: AsyncDatabase) -> int:
    """Every archived event, partition by partition; the partitions read."""
    parts = await _archive_partitions(db)
    for partition in parts:
        replayer.new_partition()
        async for body in _archive_events(db, partition):
            replayer.feed_raw(body)
    return len(parts)


@dataclass
class _Run:
    """What one read of the stream yields, before it is compared."""

    events_source: str
    decisions_source: str
    partitions: int
    recorded: list[Decision]
    replayer: Replayer
    notes: list[str]


async def _run(
    settings: Settings,
    frm: datetime,
    to: datetime,
    groups: list[str] | None,
    passes: list[Pass],
    source: str,
) -> _Run:
    """Read the recorded decisions, then feed every event to the passes."""
    notes: list[str] = []
    mongo = make_mongo(settings)
    consumer = _consumer(settings)
    await consumer.start()
    try:
        db = database(mongo, settings)
        bootstrap = settings.kafka_bootstrap
        events = await _bounds(consumer, settings.events_topic, bootstrap)
        decisions = await _bounds(consumer, settings.decisions_topic, bootstrap)
        ev_source = await _source_for(source, db, "events", events, notes)
        dec_source = await _source_for(source, db, "decisions", decisions, notes)
        recorded = await _recorded(dec_source, consumer, db, decisions, frm, to, groups)
        replayer = Replayer(frm, to, groups, passes)
        for d in recorded:
            replayer.wanted_causes.update(d.cause_event_ids)
        if ev_source == "topic":
            partitions = await _feed_from_topic(replayer, consumer, events)
        else:
            partitions = await _feed_from_archive(replayer, db)
    finally:
        await consumer.stop()
        await mongo.close()
    return _Run(ev_source, dec_source, partitions, recorded, replayer, notes)


def _result(
    frm: datetime,
    to: datetime,
    groups: list[str] | None,
    rules_file: Path | None,
    run: _Run,
    recorded_pass: Pass,
    whatif: Pass | None,
) -> ReplayResult:
    replayer = run.replayer
    notes = run.notes
    if replayer.events_rejected:
        notes.append(
            f"{replayer.events_rejected} record(s) were not valid events (skipped, as live)"
        )
    return ReplayResult(
        frm=frm,
        to=to,
        groups=groups,
        rules_file=str(rules_file) if rules_file else None,
        events_source=run.events_source,
        decisions_source=run.decisions_source,
        partitions=run.partitions,
        events_read=replayer.events_read,
        events_rejected=replayer.events_rejected,
        reproduction=compare(run.recorded, recorded_pass.decisions, strict=True),
        what_if=compare(run.recorded, whatif.decisions, strict=False) if whatif else None,
        causes=replayer.causes,
        notes=notes,
    )


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
    "topic" or "archive". `engine` replaces the engine the live service would build from
    `settings` (tests).
    """
    frm, to = _checked_period(frm, to, source)
    if engine is None:
        engine = _recorded_rules_engine(settings)
    groups = sorted(set(groups)) if groups else None
    recorded_pass, whatif = _passes(engine, rules_file, in_period(frm, to, groups))
    passes = [recorded_pass] if whatif is None else [recorded_pass, whatif]
    run = await _run(settings, frm, to, groups, passes, source)
    return _result(frm, to, groups, rules_file, run, recorded_pass, whatif)
