"""How many MongoDB writes the folds cost per 1,000 records on the demo mix.

`uv run python -m tools.writes_probe [--seed N] [--events N] [--sizes 400,2000]`

Folds the simulated community (tools.simulator) per partition batch exactly as the
sink does (events, then the decisions moderation derives from them, each decision once)
and counts the documents each batch touches: one UpdateOne per touched document and one
per insert-once document, which is what the sink sends. The sink's own bookkeeping
(checkpoints, decision dedup records) is not counted. Pure and offline: no broker, no
store; the partitioning is an approximation of Kafka's (crc32 of the group key).
"""

from __future__ import annotations

import argparse
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.moderation.engine_config import configured_default_rules, log_rejected_rules
from services.moderation.factory import make_engine
from services.moderation.state import PartitionState
from services.reporting.folds import fold_decision, fold_event
from services.reporting.folds.base import Batch, GroupDirectory
from shared.codec import event_from_dict
from shared.events import Decision, Event
from shared.settings import Settings
from tools.simulator import simulate

START = datetime(2026, 9, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Tally:
    batch_size: int
    events: int
    decisions: int
    event_writes: Counter[str]
    decision_writes: Counter[str]

    def per_1000(self) -> float:
        total = sum(self.event_writes.values()) + sum(self.decision_writes.values())
        return round(total / max(1, self.events + self.decisions) * 1000, 1)


def partitions(
    events: Sequence[Event], decisions: Sequence[Decision], count: int
) -> dict[int, tuple[list[Event], list[Decision]]]:
    parts: dict[int, tuple[list[Event], list[Decision]]] = defaultdict(lambda: ([], []))
    for e in events:
        parts[zlib.crc32(e.group_key.encode()) % count][0].append(e)
    for d in decisions:
        parts[zlib.crc32(d.group_key.encode()) % count][1].append(d)
    return dict(parts)


def derive_decisions(events: Sequence[Event], settings: Settings, count: int) -> list[Decision]:
    """What moderation decides over the events, per partition, each decision once."""
    engine = make_engine(configured_default_rules(settings), on_rejected_rules=log_rejected_rules)
    states: dict[int, PartitionState] = defaultdict(PartitionState)
    out: dict[str, Decision] = {}
    for e in events:
        for d in engine.apply(states[zlib.crc32(e.group_key.encode()) % count], e):
            out.setdefault(d.decision_id, d)
    return list(out.values())


def tally(
    parts: dict[int, tuple[list[Event], list[Decision]]], settings: Settings, size: int
) -> Tally:
    event_writes: Counter[str] = Counter()
    decision_writes: Counter[str] = Counter()
    directory = GroupDirectory()
    n_events = n_decisions = 0
    for _, (events, decisions) in sorted(parts.items()):
        for i in range(0, len(events), size):
            batch = Batch()
            for e in events[i : i + size]:
                if e.type == "ruleset.updated":
                    rules = e.payload.rules
                    directory.learn(e.group_key, rules.get("timezone"), rules.get("language"))
                fold_event(batch, e, directory.get(e.group_key), settings)
            _count(batch, event_writes)
        for i in range(0, len(decisions), size):
            batch = Batch()
            for d in decisions[i : i + size]:
                fold_decision(batch, d, directory.get(d.group_key))
            _count(batch, decision_writes)
        n_events += len(events)
        n_decisions += len(decisions)
    return Tally(size, n_events, n_decisions, event_writes, decision_writes)


def _count(batch: Batch, into: Counter[str]) -> None:
    for collection, _ in batch.docs:
        into[collection] += 1
    for collection, _ in batch.inserts:
        into[collection] += 1


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--sizes", default="400,2000,5000")
    args = parser.parse_args(argv)
    settings = Settings()
    events = [event_from_dict(e) for e in simulate(args.seed, args.events, START)]
    decisions = derive_decisions(events, settings, args.partitions)
    parts = partitions(events, decisions, args.partitions)
    print(f"{len(events)} events, {len(decisions)} decisions, {len(parts)} partitions")
    for size in (int(s) for s in args.sizes.split(",")):
        t = tally(parts, settings, size)
        ev = round(sum(t.event_writes.values()) / max(1, t.events) * 1000, 1)
        print(
            f"batch {size}: {t.per_1000()} writes per 1,000 records "
            f"({ev} per 1,000 events; events {dict(t.event_writes)}, "
            f"decisions {dict(t.decision_writes)})"
        )


if __name__ == "__main__":
    main()
