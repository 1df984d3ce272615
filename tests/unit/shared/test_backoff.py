"""The one retry rhythm (shared/backoff.py): 0.5 s doubling to a 10 s cap, reset on success."""

from __future__ import annotations

import pytest

from shared.backoff import Backoff


def test_doubles_up_to_the_cap_and_starts_over_on_reset() -> None:
    backoff = Backoff()
    assert [backoff.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.delay == 0.5
    assert backoff.next() == 0.5


async def test_sleep_waits_the_next_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr("shared.backoff.asyncio.sleep", fake_sleep)
    backoff = Backoff(first=1.0, cap=3.0)
    assert [await backoff.sleep() for _ in range(3)] == [1.0, 2.0, 3.0]
    assert slept == [1.0, 2.0, 3.0]


def test_refuses_a_rhythm_that_does_not_back_off() -> None:
    with pytest.raises(ValueError):
        Backoff(first=0)
    with pytest.raises(ValueError):
        Backoff(first=2.0, cap=1.0)
