"""The one retry rhythm: wait 0.5 s, then twice as long each time, never more than 10 s;
back to the start once something worked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class Backoff:
    """Exponential backoff. `next()` gives the delay to wait now and doubles the following
    one (up to `cap`); `reset()` starts over after a success."""

    def __init__(self, first: float = 0.5, cap: float = 10.0, factor: float = 2.0) -> None:
        if first <= 0 or cap < first or factor < 1:
            raise ValueError("need 0 < first <= cap and factor >= 1")
        self.first = first
        self.cap = cap
        self.factor = factor
        self._delay = first

    @property
    def delay(self) -> float:
        """The delay `next()` will give."""
        return self._delay

    def next(self) -> float:
        delay = self._delay
        self._delay = min(delay * self.factor, self.cap)
        return delay

    def reset(self) -> None:
        self._delay = self.first

    async def sleep(self) -> float:
        """Wait `next()` seconds; returns how long."""
        delay = self.next()
        await asyncio.sleep(delay)
        return delay


async def retry_until_up(start: Callable[[], Awaitable[object]], log: Any) -> None:
    """Call `start` until it succeeds, waiting the backoff between tries: a service comes
    up before its broker or store does, and waits for them instead of crash-looping."""
    backoff = Backoff()
    while True:
        try:
            await start()
            return
        except Exception as err:
            log.warning("dependency not ready, retrying", error=str(err), backoff_s=backoff.delay)
            await backoff.sleep()
