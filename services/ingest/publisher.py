"""Publishing accepted events: keyed by group, all sent before any is awaited (batching)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from shared.codec import encode_event
from shared.events import Event


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge in time: the caller answers 503, nothing is lost."""


class EventPublisher:
    def __init__(self, broker: KafkaBroker, topic: str, deadletter_topic: str) -> None:
        self._broker = broker
        self._topic = topic
        self._deadletter = deadletter_topic

    async def publish(self, events: Sequence[Event]) -> None:
        try:
            futures = [
                await self._broker.publish(
                    encode_event(e), self._topic, key=e.group_key.encode(), no_confirm=True
                )
                for e in events
            ]
            await asyncio.gather(*futures)
        except (TimeoutError, KafkaError, OSError) as err:
            raise BrokerUnavailable(str(err) or type(err).__name__) from err

    async def dead_letter(self, raw: bytes, reason: str, source: str) -> None:
        """The original bytes, untouched, with why and where in headers."""
        try:
            await self._broker.publish(
                raw, self._deadletter, headers={"x-reason": reason[:1000], "x-source": source}
            )
        except (TimeoutError, KafkaError, OSError) as err:
            raise BrokerUnavailable(str(err) or type(err).__name__) from err
