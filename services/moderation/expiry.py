"""Expiry by index: what the periodic sweep drops, found without scanning all state.

Every SWEEP_EVERY_S of event time the engine drops state no rule can use anymore (message
times past the flood horizon, joins past the new-member period, spent cooldowns, expired
violations, complaint cases that can no longer matter, mutes and timed bans whose time is
over, old repeat fingerprints). Scanning
all of it each time cost a sixth of the engine's time and grew with the number of
members. Instead each piece of state is scheduled in a heap under the time it may expire
at, and a sweep pops only what is due.

The heap is a hint, never the truth: a popped entry is checked against the state as it is
now, with exactly the conditions the full sweep used, and what is not expired yet (a
member posted again, a case got a new complaint) is scheduled again under its new time.
So the state after every sweep is the state the full scan left (the tests hold the two
equal event by event), decisions are unchanged, and replays still reproduce them.

Dues depend on the rules (horizons, periods, windows). A group's heap belongs to the
compiled rules it was built under; when those are not the rules in force (a ruleset
update, a restart from a snapshot, a replay under other defaults) it is rebuilt from the
group's state, once, before the sweep reads it. The heaps are not in the snapshot.
"""

from __future__ import annotations

from heapq import heappop
from typing import Any

from services.moderation import complaints as cases
from services.moderation.compiled import CompiledRules
from services.moderation.ladder import live
from services.moderation.state import (
    EXPIRY_CASE,
    EXPIRY_COOLDOWN,
    EXPIRY_JOINED,
    EXPIRY_SANCTION,
    EXPIRY_TIMES,
    EXPIRY_VIOLATIONS,
    Case,
    GroupState,
    PartitionState,
)

# The kinds of scheduled state, as heap entries name them: (due, kind, key).
TIMES, JOINED, COOLDOWN, VIOLATIONS, CASE, SANCTION = (
    EXPIRY_TIMES,
    EXPIRY_JOINED,
    EXPIRY_COOLDOWN,
    EXPIRY_VIOLATIONS,
    EXPIRY_CASE,
    EXPIRY_SANCTION,
)


def case_due(case: Case, window: float, keep_triggered: float) -> float:
    """When the full sweep would first forget this case (complaints.prune's conditions)."""
    if case.triggered_at is not None:
        return case.triggered_at + keep_triggered
    return max(case.reporters.values(), default=case.opened_at) + window


def _windows(rules: CompiledRules) -> tuple[float, float, float, float]:
    window = rules.complaints[1].window if rules.complaints else 0
    return rules.times_horizon, rules.new_member_period, window, rules.ladder.expire_after


def rebuild(g: GroupState, rules: CompiledRules) -> None:
    """Schedule all of a group's state under these rules."""
    horizon, period, window, expire_after = _windows(rules)
    g.expiry = []
    g.scheduled = {}
    g.expiry_rules = rules
    for user_id, ts in g.times.items():
        g.schedule(ts[-1] + horizon if ts else float("-inf"), TIMES, user_id)
    for user_id, t in g.joined.items():
        g.schedule(t + period, JOINED, user_id)
    for key, until in g.cooldowns.items():
        g.schedule(until, COOLDOWN, key)
    for user_id, history in g.violations.items():
        g.schedule(
            min(t for t, _ in history) + expire_after if history else float("-inf"),
            VIOLATIONS,
            user_id,
        )
    for case in g.cases.values():
        g.schedule(case_due(case, window, expire_after), CASE, case.case_id)
    for ref, (_, _, ends) in g.sanctions.items():
        if ends is not None:
            g.schedule(ends, SANCTION, ref)


def expire_group(g: GroupState, now: float, rules: CompiledRules) -> None:
    """Drop what is due in one group, as the full sweep would at `now`."""
    if g.expiry_rules is not rules:
        rebuild(g, rules)
    heap = g.expiry
    if not heap or heap[0][0] > now:
        return
    horizon, period, window, expire_after = _windows(rules)
    scheduled = g.scheduled
    while heap and heap[0][0] <= now:
        due, kind, key = heappop(heap)
        if scheduled.get((kind, key)) != due:
            continue  # superseded by an earlier due
        del scheduled[(kind, key)]
        if kind == TIMES:
            ts = g.times.get(key)
            if ts is None:
                continue
            if not ts or ts[-1] <= now - horizon:
                del g.times[key]
            else:
                g.schedule(ts[-1] + horizon, TIMES, key)
        elif kind == JOINED:
            t = g.joined.get(key)
            if t is None:
                continue
            if t <= now - period:
                del g.joined[key]
            else:
                g.schedule(t + period, JOINED, key)
        elif kind == COOLDOWN:
            until = g.cooldowns.get(key)
            if until is None:
                continue
            if until <= now:
                del g.cooldowns[key]
            else:
                g.schedule(until, COOLDOWN, key)
        elif kind == VIOLATIONS:
            history = g.violations.get(key)
            if history is None:
                continue
            kept = live(history, now, expire_after)
            if kept:
                g.violations[key] = kept
                g.schedule(min(t for t, _ in kept) + expire_after, VIOLATIONS, key)
            else:
                del g.violations[key]
        elif kind == SANCTION:
            active = g.sanctions.get(key)
            if active is None or active[2] is None:
                continue
            if active[2] <= now:
                del g.sanctions[key]
            else:
                g.schedule(active[2], SANCTION, key)
        else:
            case = g.cases.get(key)
            if case is None:
                continue
            if cases.is_stale(case, now, window, expire_after):
                cases.forget(g, case)
            else:
                g.schedule(case_due(case, window, expire_after), CASE, key)


def expire_repeats(state: PartitionState, now: float) -> None:
    """Drop repeat fingerprints older than the partition's repeat horizon."""
    horizon = state.repeat_horizon
    heap = state.repeat_expiry
    scheduled = state.repeat_scheduled
    if heap is None:
        heap = state.repeat_expiry = []
        scheduled.clear()
        for key, entries in state.repeats.items():
            state.schedule_repeat(
                min(t for t, _ in entries) + horizon if entries else float("-inf"), key
            )
    oldest = now - horizon
    while heap and heap[0][0] <= now:
        due, key = heappop(heap)
        if scheduled.get(key) != due:
            continue
        del scheduled[key]
        found: Any = state.repeats.get(key)
        if found is None:
            continue
        kept = [e for e in found if e[0] > oldest]
        if kept:
            state.repeats[key] = kept
            state.schedule_repeat(min(t for t, _ in kept) + horizon, key)
        else:
            del state.repeats[key]
