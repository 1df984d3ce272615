"""Recorded decisions against replayed ones (pure): what was reproduced, what would change.

Pairing goes from the strictest key to the loosest, so each difference is reported once
and as what a moderator would call it: the same decision id (or the same causing
event, rule and user) with another outcome is a *change*; a decision with no
counterpart is *added* (only the replay has it) or *removed* (only the record has it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from shared.events import Decision

ChangeKind = Literal["added", "removed", "changed"]

# What makes two decisions the same outcome (the id aside).
OUTCOME_FIELDS = (
    "group_key",
    "target_user_id",
    "action",
    "duration_s",
    "rule_id",
    "cause_event_ids",
)


def user_key_of(group_key: str, user_id: str) -> str:
    return f"{group_key.split(':', 1)[0]}:{user_id}"


def differing_fields(a: Decision, b: Decision, strict: bool) -> list[str]:
    fields = [*OUTCOME_FIELDS, "ruleset_version"] if strict else list(OUTCOME_FIELDS)
    return [f for f in fields if getattr(a, f) != getattr(b, f)]


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    before: Decision | None  # as recorded
    after: Decision | None  # as replayed
    fields: tuple[str, ...] = ()

    @property
    def decision(self) -> Decision:
        d = self.after or self.before
        assert d is not None
        return d

    @property
    def rule_id(self) -> str:
        return self.decision.rule_id

    @property
    def user_key(self) -> str:
        return user_key_of(self.decision.group_key, self.decision.target_user_id)

    @property
    def cause_event_ids(self) -> list[str]:
        ids: list[str] = []
        for d in (self.before, self.after):
            for e in d.cause_event_ids if d else []:
                if e not in ids:
                    ids.append(e)
        return ids


@dataclass
class Comparison:
    recorded: int = 0
    replayed: int = 0
    identical: int = 0  # same decision id, same outcome
    equivalent: int = 0  # same outcome under another id (e.g. another rule-set version)
    changes: list[Change] = field(default_factory=list)

    @property
    def reproduced_pct(self) -> float:
        """Share of recorded decisions the replay produced identically (id included)."""
        return 100.0 if self.recorded == 0 else round(100.0 * self.identical / self.recorded, 2)

    def of_kind(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def added(self) -> list[Change]:
        return self.of_kind("added")

    @property
    def removed(self) -> list[Change]:
        return self.of_kind("removed")

    @property
    def changed(self) -> list[Change]:
        return self.of_kind("changed")

    def _tally(self, key: Callable[[Change], str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            row = out.setdefault(key(c), {"added": 0, "removed": 0, "changed": 0})
            row[c.kind] += 1
        return dict(sorted(out.items()))

    def by_rule(self) -> dict[str, dict[str, int]]:
        return self._tally(lambda c: c.rule_id)

    def by_user(self) -> dict[str, dict[str, int]]:
        return self._tally(lambda c: c.user_key)


def _dedupe(decisions: Iterable[Decision]) -> list[Decision]:
    """Moderation may re-emit a decision after a restart (same id): count it once."""
    seen: set[str] = set()
    out = []
    for d in decisions:
        if d.decision_id not in seen:
            seen.add(d.decision_id)
            out.append(d)
    return out


def _order(d: Decision) -> tuple[str, str]:
    return (d.decided_at.isoformat(), d.decision_id)


def compare(
    recorded: Iterable[Decision], replayed: Iterable[Decision], *, strict: bool = True
) -> Comparison:
    """Pair recorded with replayed decisions and list every difference.

    strict: the rule-set version must match too (a replay with the recorded rules);
    a what-if replay runs other versions by design, so it compares outcomes only.
    """
    rec = sorted(_dedupe(recorded), key=_order)
    rep = sorted(_dedupe(replayed), key=_order)
    result = Comparison(recorded=len(rec), replayed=len(rep))
    changes: list[Change] = []

    rep_by_id = {d.decision_id: d for d in rep}
    left_rec: list[Decision] = []
    matched_rep: set[str] = set()
    for d in rec:
        other = rep_by_id.get(d.decision_id)
        if other is None:
            left_rec.append(d)
            continue
        matched_rep.add(other.decision_id)
        diff = differing_fields(d, other, strict)
        if diff:
            changes.append(Change("changed", d, other, tuple(diff)))
        else:
            result.identical += 1
    left_rep = [d for d in rep if d.decision_id not in matched_rep]

    def pair(key: Callable[[Decision], Hashable]) -> None:
        nonlocal left_rec, left_rep
        pool: dict[Hashable, list[Decision]] = defaultdict(list)
        for d in left_rep:
            pool[key(d)].append(d)
        still: list[Decision] = []
        used: set[str] = set()
        for d in left_rec:
            candidates = pool.get(key(d))
            if not candidates:
                still.append(d)
                continue
            other = candidates.pop(0)
            used.add(other.decision_id)
            diff = differing_fields(d, other, strict=False)
            if diff:
                changes.append(Change("changed", d, other, tuple(diff)))
            else:
                result.equivalent += 1
        left_rec = still
        left_rep = [d for d in left_rep if d.decision_id not in used]

    pair(lambda d: (d.group_key, d.target_user_id, tuple(d.cause_event_ids), d.rule_id))
    pair(lambda d: (d.group_key, d.target_user_id, tuple(d.cause_event_ids)))

    changes.extend(Change("removed", d, None) for d in left_rec)
    changes.extend(Change("added", None, d) for d in left_rep)
    changes.sort(key=lambda c: (*_order(c.decision), c.kind))
    result.changes = changes
    return result
