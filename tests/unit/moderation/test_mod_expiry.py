"""Expiry by index leaves exactly the state the full sweep left, event by event.

The oracle is the sweep as it was before the index: every SWEEP_EVERY_S of event time,
scan every group's members, cooldowns, ladders, cases and mutes and bans in force, and the
partition's repeat fingerprints, with the conditions of the rules in force. The engine under test must hold
the same state after every event (so the same decisions), across rule changes that
shorten and lengthen every window, out-of-order events, and restarts from a snapshot.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from services.moderation import complaints as cases
from services.moderation.engine import Engine, PartitionState
from services.moderation.ladder import live
from shared.codec import event_from_dict
from shared.events import Event
from shared.rules import default_ruleset
from tests.support.modhelp import complaint, msg, rules_update
from tools.simulator.community import simulate

START = datetime(2026, 5, 1, tzinfo=UTC)


class FullSweepEngine(Engine):
    """The engine with the full scan the expiry index replaced."""

    def _sweep(self, state: PartitionState) -> None:
        now = state.clock
        state.swept_at = now
        for group_key, g in state.groups.items():
            rules = self._rules(g, group_key)
            horizon = rules.times_horizon
            for user_id in [u for u, ts in g.times.items() if not ts or ts[-1] <= now - horizon]:
                del g.times[user_id]
            period = rules.new_member_period
            for user_id in [u for u, t in g.joined.items() if t <= now - period]:
                del g.joined[user_id]
            for cool in [k for k, until in g.cooldowns.items() if until <= now]:
                del g.cooldowns[cool]
            for user_id in list(g.violations):
                kept = live(g.violations[user_id], now, rules.ladder.expire_after)
                if kept:
                    g.violations[user_id] = kept
                else:
                    del g.violations[user_id]
            window = rules.complaints[1].window if rules.complaints else 0
            for case in list(g.cases.values()):
                if cases.is_stale(case, now, window, rules.ladder.expire_after):
                    cases.forget(g, case)
            for ref in [r for r, (_, _, until) in g.sanctions.items() if until and until <= now]:
                del g.sanctions[ref]
        oldest = now - state.repeat_horizon
        for key in list(state.repeats):
            kept_repeats = [e for e in state.repeats[key] if e[0] > oldest]
            if kept_repeats:
                state.repeats[key] = kept_repeats
            else:
                del state.repeats[key]


def _ruleset(group: dict[str, Any], version: int, scale: float, ladder_scale: float) -> Event:
    """Every window of the default rules multiplied by `scale` (shorter and longer), the
    ladder's expiry by `ladder_scale` (so it can be shorter than the complaint window)."""
    defaults = default_ruleset().model_dump(mode="json")
    detectors: dict[str, Any] = {}
    for rule_id, cfg in defaults["detectors"].items():
        changed = {
            k: max(1, int(v * scale))
            for k, v in cfg.items()
            if k in ("window", "flood_window", "period")
        }
        if changed:
            detectors[rule_id] = changed
    expire_after = max(60, int(defaults["ladder"]["expire_after"] * ladder_scale))
    rules = {"detectors": detectors, "ladder": {"expire_after": expire_after}}
    return event_from_dict(
        {
            "event_id": f"rules-{group['group_id']}-{version}",
            "type": "ruleset.updated",
            "schema_version": 1,
            "occurred_at": group["occurred_at"],
            "platform": group["platform"],
            "group_id": group["group_id"],
            "user_id": "admin",
            "actor": {"name": "admin", "role": "admin"},
            "payload": {"version": version, "rules": rules},
        }
    )


def _events(n: int, seed: int, shuffle: bool, rule_changes: bool) -> list[Event]:
    raw = list(simulate(seed, n, START))
    rng = random.Random(seed)
    if shuffle:  # out of order by up to a few positions
        for i in range(0, len(raw) - 3, 3):
            if rng.random() < 0.3:
                raw[i], raw[i + 2] = raw[i + 2], raw[i]
    events = [event_from_dict(r) for r in raw]
    if not rule_changes:
        return events
    out: list[Event] = []
    version: dict[str, int] = {}
    for i, e in enumerate(events):
        out.append(e)
        if i % 700 == 350:
            version[e.group_key] = version.get(e.group_key, 1) + 1
            scale = rng.choice([0.05, 0.3, 2.0, 5.0])
            ladder_scale = rng.choice([0.0001, 0.05, 1.0, 3.0])
            out.append(
                _ruleset(e.model_dump(mode="json"), version[e.group_key], scale, ladder_scale)
            )
    return out


def _run_both(events: list[Event], snapshot_every: int = 0, min_sweeps: int = 10) -> None:
    rules = default_ruleset()
    indexed, oracle = Engine(rules), FullSweepEngine(rules)
    s1, s2 = PartitionState(), PartitionState()
    swept = 0
    for i, event in enumerate(events):
        d1 = indexed.apply(s1, event)
        d2 = oracle.apply(s2, event)
        assert [d.model_dump() for d in d1] == [d.model_dump() for d in d2], f"event {i}"
        if s2.swept_at != 0 and s2.swept_at == s2.clock:
            swept += 1
            assert s1.to_json() == s2.to_json(), f"state differs after the sweep at event {i}"
        if snapshot_every and i % snapshot_every == snapshot_every - 1:
            # a restart: the index is not in the snapshot and is rebuilt from the state
            s1 = PartitionState.from_json(s1.to_json())
            indexed = Engine(rules)
    assert s1.to_json() == s2.to_json()
    assert swept >= min_sweeps, "the input must make the engine sweep"


def test_index_matches_the_full_sweep_on_a_simulated_community() -> None:
    _run_both(_events(6000, seed=3, shuffle=False, rule_changes=False))


def test_index_matches_across_rule_changes_and_out_of_order_events() -> None:
    _run_both(_events(6000, seed=5, shuffle=True, rule_changes=True))


def test_index_is_rebuilt_after_a_restart_from_a_snapshot() -> None:
    _run_both(_events(5000, seed=8, shuffle=True, rule_changes=True), snapshot_every=900)


def test_a_triggered_case_expires_with_the_ladder_when_that_is_sooner() -> None:
    """Violations expire after 300 s here, sooner than the complaint window: a triggered
    case is forgotten then, and three new complaints about the message open a new case
    and act again (the full sweep did exactly this)."""
    events: list[Event] = [rules_update(2, {"ladder": {"expire_after": 300}}, at=0)]
    events += [
        complaint(f"r{i}", "target", at=10 + i, cid=f"c{i}", message_id="m1") for i in range(3)
    ]
    events += [msg(f"hello {i}", user=f"u{i}", at=20 + 100 * i) for i in range(12)]
    events += [
        complaint(f"r{i}", "target", at=1300 + i, cid=f"c{i}", message_id="m1") for i in range(3, 6)
    ]
    _run_both(events, min_sweeps=2)
    engine, state = Engine(default_ruleset()), PartitionState()
    acted = [d for e in events for d in engine.apply(state, e) if d.case_id]
    assert len({d.case_id for d in acted}) == 2


def test_a_quiet_member_is_forgotten_when_due_without_a_full_scan() -> None:
    """What a user would notice: an old violation no longer counts, and idle state goes."""
    engine, state = Engine(default_ruleset()), PartitionState()
    base = {
        "type": "message.posted",
        "schema_version": 2,
        "platform": "telegram",
        "group_id": "-1001",
    }

    def message(i: int, user: str, text: str, at: datetime) -> Event:
        return event_from_dict(
            {
                **base,
                "event_id": f"m{i}",
                "occurred_at": at.isoformat(),
                "user_id": user,
                "payload": {"message_id": str(i), "text": text},
            }
        )

    engine.apply(state, message(1, "bad", "你是个傻逼", START))
    g = state.groups["telegram:-1001"]
    assert "bad" in g.violations and "bad" in g.times
    expire = default_ruleset().ladder.expire_after
    later = START + timedelta(seconds=expire + 600)
    engine.apply(state, message(2, "other", "hello there", later))
    assert "bad" not in g.violations and "bad" not in g.times
    assert set(g.times) == {"other"}
