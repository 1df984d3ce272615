"""Consumers killed with SIGKILL at random points, over and over, while a 100,000-event stream
arrives: the decisions and every projection document come out exactly as in a clean run.

Moderation resumes from its snapshot and re-emits decisions with the same ids; reporting
resumes from the checkpoints it commits in the same transaction as its projection writes
and folds each decision id once. Comparing document by document with a clean run of the
same events (fresh consumers, no faults) proves nothing was lost and nothing was counted
twice, whatever the crash point.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from random import Random

import pytest
from stack_support import Servers
from fault_kit import (
    Consumers,
    decisions,
    diff_projections,
    dump,
    produce,
    progress,
    projections,
    stream,
    total_documents,
    wait_drained,
    wait_progress,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SEED = 20261124
EVENTS = 100_000
KILLS = 20
VICTIMS = ("moderation-1", "reporting")
# Where a kill lands: most after the victim has made progress on the chunk just written
# (mid-batch or just after a commit), some while it is still starting or joining the group.
EARLY_KILL_RATE = 0.2


async def test_sigkilled_consumers_lose_and_double_count_nothing(
    servers: Servers, tmp_path: Path
) -> None:
    records = stream(SEED, EVENTS)
    rng = Random(SEED)

    clean = servers.settings()
    await produce(clean, records)
    clean_run = Consumers.start(tmp_path / "clean", clean)
    try:
        await wait_drained(clean, timeout=300)
    finally:
        clean_run.stop()
    want_decisions, want_records = await decisions(clean)
    want = await projections(clean)

    # One chunk of the stream per kill: every kill lands while the consumers have work.
    crash = servers.settings()
    chunk = -(-len(records) // KILLS)
    crashed = Consumers.start(tmp_path / "crash", crash)
    kills: Counter[str] = Counter()
    early = 0
    started = time.monotonic()
    try:
        for i in range(KILLS):
            victim = rng.choice(VICTIMS)
            before = await progress(crash, victim)
            await produce(crash, records[i * chunk : (i + 1) * chunk])
            if rng.random() < EARLY_KILL_RATE:
                early += 1
                await asyncio.sleep(rng.uniform(0.0, 3.0))
            else:
                await wait_progress(crash, victim, before, timeout=30)
                await asyncio.sleep(rng.uniform(0.0, 1.0))
            crashed.kill(victim)
            kills[victim] += 1
            crashed.restart(victim)
        drained = await wait_drained(crash, timeout=300)
    finally:
        crashed.stop()
    elapsed = time.monotonic() - started

    got_decisions, got_records = await decisions(crash)
    got = await projections(crash)
    print(
        f"\ncrash run: {len(records)} events, kills {dict(kills)} ({early} while starting), "
        f"{elapsed:.0f}s; decisions {len(got_decisions)} distinct in {got_records} records "
        f"(clean: {len(want_decisions)} in {want_records}); "
        f"{len(got)} projection collections, {total_documents(got)} documents; {drained}"
    )

    assert drained.events_end == len(records)
    assert kills["moderation-1"] >= 5 and kills["reporting"] >= 5, kills
    assert want_decisions, "the stream must produce decisions for this test to mean anything"
    assert {i: d["action"] for i, d in got_decisions.items()} == {
        i: d["action"] for i, d in want_decisions.items()
    }
    assert got_decisions == want_decisions
    assert total_documents(want) > 0
    problems = diff_projections(got, want)
    if problems:
        dump(got, tmp_path / "crash-projections.json")
        dump(want, tmp_path / "clean-projections.json")
    assert problems == [], f"projections differ (dumped to {tmp_path}):\n" + "\n".join(problems)
