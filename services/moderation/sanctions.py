"""Mutes and bans in force, so that a revoke can be judged like any other act.

Enforcement reads only the decisions topic; to lift a mute or a ban it needs a decision
that names whom to unmute or unban. A revoke names only the sanction (a manual one by
its sanction id) or the engine's decision (by its decision id), so the group's state keeps
each mute and ban until it can no longer be revoked: its time is over (the expiry index
drops it), it was revoked, or, for a ban without an end, never (they are rare).
"""

from __future__ import annotations

from services.moderation.state import EXPIRY_SANCTION, ActiveSanction, GroupState

# What a revoke can lift, and the decision that lifts it.
LIFTS = {"mute": "unmute", "ban": "unban"}


def manual_ref(sanction_id: str) -> str:
    return f"s:{sanction_id}"


def decision_ref(decision_id: str) -> str:
    return f"d:{decision_id}"


def remember(
    g: GroupState, ref: str, user_id: str, action: str, at: float, duration_s: int | None
) -> None:
    """Keep a mute or ban that a later revoke may lift (other actions leave nothing to lift).

    A mute or ban without a positive duration has no end here (the ladder refuses a mute
    step without one, so only a manual act can ask for it)."""
    if action not in LIFTS:
        return
    until = at + duration_s if duration_s else None
    g.sanctions[ref] = (user_id, action, until)
    if until is not None:
        g.schedule(until, EXPIRY_SANCTION, ref)


def take_revoked(g: GroupState, revoked_id: str, at: float) -> ActiveSanction | None:
    """Forget the sanction a revoke names (a manual sanction id first, else a decision id);
    what it was if it was still in force at `at`.

    The check is against `at`, not against whether the sweep has dropped it yet, so the
    answer is the same whenever the sweeps ran: a replay and a restart decide alike."""
    for ref in (manual_ref(revoked_id), decision_ref(revoked_id)):
        active = g.sanctions.pop(ref, None)
        if active is not None:
            until = active[2]
            return active if until is None or until > at else None
    return None
