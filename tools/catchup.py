"""How far behind each consumer is, through the public surface lag monitors and KEDA read:
the consumer groups' committed offsets in Kafka against the true log end offsets.

No service's private collections are read. The consumer loop (`shared/consumer.py`)
commits a partition's position only after its batch is done (moderation: every decision
acknowledged; reporting: the checkpoint transaction committed), and commits the last
position within about two seconds even when the stream goes quiet, so "committed at the
end" means "processed to the end".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import TopicPartition

from shared.kafka import committed_offsets, log_end_offsets
from shared.settings import Settings


@dataclass(frozen=True)
class Positions:
    events_end: int
    decisions_end: int
    moderation_done: int
    reporting_events_done: int
    reporting_decisions_done: int
    # The enforcer's progress on the decisions (its records land on the events topic, so
    # the others catch up on those after it).
    enforcement_done: int = 0

    @property
    def enforced(self) -> bool:
        return self.enforcement_done >= self.decisions_end

    @property
    def caught_up(self) -> bool:
        return (
            self.moderation_done >= self.events_end
            and self.reporting_events_done >= self.events_end
            and self.reporting_decisions_done >= self.decisions_end
        )


def _partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(settings.partitions)]


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    ends = await log_end_offsets(settings.kafka_bootstrap, _partitions(settings, topic))
    return {tp.partition: off for tp, off in ends.items()}


async def positions(settings: Settings) -> Positions:
    events = _partitions(settings, settings.events_topic)
    decisions = _partitions(settings, settings.decisions_topic)
    # Committed offsets first, ends after: a moderation commit covers decisions already
    # acknowledged, so ends read later include them, and "caught up" in one reading means
    # every event up to the ends is decided and every one of those decisions is folded.
    committed = await committed_offsets(
        settings.kafka_bootstrap,
        {
            settings.moderation_group: events,
            settings.reporting_group: events + decisions,
            settings.enforcement_group: decisions,
        },
    )
    ends = await log_end_offsets(settings.kafka_bootstrap, events + decisions)

    def done(group: str, tps: list[TopicPartition]) -> int:
        return sum(min(committed[group][tp], ends[tp]) for tp in tps)

    return Positions(
        sum(ends[tp] for tp in events),
        sum(ends[tp] for tp in decisions),
        done(settings.moderation_group, events),
        done(settings.reporting_group, events),
        done(settings.reporting_group, decisions),
        done(settings.enforcement_group, decisions),
    )


async def wait_caught_up(
    settings: Settings,
    timeout: float = 300.0,
    settle: float = 1.0,
    *,
    enforcement: bool = False,
) -> Positions:
    """Until every consumer has processed everything (and decisions stopped growing);
    with `enforcement`, the enforcer too (and the others its records)."""
    deadline = time.monotonic() + timeout
    last: Positions | None = None
    while True:
        pos = await positions(settings)
        done = pos.caught_up and (pos.enforced or not enforcement)
        if done and last is not None and last == pos:
            return pos
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumers not caught up after {timeout}s: {pos}")
        last = pos if done else None
        await asyncio.sleep(settle)
