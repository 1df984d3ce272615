"""State stays bounded: event ids, windows and ladders are pruned by event time."""

from __future__ import annotations

import json

from services.moderation.engine import Engine, PartitionState
from shared.rules import default_ruleset
from tests.support.modhelp import Run, joined, msg


def test_seen_ids_are_bounded() -> None:
    engine, state = Engine(default_ruleset()), PartitionState(seen_limit=100)
    for i in range(500):
        engine.apply(state, msg(f"hello {i}", user=str(i % 7), at=i))
    assert len(state.seen) == 100


def test_idle_members_are_swept_from_windows_and_ladders() -> None:
    run = Run()
    run.feed(joined("n1", at=0))
    run.feed(*(msg(f"傻逼 {i}", user=f"u{i}", at=i) for i in range(50)))
    g = run.state.groups["telegram:-1001"]
    assert len(g.times) == 50 and len(g.violations) == 50 and g.joined
    # 40 days later one message moves the clock: everything old is swept
    run.feed(msg("hello there", user="late", at=40 * 86400))
    assert set(g.times) == {"late"}
    assert g.violations == {} and g.joined == {}
    assert all(t > 39 * 86400 for entries in run.state.repeats.values() for t, _ in entries)


def test_snapshot_is_json_with_no_user_chosen_keys() -> None:
    run = Run()
    run.feed(msg("a.b$c 傻逼", user="$weird.user", group="grp.with.dots"))
    data = json.loads(json.dumps(run.state.to_json()))

    def keys(value: object) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    assert not any("." in k or k.startswith("$") for k in keys(data))
    assert PartitionState.from_json(data).to_json() == data


def test_an_event_id_is_owned_by_its_group() -> None:
    """The same id in two groups of one partition is two events; a repeat in one group is
    one (it would otherwise be judged, and count on the ladder, twice)."""
    engine, state = Engine(default_ruleset()), PartitionState()
    a = msg("傻逼", user="u1", at=10, group="-1001")
    b = a.model_copy(update={"group_id": "-2002"})
    assert engine.apply(state, a)
    assert engine.apply(state, b)
    assert engine.apply(state, a) == []
    assert len(state.groups["telegram:-1001"].violations["u1"]) == 1
