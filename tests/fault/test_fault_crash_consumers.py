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

from tests.support.fault_kit import (
    clean_run,
    compare,
    dump,
    folded_rules,
    outcome,
    produce,
    progress,
    stream,
    wait_drained,
    wait_progress,
)
from tests.support.stack import Servers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SEED = 20261124
EVENTS = 100_000
# Each cycle writes one chunk of the stream, then kills both consumers at random points
# while they work on it; a killed consumer needs ~20 s to rejoin its group (the broker
# waits out the dead member's session), so the cycles, not the events, set the run time.
CYCLES = 8
VICTIMS = ("moderation-1", "reporting")
# Now and then a victim is killed again before it has rejoined (while starting up,
# loading its snapshot or claiming its checkpoints).
EARLY_KILL_RATE = 0.5


async def test_sigkilled_consumers_lose_and_double_count_nothing(
    servers: Servers, tmp_path: Path
) -> None:
    rules, events = stream(SEED, EVENTS)
    rng = Random(SEED)
    want = await clean_run(servers.settings(), tmp_path / "clean", rules, events)

    crash = servers.settings()
    kills: Counter[str] = Counter()
    early = 0
    started = time.monotonic()
    chunk = -(-len(events) // CYCLES)
    async with folded_rules(tmp_path / "crash", crash, rules) as crashed:
        for i in range(CYCLES):
            before = {v: await progress(crash, v) for v in VICTIMS}
            await produce(crash, events[i * chunk : (i + 1) * chunk])
            for victim in rng.sample(VICTIMS, len(VICTIMS)):
                await wait_progress(crash, victim, before[victim], timeout=60)
                await asyncio.sleep(rng.uniform(0.0, 1.0))
                crashed.kill(victim)
                kills[victim] += 1
                crashed.restart(victim)
                if rng.random() < EARLY_KILL_RATE:
                    await asyncio.sleep(rng.uniform(0.5, 3.0))
                    crashed.kill(victim)
                    kills[victim] += 1
                    early += 1
                    crashed.restart(victim)
        drained = await wait_drained(crash)
    elapsed = time.monotonic() - started
    got = await outcome(crash)

    print(
        f"\ncrash run: {len(rules) + len(events)} events, {sum(kills.values())} SIGKILLs "
        f"{dict(kills)} ({early} before rejoining), {elapsed:.0f}s; crash: {got.summary()}; "
        f"clean: {want.summary()}; {drained}"
    )
    assert drained.events_end == len(rules) + len(events)
    assert sum(kills.values()) >= 20 and min(kills.values()) >= 5, kills
    assert want.decisions and want.documents, "the stream must give something to compare"
    problems = compare(got, want)
    if problems:
        dump(got.projections, tmp_path / "crash-projections.json")
        dump(want.projections, tmp_path / "clean-projections.json")
    assert problems == [], f"differs from the clean run (dumps in {tmp_path}):\n" + "\n".join(
        problems
    )
