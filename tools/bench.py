"""`modstream bench`: every stage measured beside its raw baseline, in the same run, on the
same servers. These machines are shared and noisy: ratios hold where absolute times do not.

The figures are written to docs/benchmarks.md. Nothing here asserts a speed; `--quick` runs
the same code on small inputs as a CI smoke test.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from shared.kafka import read_to_end
from shared.settings import Settings
from shared.topics import ensure_topics
from tools.catchup import positions
from tools.demo import batches
from tools.devstack import DevStack, wait_url_ready
from tools.embedded import EmbeddedStack, free_port
from tools.instant_platform import InstantTelegram
from tools.simulator.community import simulate

BENCH_START = datetime(2026, 9, 1, tzinfo=UTC)


@dataclass
class Row:
    stage: str
    figure: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> str:
        if not self.baseline_value:
            return ""
        return f"{self.value / self.baseline_value:.2f}"


@dataclass
class BenchRun:
    quick: bool
    workdir: Path
    console: Console
    kafka_bootstrap: str = ""
    mongo_url: str = ""
    embedded: bool = True
    rows: list[Row] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def n(self) -> int:
        return 5_000 if self.quick else 200_000

    @property
    def n_rebuild(self) -> int:
        return 10_000 if self.quick else 1_000_000

    def settings(self, **extra: Any) -> Settings:
        tag = uuid.uuid4().hex[:8]
        values: dict[str, Any] = {
            "kafka_bootstrap": self.kafka_bootstrap,
            "mongo_url": self.mongo_url,
            "topic_prefix": f"bench{tag}.",
            # Its own consumer groups: a group that lived through an earlier stage makes
            # Tansu hold a join until the old members time out.
            "consumer_group_prefix": f"bench{tag}-",
            "mongo_db": f"bench_{tag}",
            "kafka_idempotence": not self.embedded,
        }
        values.update(extra)
        return Settings(**values)

    def env(self, s: Settings) -> dict[str, str]:
        return {
            "MODSTREAM_TOPIC_PREFIX": s.topic_prefix,
            "MODSTREAM_CONSUMER_GROUP_PREFIX": s.consumer_group_prefix,
            "MODSTREAM_MONGO_DB": s.mongo_db,
            "MODSTREAM_KAFKA_IDEMPOTENCE": str(s.kafka_idempotence).lower(),
            "MODSTREAM_LOG_LEVEL": "INFO",
        }

    def stack(self, s: Settings, name: str, moderation: int = 0) -> DevStack:
        # The clocks stop on the consumer groups' committed offsets (tools/catchup.py): a
        # consumer commits its last position within COMMIT_IDLE_EVERY_S (0.5 s) of going
        # idle (shared/consumer.py).
        stack = DevStack(
            self.workdir / name,
            kafka_bootstrap=self.kafka_bootstrap,
            mongo_url=self.mongo_url,
            moderation_instances=moderation,
            extra_env=self.env(s),
        )
        # A fresh folder per stage: logs are appended, and a stage reads its own log lines.
        shutil.rmtree(stack.workdir, ignore_errors=True)
        stack.workdir.mkdir(parents=True, exist_ok=True)
        stack.tokens.write(stack.tokens_file)
        return stack

    def add(self, row: Row) -> None:
        self.rows.append(row)
        ratio = f" (x{row.ratio} of {row.baseline})" if row.baseline_value else ""
        self.console.print(f"  {row.stage}: {row.figure} = {row.value:,.1f} {row.unit}{ratio}")


# ---------------------------------------------------------------- inputs


def sim_events(n: int, seed: int = 11) -> list[dict[str, Any]]:
    return list(simulate(seed, n, BENCH_START))


def encoded(events: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    from shared.codec import encode_event, event_from_dict

    out = []
    for raw in events:
        e = event_from_dict(raw)
        out.append((e.group_key.encode(), encode_event(e)))
    return out


async def produce_raw(s: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """The baseline producer: aiokafka, batched, acks=all. Returns records/s."""
    producer = AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap,
        acks="all",
        linger_ms=5,
        enable_idempotence=s.kafka_idempotence,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        t0 = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=k) for k, v in records]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - t0)
    finally:
        await producer.stop()


def rss_peak_mib(pid: int) -> float:
    """VmHWM: the resident set's high-water mark of a process."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def wait_until(pred: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await pred()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark stage did not finish in time")
        await asyncio.sleep(every)


async def consumed_rate(s: Settings, field_name: str, total: int, timeout: float = 900) -> float:
    """records/s of a consumer, from its first progress to done (startup excluded)."""
    first: tuple[float, int] | None = None
    while True:
        pos = await positions(s)
        done = getattr(pos, field_name)
        now = time.perf_counter()
        if first is None and done > 0:
            first = (now, done)
        if done >= total and first is not None:
            span = now - first[0]
            return (done - first[1]) / span if span > 0 else float("nan")
        if first is not None and now - first[0] > timeout:
            raise TimeoutError(f"{field_name} stuck at {done}/{total}")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- stages


async def bench_ingest(
    run: BenchRun, events: list[dict[str, Any]], records: list[tuple[bytes, bytes]]
) -> None:
    run.console.print("[bold]ingest[/]: HTTP batches vs raw aiokafka producer")
    s = run.settings()
    await ensure_topics(s)
    raw_rate = await produce_raw(s, s.events_topic + ".raw", records)
    stack = run.stack(s, "ingest")
    stack.ingest_port = stack.ingest_port or free_port()
    proc = stack.start_service("ingest")
    try:
        await _ready(stack.ingest_url)
        # Each batch with the token of the role its events claim (as the demo posts).
        chunks = list(batches(events, stack, size=1000))
        async with httpx.AsyncClient(base_url=stack.ingest_url, timeout=120) as client:
            sem = asyncio.Semaphore(4)

            async def post(chunk: tuple[str, list[dict[str, Any]]]) -> None:
                token, items = chunk
                async with sem:
                    resp = await client.post(
                        "/v1/events", json=items, headers={"Authorization": f"Bearer {token}"}
                    )
                    resp.raise_for_status()

            t0 = time.perf_counter()
            await asyncio.gather(*(post(c) for c in chunks))
            rate = len(events) / (time.perf_counter() - t0)
        run.add(
            Row(
                "ingest",
                "events/s accepted over HTTP (batches of 1,000, 4 clients)",
                rate,
                "events/s",
                "raw aiokafka producer",
                raw_rate,
            )
        )
        run.add(Row("memory", "ingest peak RSS", rss_peak_mib(proc.pid), "MiB", target="< 300 MiB"))
    finally:
        stack.stop()


async def bench_moderation(run: BenchRun, records: list[tuple[bytes, bytes]]) -> set[str]:
    run.console.print("[bold]moderation[/]: one process vs raw consume->produce; one vs two")
    # Raw loop baseline.
    s0 = run.settings()
    await ensure_topics(s0)
    await produce_raw(s0, s0.events_topic, records)
    raw = await raw_consume_produce(s0, len(records))
    ids: dict[int, set[str]] = {}
    rates: dict[int, float] = {}
    for procs in (1, 2):
        s = run.settings()
        await ensure_topics(s)
        stack = run.stack(s, f"moderation{procs}")
        started = [stack.start_service("moderation", f"moderation-{i}") for i in range(procs)]
        try:
            # Time the processing, not the start-up: wait until every instance owns its
            # partitions, then produce and clock until the group's commits reach the end.
            await wait_until(partial(_logged, stack, "partitions assigned", procs), 120)
            await asyncio.sleep(2 if procs > 1 else 0.5)  # let the group settle
            t0 = time.perf_counter()
            await produce_raw(s, s.events_topic, records)
            await wait_until(partial(_moderation_done, s, len(records)), 900, every=0.05)
            rates[procs] = len(records) / (time.perf_counter() - t0)
            ids[procs] = await decision_ids(s)
            if procs == 1:
                run.add(
                    Row(
                        "memory",
                        "moderation peak RSS",
                        rss_peak_mib(started[0].pid),
                        "MiB",
                        target="< 300 MiB",
                    )
                )
        finally:
            stack.stop()
    run.add(
        Row(
            "moderation",
            "events/s, one process (demo mix)",
            rates[1],
            "events/s",
            "raw aiokafka consume->produce loop",
            raw,
            target=">= 50% of raw, >= 20,000/s",
        )
    )
    run.add(
        Row(
            "moderation",
            "events/s, two processes",
            rates[2],
            "events/s",
            "one process",
            rates[1],
            note="identical decisions" if ids[1] == ids[2] else "DECISIONS DIFFER",
        )
    )
    return ids[1]


async def raw_consume_produce(s: Settings, total: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=s.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap,
        acks="all",
        linger_ms=5,
        enable_idempotence=s.kafka_idempotence,
    )
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([TopicPartition(s.events_topic, p) for p in range(s.partitions)])
        done = 0
        t0 = time.perf_counter()
        while done < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            futures = []
            for recs in batch.values():
                for r in recs:
                    futures.append(await producer.send(s.decisions_topic, value=r.value, key=r.key))
                    done += 1
            await asyncio.gather(*futures)
        return total / (time.perf_counter() - t0)
    finally:
        await consumer.stop()
        await producer.stop()


async def decision_ids(s: Settings) -> set[str]:
    return {
        json.loads(r.value or b"{}")["decision_id"] for r in await read_to_end(s, s.decisions_topic)
    }


async def bench_reporting(run: BenchRun, records: list[tuple[bytes, bytes]]) -> None:
    run.console.print(
        "[bold]reporting[/]: batched transactional fold vs naive one-update-per-event"
    )
    s = run.settings()
    await ensure_topics(s)
    await produce_raw(s, s.events_topic, records)
    # Decisions too, so the fold sees the demo mix: run moderation to completion first.
    stack = run.stack(s, "reporting", moderation=1)
    stack.start_service("moderation", "moderation-1")
    try:
        await wait_until(lambda: _moderation_done(s, len(records)), 900)
        stack.stop_service("moderation-1")
        stack.reporting_port = free_port()
        proc = stack.start_service("reporting")
        pos = await positions(s)
        rate = await consumed_rate(s, "reporting_events_done", pos.events_end)
        await wait_until(lambda: _reporting_done(s), 900)
        writes = await _metric(stack.reporting_url, "modstream_fold_writes_total")
        per_1000 = writes / (pos.events_end + pos.decisions_end) * 1000
        run.add(
            Row("memory", "reporting peak RSS", rss_peak_mib(proc.pid), "MiB", target="< 300 MiB")
        )
    finally:
        stack.stop()
    naive_rate, naive_writes = await naive_fold(run, records[: min(len(records), 3000)])
    run.add(
        Row(
            "reporting",
            "fold events/s (one transaction per partition batch)",
            rate,
            "events/s",
            "naive one-update-per-event fold",
            naive_rate,
        )
    )
    run.add(
        Row(
            "reporting",
            "MongoDB writes per 1,000 records",
            per_1000,
            "writes",
            "naive fold",
            naive_writes,
            target="<= 20",
        )
    )


async def naive_fold(run: BenchRun, records: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """The baseline: the same folds, but every touched document written per event."""
    from services.reporting.folds import fold_event
    from services.reporting.folds.base import Batch, GroupDirectory
    from shared.codec import decode_event
    from shared.mongo import database, make_mongo

    s = run.settings()
    mongo = make_mongo(s)
    db = database(mongo, s)
    directory = GroupDirectory()
    writes = 0
    try:
        t0 = time.perf_counter()
        for _, value in records:
            event = decode_event(value)
            batch = Batch()
            fold_event(batch, event, directory.get(event.group_key), s)
            for (coll, doc_id), delta in batch.docs.items():
                await db[f"naive_{coll}"].update_one(
                    {"_id": doc_id}, delta.to_update(), upsert=True
                )
                writes += 1
            for (coll, doc_id), doc in batch.inserts.items():
                await db[f"naive_{coll}"].update_one(
                    {"_id": doc_id}, {"$setOnInsert": doc}, upsert=True
                )
                writes += 1
        rate = len(records) / (time.perf_counter() - t0)
        return rate, writes / len(records) * 1000
    finally:
        await mongo.close()


async def bench_latency(run: BenchRun) -> None:
    run.console.print(
        "[bold]end to end[/]: ingest -> decision on the decisions topic at 1,000 events/s"
    )
    s = run.settings()
    stack = run.stack(s, "latency", moderation=1)
    stack.ingest_port = free_port()
    stack.reporting_port = free_port()
    await ensure_topics(s)
    stack.start_service("ingest")
    stack.start_service("moderation", "moderation-1")
    try:
        await _ready(stack.ingest_url)
        # Measure the steady state, not the group join (seconds on Tansu): load starts once
        # moderation owns its partitions.
        await wait_until(partial(_logged, stack, "partitions assigned", 1), 120)
        await asyncio.sleep(1)
        seconds = 3 if run.quick else 15
        sent_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        consumer = AIOKafkaConsumer(
            s.decisions_topic,
            bootstrap_servers=s.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,  # the clock's own fetch must not add latency
        )
        await consumer.start()

        async def listen() -> None:
            while True:
                for recs in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.perf_counter()
                    for r in recs:
                        for cause in json.loads(r.value)["cause_event_ids"]:
                            seen_at.setdefault(cause, now)

        listener = asyncio.create_task(listen())
        headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
        async with httpx.AsyncClient(
            base_url=stack.ingest_url, headers=headers, timeout=30
        ) as client:
            tick, per_tick = 0.05, 50  # 1,000 events/s offered
            n = 0
            t_next = time.perf_counter()
            end = t_next + seconds
            while time.perf_counter() < end:
                chunk = []
                for _ in range(per_tick):
                    n += 1
                    bad = n % 10 == 0  # one in ten breaks a rule and must be decided on
                    chunk.append(_latency_event(n, bad))
                    if bad:
                        sent_at[f"lat-{n}"] = time.perf_counter()
                await client.post("/v1/events", json=chunk)
                t_next += tick
                await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
        await asyncio.sleep(2)
        listener.cancel()
        await consumer.stop()
        lat = sorted((seen_at[k] - v) * 1000 for k, v in sent_at.items() if k in seen_at)
        if lat:
            q = statistics.quantiles(lat, n=100)
            run.add(Row("end to end", "latency p50", q[49], "ms"))
            run.add(Row("end to end", "latency p95", q[94], "ms"))
            run.add(
                Row(
                    "end to end",
                    "latency p99",
                    q[98],
                    "ms",
                    target="< 50 ms",
                    note=f"{len(lat)}/{len(sent_at)} decisions seen",
                )
            )
    finally:
        stack.stop()


def _latency_event(n: int, bad: bool) -> dict[str, Any]:
    return {
        "event_id": f"lat-{n}",
        "type": "message.posted",
        "schema_version": 2,
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "platform": "discord",
        "group_id": f"g{n % 24}",
        "user_id": f"u{n % 500}",
        "payload": {
            "message_id": f"m{n}",
            "text": "join t.me/+abcdef now" if bad else "hello there",
        },
    }


async def bench_rebuild(run: BenchRun) -> None:
    from services.reporting.rebuild import rebuild

    n = run.n_rebuild
    run.console.print(f"[bold]rebuild[/]: {n:,} events from the start of the stream")
    s = run.settings()
    await ensure_topics(s)
    chunk = 100_000
    produced = 0
    seed = 101
    while produced < n:
        part = encoded(sim_events(min(chunk, n - produced), seed=seed))
        await produce_raw(s, s.events_topic, part)
        produced += len(part)
        seed += 1
    result = await rebuild(s, "activity")
    run.add(
        Row(
            "rebuild",
            f"activity projection from {n:,} events",
            result.seconds,
            "s",
            target="< 60 s",
            note=f"{result.records_per_s:,.0f} events/s, {result.writes:,} writes",
        )
    )
    try:
        from services.moderation.replay import replay
    except ImportError:
        return
    t0 = time.perf_counter()
    await replay(s, BENCH_START, datetime(2100, 1, 1, tzinfo=UTC), None, None)
    seconds = time.perf_counter() - t0
    run.add(
        Row(
            "replay",
            f"what-if replay of {n:,} events",
            seconds,
            "s",
            note=f"{n / seconds:,.0f} events/s",
        )
    )


async def bench_scale(run: BenchRun) -> None:
    """Cost per event of the live fold and of a rebuild at two sizes, 10x apart: a cost
    that grows with the history (an index scan, a sweep over all state) shows here."""
    from services.reporting.rebuild import rebuild

    sizes = (5_000, 50_000) if run.quick else (50_000, 500_000)
    run.console.print(
        f"[bold]scale[/]: fold and rebuild cost per event at {sizes[0]:,} and {sizes[1]:,} events"
    )
    fold_us: dict[int, float] = {}
    rebuild_us: dict[int, float] = {}
    for n in sizes:
        s = run.settings()
        await ensure_topics(s)
        records = [
            r
            for i in range(0, n, 100_000)
            for r in encoded(sim_events(min(100_000, n - i), 301 + i))
        ]
        stack = run.stack(s, f"scale{n}")
        stack.reporting_port = free_port()
        stack.start_service("reporting")
        try:
            # The clock runs from the first record produced to the last one folded, with
            # the consumer already in place (the producer is far faster than the fold).
            await wait_until(
                partial(_service_logged, stack, "reporting", "partitions assigned"), 120
            )
            t0 = time.perf_counter()
            await produce_raw(s, s.events_topic, records)
            await wait_until(partial(_events_folded, s, n), 1800, every=0.05)
            fold_us[n] = (time.perf_counter() - t0) * 1e6 / n
        finally:
            stack.stop()
        result = await rebuild(s, "activity")
        rebuild_us[n] = result.seconds * 1e6 / n
    small, large = sizes
    for figure, costs in (("live fold", fold_us), ("rebuild (activity)", rebuild_us)):
        run.add(Row("scale", f"{figure} cost per event, {small:,} events", costs[small], "µs"))
        run.add(
            Row(
                "scale",
                f"{figure} cost per event, {large:,} events",
                costs[large],
                "µs",
                f"the same at {small:,} events",
                costs[small],
                target="flat (ratio ~1)",
            )
        )


async def bench_enforcement(run: BenchRun) -> None:
    """Decisions carried out per second by one enforcer process against a platform that
    answers at once (each a Telegram mute: intent on the ledger, a paced call, the
    outcome, the record published), beside raw httpx calls to the same server."""
    run.console.print("[bold]enforcement[/]: one process vs raw httpx calls, instant platform")
    n = 2_000 if run.quick else 20_000
    fake = InstantTelegram().start()
    try:
        token = "7000000001:bench"
        raw = await _raw_calls(f"{fake.url}/bot{token}/restrictChatMember", n, 64)
        s = run.settings()
        await ensure_topics(s)
        now = datetime.now(UTC)
        records = [
            (
                f"telegram:-100{1000 + i % 200}".encode(),
                json.dumps(
                    {
                        "schema_version": 2,
                        "decision_id": f"d-bench-{i}",
                        "group_key": f"telegram:-100{1000 + i % 200}",
                        "target_user_id": str(10_000 + i),
                        "action": "mute",
                        "duration_s": 600,
                        "rule_id": "flood",
                        "ruleset_version": 1,
                        "reason": "flood",
                        "cause_event_ids": [f"e-{i}"],
                        "decided_at": now.isoformat(),
                        "language": "en",
                        "enforcement": "live",
                        "notify": False,
                    }
                ).encode(),
            )
            for i in range(n)
        ]
        stack = run.stack(s, "enforcement")
        stack.extra_env |= {
            "MODSTREAM_TELEGRAM_API_URL": fake.url,
            "MODSTREAM_TELEGRAM_BOT_TOKEN": token,
            # Pacing stays on (its store round trips are part of the cost), out of the way.
            "MODSTREAM_ENFORCEMENT_RATES": json.dumps({"telegram.chat": 1e6, "telegram.bot": 1e6}),
        }
        proc = stack.start_service("enforcement")
        try:
            await wait_until(
                partial(_service_logged, stack, "enforcement", "partitions assigned"), 120
            )
            await asyncio.sleep(0.5)
            t0 = time.perf_counter()
            await produce_raw(s, s.decisions_topic, records)
            await wait_until(partial(_enforced, s, n), 900, every=0.1)
            rate = n / (time.perf_counter() - t0)
            peak = rss_peak_mib(proc.pid)
        finally:
            stack.stop()
    finally:
        fake.stop()
    run.add(
        Row(
            "enforcement",
            "decisions carried out/s, one process (Telegram mutes, instant platform)",
            rate,
            "decisions/s",
            "raw httpx calls/s, same server, 64 at once",
            raw,
            note=f"{fake.calls - n:,} calls by the enforcer; peak RSS {peak:,.0f} MiB",
        )
    )


async def _raw_calls(url: str, n: int, concurrency: int) -> float:
    body = {"chat_id": -1001000, "user_id": 1, "permissions": {"can_send_messages": False}}
    async with httpx.AsyncClient(timeout=30) as client:
        left = iter(range(n))

        async def worker() -> None:
            for _ in left:
                (await client.post(url, json=body)).raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0)


async def _enforced(s: Settings, total: int) -> bool:
    return (await positions(s)).enforcement_done >= total


async def _service_logged(stack: DevStack, name: str, text: str) -> bool:
    log = stack.workdir / f"{name}.log"
    return log.exists() and text in log.read_text(errors="replace")


async def _events_folded(s: Settings, total: int) -> bool:
    return (await positions(s)).reporting_events_done >= total


async def _logged(stack: DevStack, text: str, instances: int) -> bool:
    logs = sorted(stack.workdir.glob("moderation-*.log"))
    return len(logs) >= instances and all(text in p.read_text(errors="replace") for p in logs)


async def _moderation_done(s: Settings, total: int) -> bool:
    return (await positions(s)).moderation_done >= total


async def _reporting_done(s: Settings) -> bool:
    pos = await positions(s)
    return (
        pos.reporting_events_done >= pos.events_end
        and pos.reporting_decisions_done >= pos.decisions_end
    )


async def _ready(url: str, timeout: float = 60) -> None:
    """The one readiness poll (tools/devstack.py), off the event loop."""
    await asyncio.to_thread(wait_url_ready, url, timeout)


async def _metric(url: str, name: str) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


# ---------------------------------------------------------------- report


def write_markdown(run: BenchRun, path: Path, command: str) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {run.started:%Y-%m-%d %H:%M} UTC. Every figure comes from that one run; "
        "each speed is shown beside its baseline measured in the same run on the same servers "
        "(ratio = figure / baseline). Targets are from the benchmark issue; nothing here is a test.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU cores | {os.cpu_count()} |",
        f"| memory | {_mem_gib():.0f} GiB |",
        f"| OS | {platform.platform()} |",
        f"| Python | {platform.python_version()} |",
        f"| broker | {'Tansu (embedded, memory storage)' if run.embedded else run.kafka_bootstrap} |",
        f"| store | {'SecantusDB ' + version('secantusdb') if run.embedded else 'MongoDB'} |",
        f"| faststream / aiokafka / pymongo | {version('faststream')} / {version('aiokafka')} / {version('pymongo')} |",
        f"| mode | {'quick (smoke test sizes)' if run.quick else 'full'}: {run.n:,} events per stage, {run.n_rebuild:,} for rebuild |",
        "",
        "| stage | figure | value | unit | baseline | baseline value | ratio | target | note |",
        "|---|---|---:|---|---|---:|---:|---|---|",
    ]
    for r in run.rows:
        base = f"{r.baseline_value:,.1f}" if r.baseline_value is not None else ""
        lines.append(
            f"| {r.stage} | {r.figure} | {r.value:,.1f} | {r.unit} | {r.baseline} | {base} | {r.ratio} | {r.target} | {r.note} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _mem_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def run_bench(console: Console, quick: bool, out: Path, only: list[str] | None = None) -> BenchRun:
    workdir = Path(".modstream/bench")
    run = BenchRun(quick=quick, workdir=workdir, console=console)
    external_kafka = os.environ.get("MODSTREAM_KAFKA_BOOTSTRAP")
    external_mongo = os.environ.get("MODSTREAM_MONGO_URL")
    # Room for every stage's records: the store holds them all in memory.
    embedded = EmbeddedStack(workdir, mongo_cache="6G")
    if external_kafka and external_mongo:
        run.kafka_bootstrap, run.mongo_url, run.embedded = external_kafka, external_mongo, False
    else:
        embedded.start()
        run.kafka_bootstrap, run.mongo_url = embedded.kafka_bootstrap, embedded.mongo_url
    try:
        events = sim_events(run.n)
        records = encoded(events)
        stages = only or [
            "ingest",
            "moderation",
            "reporting",
            "latency",
            "rebuild",
            "scale",
            "enforcement",
        ]

        async def main() -> None:
            if "ingest" in stages:
                await bench_ingest(run, events, records)
            if "moderation" in stages:
                await bench_moderation(run, records)
            if "reporting" in stages:
                await bench_reporting(run, records)
            if "latency" in stages:
                await bench_latency(run)
            if "rebuild" in stages:
                await bench_rebuild(run)
            if "scale" in stages:
                await bench_scale(run)
            if "enforcement" in stages:
                await bench_enforcement(run)

        asyncio.run(main())
    finally:
        embedded.stop()
    command = "modstream bench" + (" --quick" if quick else "")
    write_markdown(run, out, command)
    table = Table(title=f"benchmarks ({'quick' if quick else 'full'})")
    for col in ("stage", "figure", "value", "baseline", "ratio", "target", "note"):
        table.add_column(col)
    for r in run.rows:
        table.add_row(
            r.stage,
            r.figure,
            f"{r.value:,.1f} {r.unit}",
            f"{r.baseline} {r.baseline_value:,.1f}" if r.baseline_value else "",
            r.ratio,
            r.target,
            r.note,
        )
    console.print(table)
    console.print(f"written to {out}")
    return run


if __name__ == "__main__":  # pragma: no cover
    run_bench(Console(), "--quick" in sys.argv, Path("docs/benchmarks.md"))
