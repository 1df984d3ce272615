from __future__ import annotations

import logging

from shared.logging import RepeatFilter


def record(name: str, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None, None)


def test_library_repeats_are_collapsed_and_counted() -> None:
    f = RepeatFilter(("aiokafka",), window_s=60)
    passed = [f.filter(record("aiokafka.conn", "Unable connect to node %s")) for _ in range(500)]
    assert passed.count(True) == 1
    f.window_s = 0  # the window is over: the next one through says how many were dropped
    summary = record("aiokafka.conn", "Unable connect to node %s")
    assert f.filter(summary)
    assert "499 like it" in str(summary.msg)


def test_our_own_lines_are_never_dropped() -> None:
    f = RepeatFilter(("aiokafka",), window_s=60)
    assert all(f.filter(record("services.moderation", "same")) for _ in range(10))
