"""What every fault test needs: a simulated stream, the consumers as real OS processes, and
read-backs of the broker and store precise enough to prove "nothing lost, nothing doubled".

Fault tests compare a run that suffered faults with a clean run of the same events, so the
read-backs here return plain, comparable data: decision sets, and every projection
collection as a list of documents sorted by _id.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from services.ingest.rules_client import ruleset_event
from shared.codec import encode_event, event_from_dict
from shared.kafka import read_to_end
from shared.mongo import database, make_mongo
from shared.settings import Settings
from shared.topics import ensure_topics
from tests.support.stack import isolation_env
from tools.catchup import Positions, positions
from tools.demo import demo_rule_sets
from tools.devstack import DevStack, wait_url_ready
from tools.embedded import free_port, kill
from tools.simulator import simulate

STREAM_START = datetime(2026, 9, 1, tzinfo=UTC)
KeyedRecord = tuple[bytes, bytes]


def stream(seed: int, n: int) -> tuple[list[KeyedRecord], list[KeyedRecord]]:
    """The demo's rule sets (each group's clock, language, banned words) and `n` simulated
    events, encoded exactly as ingest writes them, keyed by group.

    Tests write the rule sets first and wait until they are folded: reporting reads a
    group's clock from its ruleset.updated event, and a decision folded before that event
    lands on the UTC day (a cross-topic race of its own, not a fault; see the report).
    """
    rules_at = (STREAM_START - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    raw_rules = [
        {**ruleset_event(key, 1, rules, "fault-admin"), "occurred_at": rules_at}
        for key, rules in sorted(demo_rule_sets(seed).items())
    ]
    return _encode(raw_rules), _encode(simulate(seed, n, STREAM_START))


def _encode(raw: Iterable[dict[str, Any]]) -> list[KeyedRecord]:
    out = []
    for item in raw:
        event = event_from_dict(item)
        out.append((event.group_key.encode(), encode_event(event)))
    return out


async def produce(
    settings: Settings,
    records: Iterable[KeyedRecord | tuple[bytes, bytes, list[tuple[str, bytes]]]],
    topic: str | None = None,
) -> int:
    """Write records straight to a topic (acks=all), as ingest would have. Returns count."""
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=5,
        enable_idempotence=settings.kafka_idempotence,
        max_batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        futures = []
        for record in records:
            key, value = record[0], record[1]
            headers = record[2] if len(record) > 2 else None  # type: ignore[misc]
            futures.append(
                await producer.send(topic or settings.events_topic, value, key=key, headers=headers)
            )
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def produce_paced(
    settings: Settings, records: list[KeyedRecord], chunk: int, every_s: float
) -> None:
    """Write `chunk` records every `every_s` seconds: a live stream that keeps arriving
    while a test injects faults, instead of a backlog that is drained once."""
    for start in range(0, len(records), chunk):
        t0 = time.monotonic()
        await produce(settings, records[start : start + chunk])
        await asyncio.sleep(max(0.0, every_s - (time.monotonic() - t0)))


read_topic = read_to_end  # the one whole-topic reader (shared/kafka.py)


async def decisions(
    settings: Settings,
) -> tuple[dict[str, dict[str, Any]], int, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """decision_id -> decision, how many records the topic holds (re-emissions after a
    moderation crash repeat an id), and the re-emissions that differ from the first
    emission (there must be none: a decision id names one decision)."""
    records = await read_topic(settings, settings.decisions_topic)
    by_id: dict[str, dict[str, Any]] = {}
    conflicts: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for record in records:
        decision = json.loads(record.value or b"{}")
        previous = by_id.setdefault(decision["decision_id"], decision)
        if previous != decision:
            conflicts.append((previous, decision))
    return by_id, len(records), conflicts


# Fields written with $addToSet: read as sets (their size, their union), stored in the
# order the batches happened to add them, so a run with other batch boundaries stores the
# same set in another order. They are compared as sets; every other value exactly.
SET_FIELDS = frozenset({"users", "days"})


def _canonical(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if key in SET_FIELDS and all(isinstance(v, str | int) for v in items):
            return sorted(items, key=repr)
        return items
    return value


async def projections(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every projection collection (p_<name>_v<version>_g<generation>), documents sorted
    by _id, every field kept. The `_seen` bookkeeping beside them is read by `seen_ids`."""
    client = make_mongo(settings)
    try:
        db = database(client, settings)
        names = sorted(
            n
            for n in await db.list_collection_names()
            if n.startswith("p_") and not n.endswith("_seen")
        )
        return {
            name: [_canonical(doc) async for doc in db[name].find({}).sort("_id", 1)]
            for name in names
        }
    finally:
        await client.close()


async def seen_ids(settings: Settings) -> dict[str, Counter[str]]:
    """Per projection, how many times each decision id was recorded as folded.

    The documents are per fold batch (their _id names topic, partition and offsets, so
    they differ between runs by design); the ids in them must be each decision once."""
    client = make_mongo(settings)
    try:
        db = database(client, settings)
        out: dict[str, Counter[str]] = {}
        for name in sorted(await db.list_collection_names()):
            if name.startswith("p_") and name.endswith("_seen"):
                counts: Counter[str] = Counter()
                async for doc in db[name].find({}):
                    counts.update(doc.get("ids", [doc["_id"]]))
                out[name] = counts
        return out
    finally:
        await client.close()


def diff_projections(
    got: dict[str, list[dict[str, Any]]], want: dict[str, list[dict[str, Any]]], limit: int = 5
) -> list[str]:
    """Human-readable differences (empty when identical)."""
    problems: list[str] = []
    if set(got) != set(want):
        problems.append(
            f"collections differ: only got {sorted(set(got) - set(want))}, "
            f"only want {sorted(set(want) - set(got))}"
        )
    for name in sorted(set(got) & set(want)):
        g = {str(d["_id"]): d for d in got[name]}
        w = {str(d["_id"]): d for d in want[name]}
        missing, extra = sorted(set(w) - set(g)), sorted(set(g) - set(w))
        if missing:
            problems.append(f"{name}: {len(missing)} documents missing, e.g. {missing[:limit]}")
        if extra:
            problems.append(f"{name}: {len(extra)} extra documents, e.g. {extra[:limit]}")
        changed = [i for i in sorted(set(g) & set(w)) if g[i] != w[i]]
        for i in changed[:limit]:
            fields = sorted(k for k in set(g[i]) | set(w[i]) if g[i].get(k) != w[i].get(k))
            got_v = repr([g[i].get(k) for k in fields])[:300]
            want_v = repr([w[i].get(k) for k in fields])[:300]
            problems.append(f"{name}/{i}: fields {fields} differ: got {got_v} want {want_v}")
        if len(changed) > limit:
            problems.append(f"{name}: {len(changed)} documents differ in all")
    return problems


def dump(snapshot: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Write a projections snapshot as extended JSON, for a human to diff after a failure."""
    from bson import json_util

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_util.dumps(snapshot, indent=1, sort_keys=True))
    return path


async def progress(settings: Settings, name: str) -> int:
    """How many records a consumer has finished, from its group's committed offsets
    summed over partitions (tools/catchup.py): moderation's events, or reporting's events
    and decisions."""
    pos = await positions(settings)
    if name.startswith("moderation"):
        return pos.moderation_done
    return pos.reporting_events_done + pos.reporting_decisions_done


async def wait_progress(settings: Settings, name: str, since: int, timeout: float) -> bool:
    """Until `name` has finished more than `since` (False if it did not in time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await progress(settings, name) > since:
            return True
        await asyncio.sleep(0.2)
    return False


@dataclass
class Outcome:
    """Everything a run leaves behind that a user could see or that could double count."""

    decisions: dict[str, dict[str, Any]]
    decision_records: int
    conflicts: list[tuple[dict[str, Any], dict[str, Any]]]
    projections: dict[str, list[dict[str, Any]]]
    seen: dict[str, Counter[str]]

    @property
    def documents(self) -> int:
        return total_documents(self.projections)

    def summary(self) -> str:
        return (
            f"{len(self.decisions)} distinct decisions in {self.decision_records} records, "
            f"{len(self.projections)} projection collections, {self.documents} documents"
        )


async def outcome(settings: Settings) -> Outcome:
    by_id, records, conflicts = await decisions(settings)
    return Outcome(by_id, records, conflicts, await projections(settings), await seen_ids(settings))


def compare(got: Outcome, want: Outcome) -> list[str]:
    """Everything in which a run differs from the clean one (empty: nothing lost, nothing
    counted twice, nothing decided differently)."""
    problems: list[str] = []
    if got.conflicts:
        problems.append(f"{len(got.conflicts)} decision ids re-emitted with other content")
    missing = sorted(set(want.decisions) - set(got.decisions))
    extra = sorted(set(got.decisions) - set(want.decisions))
    if missing or extra:
        problems.append(
            f"decisions: {len(missing)} missing {missing[:5]}, {len(extra)} extra {extra[:5]}"
        )
    changed = [
        i for i in set(got.decisions) & set(want.decisions) if got.decisions[i] != want.decisions[i]
    ]
    if changed:
        problems.append(f"{len(changed)} decisions differ, e.g. {sorted(changed)[:5]}")
    problems.extend(diff_projections(got.projections, want.projections))
    if set(got.seen) != set(want.seen):
        problems.append(f"seen collections differ: {sorted(got.seen)} vs {sorted(want.seen)}")
    for name in sorted(set(got.seen) & set(want.seen)):
        twice = [i for i, n in got.seen[name].items() if n > 1]
        if twice:
            problems.append(f"{name}: {len(twice)} decisions folded twice, e.g. {twice[:5]}")
        if set(got.seen[name]) != set(want.seen[name]):
            problems.append(f"{name}: folded decision ids differ from the clean run")
    return problems


async def clean_run(
    settings: Settings, workdir: Path, rules: list[KeyedRecord], events: list[KeyedRecord]
) -> Outcome:
    """The reference: the same records through fresh consumers, no faults."""
    async with folded_rules(workdir, settings, rules):
        await produce(settings, events)
        await wait_drained(settings)
    return await outcome(settings)


async def clean_replay(source: Settings, settings: Settings, workdir: Path) -> Outcome:
    """The reference for a run whose events arrived partly through ingest: the events
    topic of that run, record for record (same bytes, same partition order), through fresh
    consumers without faults. Rule sets first, folded before the rest (see `stream`)."""
    records = sorted(
        await read_topic(source, source.events_topic), key=lambda r: (r.partition, r.offset)
    )
    rules: list[KeyedRecord] = []
    rest: list[KeyedRecord] = []
    for r in records:
        value = r.value or b""
        is_rule = json.loads(value).get("type") == "ruleset.updated"
        (rules if is_rule else rest).append((r.key or b"", value))
    return await clean_run(settings, workdir, rules, rest)


def total_documents(snapshot: dict[str, list[dict[str, Any]]]) -> int:
    return sum(len(docs) for docs in snapshot.values())


async def wait_drained(settings: Settings, timeout: float = 300.0) -> Positions:
    """Until moderation's and reporting's committed offsets cover every record, twice in a
    row (so decisions emitted meanwhile are counted too)."""
    deadline = time.monotonic() + timeout
    last: Positions | None = None
    while True:
        try:
            pos = await positions(settings)
        except Exception:  # a server being restarted by the test
            pos = None
        if pos is not None and pos.caught_up and pos == last:
            return pos
        if time.monotonic() > deadline:
            raise TimeoutError(f"not caught up after {timeout}s: {pos}")
        last = pos if pos is not None and pos.caught_up else None
        await asyncio.sleep(1.0)


wait_ready = wait_url_ready  # the one readiness poll (tools/devstack.py)


def service_env(settings: Settings, log_level: str = "INFO") -> dict[str, str]:
    return isolation_env(settings) | {
        "MODSTREAM_SNAPSHOT_EVERY_EVENTS": str(settings.snapshot_every_events),
        "MODSTREAM_LOG_LEVEL": log_level,
    }


@dataclass
class Consumers:
    """Moderation (one process) and reporting as real OS processes, without ingest: a test
    of the consumers writes its stream straight to the events topic."""

    stack: DevStack

    @classmethod
    def start(cls, workdir: Path, settings: Settings, with_ingest: bool = False) -> Consumers:
        stack = DevStack(
            workdir,
            kafka_bootstrap=settings.kafka_bootstrap,
            mongo_url=settings.mongo_url,
            extra_env=service_env(settings),
        )
        stack.workdir.mkdir(parents=True, exist_ok=True)
        stack.tokens.write(stack.tokens_file)
        stack.reporting_port = free_port()
        stack.ingest_port = free_port()
        consumers = cls(stack)
        if with_ingest:
            stack.start_service("ingest")
        consumers.restart("moderation-1")
        consumers.restart("reporting")
        return consumers

    def restart(self, name: str) -> None:
        service = "moderation" if name.startswith("moderation") else name
        self.stack.start_service(service, name)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed."""
        kill(self.stack.procs[name])

    def pid(self, name: str) -> int:
        return self.stack.procs[name].pid

    def alive(self, name: str) -> bool:
        return self.stack.procs[name].poll() is None

    def log(self, name: str) -> str:
        return (self.stack.workdir / f"{name}.log").read_text(errors="replace")

    def warnings(self, name: str) -> tuple[int, int]:
        """(warnings the service itself logged, warning/error lines its libraries logged):
        the first shows the service's own retry rhythm, the second the drivers' noise."""
        own = library = 0
        for line in self.log(name).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") not in ("warning", "error", "critical"):
                continue
            if record.get("logger"):
                library += 1
            elif record.get("level") == "warning":
                own += 1
        return own, library

    def stop(self) -> None:
        self.stack.stop()


@asynccontextmanager
async def running(
    workdir: Path, settings: Settings, with_ingest: bool = False
) -> AsyncIterator[Consumers]:
    """The consumers (and ingest, ready to answer, if asked) for the block; stopped after
    it, however it ends."""
    run = Consumers.start(workdir, settings, with_ingest=with_ingest)
    try:
        if with_ingest:
            wait_ready(run.stack.ingest_url)
        yield run
    finally:
        run.stop()


@asynccontextmanager
async def folded_rules(
    workdir: Path, settings: Settings, rules: list[KeyedRecord], with_ingest: bool = False
) -> AsyncIterator[Consumers]:
    """`running`, with the rule sets written first and folded before the block starts
    (see `stream`)."""
    await produce(settings, rules)
    async with running(workdir, settings, with_ingest) as run:
        await wait_drained(settings)
        yield run


def platform_client(
    stack: DevStack, url: str | None = None, timeout: float = 30
) -> httpx.AsyncClient:
    """A client of ingest (`url`, or the stack's own) holding the stack's platform token."""
    auth = {"Authorization": f"Bearer {stack.tokens.platform}"}
    return httpx.AsyncClient(base_url=url or stack.ingest_url, headers=auth, timeout=timeout)
