"""The worker decodes with the fast path and builds decisions without validating them
again: the decisions, and the bytes on the decisions topic, must be what the validated
path gives for the same records."""

from __future__ import annotations

from datetime import UTC, datetime

from services.moderation.engine import Engine, PartitionState
from shared.codec import decode_event, encode_decision, encode_event, event_from_dict
from shared.events import Decision
from shared.fast_codec import decode_event_fast
from shared.rules import default_ruleset
from tools.simulator.community import simulate


def _records(n: int) -> list[bytes]:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    return [encode_event(event_from_dict(raw)) for raw in simulate(21, n, start)]


def test_fast_and_validated_paths_decide_the_same_bytes() -> None:
    records = _records(8000)
    rules = default_ruleset()
    slow_engine, fast_engine = Engine(rules), Engine(rules)
    slow_state, fast_state = PartitionState(), PartitionState()
    decided = 0
    for data in records:
        slow = slow_engine.apply(slow_state, decode_event(data))
        fast = fast_engine.apply(fast_state, decode_event_fast(data))
        assert [encode_decision(d) for d in fast] == [encode_decision(d) for d in slow]
        decided += len(fast)
    assert decided > 100, "the community must break rules for this to compare anything"
    assert fast_state.to_json() == slow_state.to_json()


def test_a_built_decision_is_the_decision_validation_gives() -> None:
    engine, state = Engine(default_ruleset()), PartitionState()
    built = [d for data in _records(4000) for d in engine.apply(state, decode_event_fast(data))]
    assert built
    for decision in built:
        validated = Decision.model_validate(decision.model_dump())
        assert validated == decision
        assert validated.model_dump_json() == decision.model_dump_json()
