"""Reporting's fetch wait is its own setting: the default does not poll the broker every
10 ms while a batch commits, and the latency-bound consumers keep theirs."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from shared.kafka import make_consumer
from shared.settings import Settings


def _wait_of(settings: Settings, override: int | None) -> int:
    async def build() -> int:
        consumer = make_consumer(
            settings, group_id=None, client_id="test", fetch_max_wait_ms=override
        )
        wait: int = consumer._fetch_max_wait_ms
        await consumer.stop()
        return wait

    return asyncio.run(build())


def test_reporting_waits_longer_than_the_latency_bound_consumers_by_default() -> None:
    s = Settings()
    assert s.reporting_fetch_max_wait_ms >= 100 > s.kafka_fetch_max_wait_ms
    assert _wait_of(s, None) == s.kafka_fetch_max_wait_ms
    assert _wait_of(s, s.reporting_fetch_max_wait_ms) == s.reporting_fetch_max_wait_ms


def test_the_reporting_fetch_wait_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODSTREAM_REPORTING_FETCH_MAX_WAIT_MS", "250")
    assert Settings().reporting_fetch_max_wait_ms == 250
    monkeypatch.setenv("MODSTREAM_REPORTING_FETCH_MAX_WAIT_MS", "-1")
    with pytest.raises(ValidationError, match="reporting_fetch_max_wait_ms"):
        Settings()
