"""The stream contract: exact count, order, determinism, and every event a valid canonical event."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from shared.codec import CURRENT_VERSIONS, event_from_dict
from tools.simulator import community_groups, simulate, span_days

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def stream() -> list[dict]:
    return list(simulate(7, 20_000, START))


@pytest.mark.parametrize("n", [0, 1, 2, 137, 5_000])
def test_yields_exactly_the_requested_number_of_events(n: int) -> None:
    assert sum(1 for _ in simulate(3, n, START)) == n


def test_same_seed_replays_the_identical_stream() -> None:
    assert list(simulate(11, 3_000, START)) == list(simulate(11, 3_000, START))


def test_different_seeds_give_different_communities() -> None:
    a = list(simulate(1, 2_000, START))
    b = list(simulate(2, 2_000, START))
    assert [e["group_id"] for e in a] != [e["group_id"] for e in b]
    assert [e["payload"] for e in a] != [e["payload"] for e in b]


def test_stream_is_lazy_so_huge_runs_start_at_once() -> None:
    # A list-building implementation would never get past the first next() here.
    first = list(itertools.islice(simulate(5, 10**9, START), 50))
    assert len(first) == 50
    assert all(e["type"] == "member.joined" for e in first[:3])


def test_occurred_at_never_goes_backwards(stream: list[dict]) -> None:
    times = [datetime.fromisoformat(e["occurred_at"]) for e in stream]
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert times[0] >= START


def test_timestamps_are_rfc3339_utc_strings(stream: list[dict]) -> None:
    for e in stream[:500]:
        assert isinstance(e["occurred_at"], str)
        assert e["occurred_at"].endswith("Z")
        assert "T" in e["occurred_at"]


def test_every_event_validates_as_a_canonical_event(stream: list[dict]) -> None:
    for raw in stream:
        event = event_from_dict(raw)
        assert event.type == raw["type"]
        assert raw["schema_version"] == CURRENT_VERSIONS[raw["type"]]
        assert "actor" not in raw and "received_at" not in raw


def test_event_ids_are_unique_and_name_the_seed(stream: list[dict]) -> None:
    ids = [e["event_id"] for e in stream]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("sim-7-") for i in ids)


def test_events_only_come_from_the_community_groups(stream: list[dict]) -> None:
    keys = {g.group_key for g in community_groups(7)}
    seen = {f"{e['platform']}:{e['group_id']}" for e in stream}
    assert seen == keys


def test_naive_start_is_taken_as_utc() -> None:
    naive = list(simulate(4, 300, START.replace(tzinfo=None)))
    assert naive == list(simulate(4, 300, START))


def test_negative_event_count_is_refused() -> None:
    with pytest.raises(ValueError):
        simulate(1, -1, START)


def test_twenty_thousand_events_span_about_six_weeks_and_two_months(stream: list[dict]) -> None:
    first = datetime.fromisoformat(stream[0]["occurred_at"])
    last = datetime.fromisoformat(stream[-1]["occurred_at"])
    assert timedelta(days=35) <= last - first <= timedelta(days=49)
    assert len({e["occurred_at"][:7] for e in stream}) >= 2


def test_small_runs_still_cover_several_days() -> None:
    events = list(simulate(9, 500, START))
    last = datetime.fromisoformat(events[-1]["occurred_at"])
    assert last - START >= timedelta(days=2)
    assert span_days(500) < span_days(20_000) < span_days(1_000_000)
