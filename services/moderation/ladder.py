"""The sanction ladder: each unexpired violation moves a member one step up.

Violations are (time, ref) pairs per member: detected ones ("e:<event_id>"), complaint
cases ("c:<case_id>") and manual sanctions ("s:<sanction_id>"), so a revoked manual
sanction can be taken off again. They expire `expire_after` seconds of event time after
they happened. Serious categories skip the ladder: ban and escalate to an admin. Only
serious categories (and steps marked `escalate`) escalate; a kick from the ladder is
decided by the engine on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.moderation.state import EXPIRY_VIOLATIONS, GroupState
from shared.rules import Ladder


@dataclass(frozen=True, slots=True)
class Sanction:
    """What the ladder decides for one violation."""

    action: str  # warn | mute | kick | ban
    duration_s: int | None
    escalate: bool
    count: int
    serious: bool


def live(
    history: list[tuple[float, str]], at: float, expire_after: float
) -> list[tuple[float, str]]:
    cutoff = at - expire_after
    return [v for v in history if v[0] > cutoff]


def add_violation(g: GroupState, user_id: str, at: float, ref: str, ladder: Ladder) -> int:
    """Record a violation; the number of unexpired violations of the member, this one included.

    A ref already on record (a redelivered manual sanction) is not counted twice.
    """
    history = live(g.violations.get(user_id, []), at, ladder.expire_after)
    if all(r != ref for _, r in history):
        history.append((at, ref))
        history.sort()
        g.schedule(history[0][0] + ladder.expire_after, EXPIRY_VIOLATIONS, user_id)
    g.violations[user_id] = history
    return sum(1 for t, _ in history if t <= at)


def remove_violation(g: GroupState, ref: str) -> str | None:
    """Take a violation off the ladder (a revoked sanction, a rejected case): its member."""
    for user_id, history in g.violations.items():
        kept = [v for v in history if v[1] != ref]
        if len(kept) != len(history):
            if kept:
                g.violations[user_id] = kept
            else:
                del g.violations[user_id]
            return user_id
    return None


def sanction_for(ladder: Ladder, count: int, serious: bool) -> Sanction:
    """The step for the `count`-th violation; past the last step, the last step repeats."""
    if serious:
        return Sanction("ban", None, True, count, True)
    step = ladder.steps[min(count, len(ladder.steps)) - 1]
    return Sanction(step.action, step.duration, step.escalate, count, False)
