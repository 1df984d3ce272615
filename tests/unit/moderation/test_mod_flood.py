"""Flood and mention spam: limits on event time, once per window on the ladder."""

from __future__ import annotations

from tests.support.modhelp import Run, actions, msg, only

FLOOD = only({"flood": {"kind": "flood", "max_messages": 3, "window": "10s"}})


def test_more_than_n_messages_in_window_is_flooding() -> None:
    run = Run(FLOOD)
    assert run.feed(*(msg(f"m{i}", at=i) for i in range(3))) == []
    assert actions(run.feed(msg("m3", at=3))) == [("remove_message", "flood"), ("warn", "flood")]


def test_flood_counts_on_the_ladder_once_per_window() -> None:
    run = Run(FLOOD)
    out = run.feed(*(msg(f"m{i}", at=i * 0.1) for i in range(8)))
    assert [a for a, _ in actions(out)] == ["remove_message", "warn"] + ["remove_message"] * 4
    # after the window, a new burst is a new violation: second warning
    out = run.feed(*(msg(f"n{i}", at=30 + i * 0.1) for i in range(4)))
    assert [a for a, _ in actions(out)] == ["remove_message", "warn"]
    assert "2" in out[1].reason


def test_window_is_event_time_not_arrival() -> None:
    run = Run(FLOOD)
    # four messages, but spread over 40 s of event time
    assert run.feed(*(msg(f"m{i}", at=i * 10) for i in range(4))) == []


def test_out_of_order_events_count_by_their_own_time() -> None:
    run = Run(FLOOD)
    assert run.feed(msg("a", at=100), msg("b", at=50), msg("c", at=101), msg("d", at=51)) == []


def test_users_are_counted_separately() -> None:
    run = Run(FLOOD)
    assert run.feed(*(msg("hi", user=f"u{i % 2}", at=i * 0.1) for i in range(6))) == []


def test_mentions_over_the_limit() -> None:
    run = Run(only({"mentions": {"kind": "mentions", "max_mentions": 3}}))
    assert run.feed(msg("hey all", mentions=3)) == []
    out = run.feed(msg("hey all", mentions=4))
    assert actions(out) == [("remove_message", "mentions"), ("warn", "mentions")]
