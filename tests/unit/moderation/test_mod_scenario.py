"""The scripted group history, snapshots mid-stream, redeliveries and determinism."""

from __future__ import annotations

import json

import pytest

from services.moderation.engine import Engine, PartitionState
from shared.events import Decision
from shared.rules import default_ruleset
from tests.support.modhelp import msg
from tests.support.scenario import expected_decisions, scripted_history


def straight_through() -> list[Decision]:
    engine, state = Engine(default_ruleset()), PartitionState()
    return [d for e in scripted_history() for d in engine.apply(state, e)]


def test_scripted_history_gives_exactly_the_expected_decisions() -> None:
    got = [(d.action, d.rule_id, d.target_user_id) for d in straight_through()]
    assert got == expected_decisions()


def test_decisions_carry_what_downstream_needs() -> None:
    history = {e.event_id: e for e in scripted_history()}
    for d in straight_through():
        cause = history[d.cause_event_ids[-1]]
        assert d.decided_at == cause.occurred_at
        assert d.group_key == "telegram:-1009001"
        assert (d.duration_s is not None) == (d.action == "mute")
        assert d.decision_id.startswith("d-")
    ids = [d.decision_id for d in straight_through()]
    assert len(set(ids)) == len(ids)


def test_replay_yields_the_same_decisions_and_ids() -> None:
    assert straight_through() == straight_through()


@pytest.mark.parametrize("split", range(0, len(scripted_history()) + 1, 3))
def test_snapshot_round_trip_mid_stream_changes_nothing(split: int) -> None:
    events = scripted_history()
    engine = Engine(default_ruleset())
    state = PartitionState()
    first = [d for e in events[:split] for d in engine.apply(state, e)]
    restored = PartitionState.from_json(json.loads(json.dumps(state.to_json())))
    fresh_engine = Engine(default_ruleset())  # a new process after a rebalance
    rest = [d for e in events[split:] for d in fresh_engine.apply(restored, e)]
    assert first + rest == straight_through()


def test_redelivered_events_yield_nothing() -> None:
    engine, state = Engine(default_ruleset()), PartitionState()
    event = msg("傻逼")
    assert engine.apply(state, event)
    assert engine.apply(state, event) == []
    restored = PartitionState.from_json(json.loads(json.dumps(state.to_json())))
    assert engine.apply(restored, event) == []


def test_other_group_and_prefix_give_the_same_story() -> None:
    engine, state = Engine(default_ruleset()), PartitionState()
    events = scripted_history(platform="discord", group_id="77", id_prefix="run2")
    got = [(d.action, d.rule_id, d.target_user_id) for e in events for d in engine.apply(state, e)]
    assert got == expected_decisions()
    assert all(e.event_id.startswith("run2-") for e in events)
