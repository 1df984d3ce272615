"""All moderation state of one Kafka partition, as plain data that snapshots to JSON.

State lives with the partition because every event of a group is in one partition, in
order. It is bounded: windows are pruned by event time, ladders keep only unexpired
violations, and the set of applied events keeps only the most recent ones: a repeat of an event is
dropped while it is among the last `seen_limit` events applied in its partition (20,000 by
default: minutes to hours of traffic); ingest's claims cover later retries.
The snapshot uses lists, never user-chosen strings as keys, so it is safe to store in
MongoDB whatever a platform calls its users and groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from heapq import heappush
from typing import Any

# 2: `seen` holds "event_id group_key" (ids are owned by their group). A format-1 snapshot
# holds bare event ids: it is still read, and a bare id then stands for that id in any
# group until newer entries push it out (no replay, so no decision is emitted again).
SNAPSHOT_FORMAT = 2
_READABLE_FORMATS = (1, 2)
DEFAULT_SEEN_LIMIT = 20_000

# The kinds of state the expiry index schedules (services/moderation/expiry.py).
EXPIRY_TIMES, EXPIRY_JOINED, EXPIRY_COOLDOWN, EXPIRY_VIOLATIONS, EXPIRY_CASE, EXPIRY_SANCTION = (
    range(6)
)

# A mute or ban in force: (target user id, "mute" | "ban", until; None: no end).
ActiveSanction = tuple[str, str, float | None]


@dataclass(slots=True)
class Case:
    """A complaint case: every complaint against one message (or else one user)."""

    case_id: str
    target: str  # "m:<message_id>" or "u:<user_id>"
    target_user_id: str
    opened_at: float
    # reporter user id -> time of their latest complaint in this case
    reporters: dict[str, float] = field(default_factory=dict)
    complaint_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    triggered_at: float | None = None

    def to_json(self) -> list[Any]:
        return [
            self.case_id,
            self.target,
            self.target_user_id,
            self.opened_at,
            [[u, t] for u, t in self.reporters.items()],
            self.complaint_ids,
            self.event_ids,
            self.triggered_at,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Case:
        return cls(
            case_id=data[0],
            target=data[1],
            target_user_id=data[2],
            opened_at=data[3],
            reporters={u: t for u, t in data[4]},
            complaint_ids=list(data[5]),
            event_ids=list(data[6]),
            triggered_at=data[7],
        )


@dataclass(slots=True)
class GroupState:
    version: int = 0
    # the overrides of the group's latest accepted ruleset.updated (None: the default)
    rules_raw: dict[str, Any] | None = None
    clock: float = 0.0
    swept_at: float = 0.0
    joined: dict[str, float] = field(default_factory=dict)
    # user id -> sorted times of their recent messages (flood windows)
    times: dict[str, list[float]] = field(default_factory=dict)
    # user id -> [(time, ref)] unexpired violations; ref "s:<sanction_id>" for manual
    # sanctions, "e:<event_id>" for detected ones, "c:<case_id>" for complaint cases
    violations: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    # (rule id, user id) -> until when a rate rule does not count again on the ladder
    cooldowns: dict[tuple[str, str], float] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    case_of_target: dict[str, str] = field(default_factory=dict)
    case_of_complaint: dict[str, str] = field(default_factory=dict)
    # mutes and bans in force, so a revoke knows whom to unmute or unban: ref "s:<sanction
    # id>" for manual ones, "d:<decision id>" for the engine's own. A timed one is dropped
    # when its time is over, a revoked one at the revoke; a ban without an end stays.
    sanctions: dict[str, ActiveSanction] = field(default_factory=dict)
    # transient: the compiled rules in force (rebuilt from rules_raw after a restore)
    compiled: Any = None
    # transient: the expiry index (services/moderation/expiry.py), rebuilt from the state
    # above whenever the rules it was built under are not the rules in force
    expiry: list[tuple[float, int, Any]] = field(default_factory=list)
    scheduled: dict[tuple[int, Any], float] = field(default_factory=dict)
    expiry_rules: Any = None

    def schedule(self, due: float, kind: int, key: Any) -> None:
        """Note when a piece of state may expire (see services/moderation/expiry.py)."""
        k = (kind, key)
        current = self.scheduled.get(k)
        if current is None or due < current:
            self.scheduled[k] = due
            heappush(self.expiry, (due, kind, key))

    def to_json(self) -> dict[str, Any]:
        return {
            "ver": self.version,
            "rules": self.rules_raw,
            "clock": self.clock,
            "swept": self.swept_at,
            "joined": [[u, t] for u, t in self.joined.items()],
            "times": [[u, ts] for u, ts in self.times.items()],
            "viol": [[u, [[t, r] for t, r in v]] for u, v in self.violations.items()],
            "cool": [[r, u, t] for (r, u), t in self.cooldowns.items()],
            "cases": [c.to_json() for c in self.cases.values()],
            "sanc": [[ref, u, a, until] for ref, (u, a, until) in self.sanctions.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupState:
        g = cls(
            version=data["ver"],
            rules_raw=data["rules"],
            clock=data["clock"],
            swept_at=data["swept"],
            joined={u: t for u, t in data["joined"]},
            times={u: list(ts) for u, ts in data["times"]},
            violations={u: [(t, r) for t, r in v] for u, v in data["viol"]},
            cooldowns={(r, u): t for r, u, t in data["cool"]},
            # absent from snapshots made before revokes became decisions: none known
            sanctions={ref: (u, a, until) for ref, u, a, until in data.get("sanc", [])},
        )
        for raw in data["cases"]:
            case = Case.from_json(raw)
            g.cases[case.case_id] = case
            g.case_of_target[case.target] = case.case_id
            for cid in case.complaint_ids:
                g.case_of_complaint[cid] = case.case_id
        return g


class PartitionState:
    """Moderation state for the groups of one partition."""

    __slots__ = (
        "clock",
        "groups",
        "legacy_seen",
        "repeat_expiry",
        "repeat_horizon",
        "repeat_scheduled",
        "repeats",
        "seen",
        "seen_limit",
        "swept_at",
    )

    def __init__(self, seen_limit: int = DEFAULT_SEEN_LIMIT) -> None:
        self.seen_limit = seen_limit
        self.groups: dict[str, GroupState] = {}
        # recently applied event ids, oldest first (a dict keeps insertion order)
        self.seen: dict[str, None] = {}
        # restored from a format-1 snapshot: entries are bare event ids
        self.legacy_seen = False
        # "platform:user|fingerprint" -> [(time, group key)]: repeats across the groups
        # that share this partition
        self.repeats: dict[str, list[tuple[float, str]]] = {}
        self.repeat_horizon = 0.0
        # transient: when each repeats entry may expire (services/moderation/expiry.py);
        # None until built from `repeats` (after a restore)
        self.repeat_expiry: list[tuple[float, str]] | None = None
        self.repeat_scheduled: dict[str, float] = {}
        self.clock = 0.0
        self.swept_at = 0.0

    def mark_seen(self, key: str) -> bool:
        """Remember an event ("event_id group_key"); False when it was applied before."""
        seen = self.seen
        if key in seen or (self.legacy_seen and key.split(" ", 1)[0] in seen):
            return False
        seen[key] = None
        if len(seen) > self.seen_limit:
            del seen[next(iter(seen))]
        return True

    def schedule_repeat(self, due: float, key: str) -> None:
        heap = self.repeat_expiry
        if heap is None:
            return  # not indexed yet: the index is built from `repeats` when first needed
        current = self.repeat_scheduled.get(key)
        if current is None or due < current:
            self.repeat_scheduled[key] = due
            heappush(heap, (due, key))

    def group(self, group_key: str) -> GroupState:
        g = self.groups.get(group_key)
        if g is None:
            g = self.groups[group_key] = GroupState()
        return g

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "seen_limit": self.seen_limit,
            "seen": list(self.seen),
            "legacy_seen": self.legacy_seen,
            "clock": self.clock,
            "swept": self.swept_at,
            "repeat_horizon": self.repeat_horizon,
            "repeats": [[k, [[t, g] for t, g in v]] for k, v in self.repeats.items()],
            "groups": [[k, g.to_json()] for k, g in self.groups.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartitionState:
        if data.get("format") not in _READABLE_FORMATS:
            raise ValueError(f"unknown moderation snapshot format {data.get('format')!r}")
        s = cls(seen_limit=data["seen_limit"])
        s.seen = dict.fromkeys(data["seen"])
        s.legacy_seen = data["format"] == 1 or bool(data.get("legacy_seen"))
        s.clock = data["clock"]
        s.swept_at = data["swept"]
        s.repeat_horizon = data["repeat_horizon"]
        s.repeats = {k: [(t, g) for t, g in v] for k, v in data["repeats"]}
        s.groups = {k: GroupState.from_json(g) for k, g in data["groups"]}
        return s
