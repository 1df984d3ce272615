"""The coarse projection documents read back as the figures the raw stream implies.

A simulated community is folded through the real sink into a real store, in small
batches (so documents are updated by many batches), and every API query and the monthly
report are compared with figures computed here, independently, from the events and
decisions themselves: what readers see must not depend on how documents are laid out.

The community's decisions are also "enforced": an enforcement.recorded record for each
(some groups in dry run, the others live with every outcome), scheduler records, revokes
(unmute / unban decisions) and one record the enforcer published twice.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from services.audit.verify import verify_report
from services.reporting import api, reads
from services.reporting.archive_writer import ArchiveWriter
from services.reporting.enforcement_figures import OUTCOMES
from services.reporting.event_ids import PassFirstOccurrences
from services.reporting.folds.common import REVOKE_ACTIONS, message_kind, stable_hash, user_key_of
from services.reporting.folds.enforcement import NEEDS_PERSON
from services.reporting.folds.operators import operator_of
from services.reporting.generations import ProjectionNames
from services.reporting.report_reads import monthly_report
from services.reporting.sink import ProjectionSink
from shared.archive import ARCHIVE
from shared.codec import encode_decision, encode_event, event_from_dict, event_to_dict
from shared.events import Decision, EnforcementRecordedEvent, Event
from shared.mongo import database, make_mongo
from shared.settings import Settings
from shared.tokens import TokenSpec, TokenStore
from tests.support.stack import Servers
from tools.simulator import simulate
from tools.writes_probe import derive_decisions

pytestmark = pytest.mark.integration

SEED = 5
START = datetime(2026, 1, 26, tzinfo=UTC)  # weeks and days run into February
BATCH = 250
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


LIVE_OUTCOMES = ["executed"] * 12 + ["failed", "failed", "unsupported", "partial", "unknown"]


def _n(*parts: str) -> int:
    return int(stable_hash(*parts), 16)


def record(
    d: Decision, phase: str, outcome: str, after: timedelta, **payload: Any
) -> EnforcementRecordedEvent:
    """The enforcer's record of decision `d`, `after` its decision."""
    platform, group_id = d.group_key.split(":", 1)
    at = (d.decided_at + after).isoformat()
    return EnforcementRecordedEvent.model_validate(
        {
            "event_id": f"enf:{d.decision_id}:{phase}",
            "schema_version": 1,
            "occurred_at": at,
            "received_at": at,
            "platform": platform,
            "group_id": group_id,
            "user_id": d.target_user_id,
            "actor": {"name": "enforcement", "role": "system"},
            "payload": {
                "decision_id": d.decision_id,
                "action": d.action,
                "outcome": outcome,
                "phase": phase,
                "mode": "dry_run" if outcome == "dry_run" else "live",
                "rule_id": d.rule_id,
                "platform_call": f"POST /{d.action}/{d.target_user_id}",
                "attempts": 1,
                "error": "403 not enough rights" if outcome == "failed" else None,
                **payload,
            },
        }
    )


def revokes(decisions: list[Decision]) -> list[Decision]:
    """An unmute or unban for some of the mutes and bans (an admin lifted them)."""
    lifts = {"mute": "unmute", "ban": "unban"}
    return [
        d.model_copy(
            update={
                "decision_id": f"{d.decision_id}-lift",
                "action": lifts[d.action],
                "revokes": d.decision_id,
                "decided_at": d.decided_at + timedelta(minutes=30),
            }
        )
        for d in decisions
        if d.action in lifts and _n(d.decision_id, "revoke") % 3 == 0
    ]


def enforcement_records(decisions: list[Decision], dry_groups: set[str]) -> list[Event]:
    """One apply record per decision (an escalation's makes no call); scheduler records
    for some."""
    out: list[Event] = []
    for d in decisions:
        if d.action == "escalate":
            out.append(record(d, "apply", "executed", timedelta(seconds=2), platform_call=""))
            continue
        if d.group_key in dry_groups:
            out.append(record(d, "apply", "dry_run", timedelta(seconds=2)))
            continue
        outcome = LIVE_OUTCOMES[_n(d.decision_id, "outcome") % len(LIVE_OUTCOMES)]
        out.append(record(d, "apply", outcome, timedelta(seconds=2)))
        if d.action in ("mute", "ban") and outcome == "executed":
            if _n(d.decision_id, "lift") % 2 == 0:
                out.append(record(d, "lift", "executed", timedelta(hours=1)))
            if _n(d.decision_id, "remind") % 3 == 0:
                out.append(record(d, "remind", "executed", timedelta(hours=2), note="renew"))
    return out


def enforced_groups(events: list[Event]) -> tuple[list[str], set[str]]:
    groups = sorted({e.group_key for e in events})
    return groups, set(groups[::3])


class World:
    def __init__(
        self,
        settings: Settings,
        db: Any,
        events: list[Event],
        decisions: list[Decision],
        records: list[Any] | None = None,
    ):
        self.settings = settings
        self.db = db
        self.events = events
        self.decisions = decisions
        # every record as the sink got it, per topic and partition (a rebuild refolds them)
        self.records: list[Any] = records or []
        self.client: Any = None
        # A group's clock is the time zone of its rule set; UTC until it has one.
        self.tz: dict[str, ZoneInfo] = defaultdict(lambda: ZoneInfo("UTC"))
        for e in events:
            if e.type == "ruleset.updated" and e.payload.rules.get("timezone"):
                self.tz[e.group_key] = ZoneInfo(e.payload.rules["timezone"])

    def day(self, group: str, at: datetime) -> str:
        return at.astimezone(self.tz[group]).date().isoformat()

    def of(self, group: str, type_: str) -> list[Any]:
        return [e for e in self.events if e.group_key == group and e.type == type_]

    def groups(self) -> list[str]:
        return sorted({e.group_key for e in self.events})

    def violations(self, group: str) -> list[Decision]:
        """The group's decisions but revokes (which are no violation) and the decisions of
        a person's act (counted from the act's own event)."""
        return [
            d
            for d in self.decisions
            if d.group_key == group and d.action not in REVOKE_ACTIONS and d.rule_id != "manual"
        ]

    def enforcement(self, group: str) -> list[Any]:
        return self.of(group, "enforcement.recorded")


@pytest.fixture(scope="module")
async def world(servers: Servers) -> AsyncIterator[World]:
    settings = servers.settings(partitions=3)
    events = [event_from_dict(e) for e in simulate(SEED, 3000, START)]
    decisions = derive_decisions(events, settings, settings.partitions)
    decisions += revokes(decisions)
    _, dry_groups = enforced_groups(events)
    enforcement = enforcement_records(decisions, dry_groups)
    # the enforcer published one record twice (its producer retried): folded once
    stream = [*events, *enforcement, enforcement[len(enforcement) // 2]]
    client = make_mongo(settings)
    db = database(client, settings)
    sink = ProjectionSink(client, db, settings, ProjectionNames())
    await sink.ensure_indexes()
    folded: list[Any] = []
    for topic, records in (
        (settings.events_topic, [(e.group_key, encode_event(e)) for e in stream]),
        (settings.decisions_topic, [(d.group_key, encode_decision(d)) for d in decisions]),
    ):
        parts: dict[int, list[bytes]] = defaultdict(list)
        for key, value in records:
            parts[zlib.crc32(key.encode()) % settings.partitions].append(value)
        for partition, values in parts.items():
            await sink.claim(topic, partition)
            offsets = list(enumerate(values))
            folded.append((topic, partition, offsets))
            for i in range(0, len(offsets), BATCH):
                assert await sink.apply(topic, partition, offsets[i : i + BATCH]) == []
    try:
        world = World(settings, db, [*events, *enforcement], decisions, folded)
        world.client = client
        yield world
    finally:
        await client.close()


async def test_the_stream_touches_every_projection(world: World) -> None:
    assert len(world.groups()) >= 6 and len(world.decisions) > 50
    types = Counter(e.type for e in world.events)
    for needed in ("complaint.filed", "complaint.resolved", "sanction.applied", "member.joined"):
        assert types[needed] > 0, needed


async def test_activity_days_weeks_and_months_match_the_messages(world: World) -> None:
    for group in world.groups():
        messages = world.of(group, "message.posted")
        expected: dict[str, dict[str, tuple[int, int]]] = {}
        for granularity in ("day", "week", "month"):
            counts: Counter[str] = Counter()
            users: dict[str, set[str]] = defaultdict(set)
            for m in messages:
                d = date.fromisoformat(world.day(group, m.occurred_at))
                label = {
                    "day": d.isoformat(),
                    "week": "{}-W{:02d}".format(*d.isocalendar()[:2]),
                    "month": d.isoformat()[:7],
                }[granularity]
                counts[label] += 1
                users[label].add(m.user_key)
            expected[granularity] = {k: (counts[k], len(users[k])) for k in counts}
            got = await reads.activity(world.db, group, granularity, None, None, 1000, None)
            seen = {i["period"]: (i["messages"], i["active_users"]) for i in got["items"]}
            # Periods with only joins, leaves or decisions show up with no messages.
            assert {k: v for k, v in seen.items() if v != (0, 0)} == expected[granularity]
            assert [i["start"] for i in got["items"]] == sorted(i["start"] for i in got["items"])
            kinds = Counter(message_kind(m.payload) for m in messages)
            assert sum((Counter(i["kinds"]) for i in got["items"]), Counter()) == kinds, granularity
            assert sum(i["joins"] for i in got["items"]) == len(world.of(group, "member.joined"))
            decided = Counter(d.action for d in world.decisions if d.group_key == group)
            assert sum((Counter(i["decisions"]) for i in got["items"]), Counter()) == decided


async def test_activity_pages_and_ranges_cover_the_same_periods(world: World) -> None:
    group = world.groups()[0]
    for granularity in ("day", "week"):
        full = await reads.activity(world.db, group, granularity, None, None, 1000, None)
        paged: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await reads.activity(world.db, group, granularity, None, None, 4, cursor)
            paged.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                break
        assert paged == full["items"]
        middle = full["items"][len(full["items"]) // 3]
        last = full["items"][2 * len(full["items"]) // 3]
        ranged = await reads.activity(
            world.db, group, granularity, middle["start"], last["end"], 1000, None
        )
        assert ranged["items"] == [
            i for i in full["items"] if i["end"] >= middle["start"] and i["start"] <= last["end"]
        ]


async def test_violations_list_counts_and_repeat_offenders(world: World) -> None:
    assert any(d.action in REVOKE_ACTIONS for d in world.decisions)
    assert any(d.rule_id == "manual" for d in world.decisions)  # moderation decides acts too
    for group in world.groups():
        decisions = world.violations(group)
        got = await reads.violations(world.db, group, None, None, None, None, 1000, 0)
        order = sorted(decisions, key=lambda d: d.decision_id)
        order.sort(key=lambda d: d.decided_at, reverse=True)
        assert [i["decision_id"] for i in got["items"]] == [d.decision_id for d in order]
        assert got["counts"]["total"] == len(decisions)
        assert got["counts"]["by_rule"] == dict(
            sorted(Counter(d.rule_id for d in decisions).items(), key=lambda kv: (-kv[1], kv[0]))
        )
        assert got["counts"]["by_action"] == dict(Counter(d.action for d in decisions))
        sanctions = world.of(group, "sanction.applied")
        assert got["counts"]["manual_sanctions"] == dict(
            Counter(s.payload.action for s in sanctions)
        )
        against = Counter(user_key_of(group, d.target_user_id) for d in decisions) + Counter(
            user_key_of(group, s.payload.target_user_id) for s in sanctions
        )
        repeat = sorted(((u, n) for u, n in against.items() if n >= 2), key=lambda r: (-r[1], r[0]))
        assert [(r["user_key"], r["count"]) for r in got["repeat_offenders"]] == repeat
        if decisions:
            item = got["items"][0]
            assert item["group_key"] == group and item["kind"] == "decision"
            assert {"rule_id", "action", "reason", "cause_event_ids", "day", "month"} <= set(item)


async def test_violations_filters_and_pages(world: World) -> None:
    group = max(world.groups(), key=lambda g: sum(d.group_key == g for d in world.decisions))
    decisions = world.violations(group)
    days = sorted({world.day(group, d.decided_at) for d in decisions})
    lo, hi = days[len(days) // 4], days[3 * len(days) // 4]
    rule = Counter(d.rule_id for d in decisions).most_common(1)[0][0]
    got = await reads.violations(world.db, group, lo, hi, rule, None, 1000, 0)
    want = {
        d.decision_id
        for d in decisions
        if lo <= world.day(group, d.decided_at) <= hi and d.rule_id == rule
    }
    assert {i["decision_id"] for i in got["items"]} == want
    assert got["counts"]["total"] == sum(
        lo <= world.day(group, d.decided_at) <= hi for d in decisions
    )
    full = await reads.violations(world.db, group, None, None, None, None, 1000, 0)
    paged, offset = [], 0
    while offset is not None:
        page = await reads.violations(world.db, group, None, None, None, None, 7, offset)
        paged.extend(page["items"])
        offset = page["next_offset"]
    assert paged == full["items"]


async def test_complaints_cases_match_filings_and_resolutions(world: World) -> None:
    sla = world.settings.complaint_sla_hours
    for group in world.groups():
        filed = {e.payload.complaint_id: e for e in world.of(group, "complaint.filed")}
        resolved = {e.payload.complaint_id: e for e in world.of(group, "complaint.resolved")}
        got = await reads.complaints(world.db, group, None, sla, AS_OF, 1000, 0)
        ids = set(filed) | set(resolved)
        assert {c["complaint_id"] for c in got["items"]} == ids
        assert got["figures"]["total"] == len(ids)
        assert got["figures"]["resolved"] == len(resolved)
        assert got["figures"]["upheld"] == sum(
            r.payload.outcome == "upheld" for r in resolved.values()
        )
        assert got["figures"]["categories"] == dict(
            Counter(f.payload.category for f in filed.values()).most_common()
        )
        for case in got["items"]:
            cid = case["complaint_id"]
            assert case["status"] == ("resolved" if cid in resolved else "open")
            if cid in filed:
                assert case["target"] == user_key_of(group, filed[cid].payload.target_user_id)
            if cid in resolved:
                assert case["outcome"] == resolved[cid].payload.outcome
        times = [c["filed_at"] for c in got["items"] if c.get("filed_at") is not None]
        assert times == sorted(times, reverse=True)
        open_only = await reads.complaints(world.db, group, "open", sla, AS_OF, 1000, 0)
        assert {c["complaint_id"] for c in open_only["items"]} == ids - set(resolved)


async def test_operators_match_manual_work(world: World) -> None:
    for group in world.groups():
        want: Counter[tuple[str, str, str, str]] = Counter()
        for e in world.events:
            if e.group_key == group and e.type in (
                "sanction.applied",
                "sanction.revoked",
                "complaint.resolved",
            ):
                name, role = operator_of(e)
                want[(world.day(group, e.occurred_at)[:7], name, role, e.type)] += 1
        got = await reads.operators(world.db, group, None)
        seen: Counter[tuple[str, str, str, str]] = Counter()
        for item in got["items"]:
            for field, type_ in (
                ("sanctions_applied", "sanction.applied"),
                ("sanctions_revoked", "sanction.revoked"),
                ("resolutions", "complaint.resolved"),
            ):
                if item.get(field):
                    seen[(item["month"], item["operator"], item["role"], type_)] += item[field]
        assert seen == want
        keys = [(i["month"], i["operator"], i["role"]) for i in got["items"]]
        assert keys == sorted(sorted(keys, key=lambda k: k[1:]), key=lambda k: k[0], reverse=True)


async def test_spotcheck_sample_is_the_smallest_hashes_of_each_day(world: World) -> None:
    per_day = world.settings.spot_checks_per_day
    for group in world.groups():
        by_day: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for m in world.of(group, "message.posted"):
            by_day[world.day(group, m.occurred_at)].append(
                (stable_hash(group, m.event_id), m.event_id)
            )
        want = {day: {e for _, e in sorted(c)[:per_day]} for day, c in by_day.items()}
        got = await reads.spotchecks(world.db, group, None, None, "all")
        seen: dict[str, set[str]] = defaultdict(set)
        for item in got["items"]:
            seen[item["day"]].add(item["event_id"])
        assert seen == want
        assert got["outcomes"]["sampled"] == sum(len(v) for v in want.values())
        assert [i["day"] for i in got["items"]] == sorted(
            (i["day"] for i in got["items"]), reverse=True
        )
        day, events = sorted(want.items())[0]
        one = next(iter(events))
        assert await reads.sampled_day(world.db, group, one) == day
        ranged = await reads.spotchecks(world.db, group, day, day, "all")
        assert {i["event_id"] for i in ranged["items"]} == events
    assert await reads.sampled_day(world.db, world.groups()[0], "no-such-event") is None


async def test_monthly_report_matches_the_stream(world: World) -> None:
    group = max(world.groups(), key=lambda g: len(world.of(g, "message.posted")))
    month = Counter(
        world.day(group, m.occurred_at)[:7] for m in world.of(group, "message.posted")
    ).most_common(1)[0][0]
    report = await monthly_report(world.db, group, month, world.settings, now=AS_OF)
    in_month = [
        m for m in world.of(group, "message.posted") if world.day(group, m.occurred_at)[:7] == month
    ]
    assert report["activity"]["messages"] == len(in_month)
    assert report["activity"]["active_users"] == len({m.user_key for m in in_month})
    daily = Counter(world.day(group, m.occurred_at) for m in in_month)
    assert {d["start"]: d["messages"] for d in report["activity"]["daily"] if d["messages"]} == (
        dict(daily)
    )
    decisions = [d for d in world.violations(group) if world.day(group, d.decided_at)[:7] == month]
    assert report["violations"]["total"] == len(decisions)
    assert report["violations"]["by_action"] == dict(
        sorted(Counter(d.action for d in decisions).items(), key=lambda kv: (-kv[1], kv[0]))
    )
    filed = [
        e
        for e in world.of(group, "complaint.filed")
        if world.day(group, e.occurred_at)[:7] == month
    ]
    assert report["complaints"]["total"] == len(filed)
    sanctions = [
        s
        for s in world.of(group, "sanction.applied")
        if world.day(group, s.occurred_at)[:7] == month
    ]
    against = Counter(user_key_of(group, d.target_user_id) for d in decisions) + Counter(
        user_key_of(group, s.payload.target_user_id) for s in sanctions
    )
    assert report["repeat_offenders"] == [
        {"user_key": u, "count": n}
        for u, n in sorted(against.items(), key=lambda r: (-r[1], r[0]))
        if n >= 2
    ]
    groups = {g["group_key"]: g for g in await reads.list_groups(world.db, None)}
    assert groups[group]["messages"] == len(world.of(group, "message.posted"))


# ---------------------------------------------------------------- enforcement and the queue


def enforcement_counts(
    world: World, group: str, day_from: str | None = None, day_to: str | None = None
) -> dict[tuple[str, str], Counter[str]]:
    """Per rule and action: decisions (but escalations) and the records' outcomes."""

    def within(at: datetime) -> bool:
        day = world.day(group, at)
        return (day_from is None or day >= day_from) and (day_to is None or day <= day_to)

    want: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for d in world.decisions:
        if d.group_key == group and d.action != "escalate" and within(d.decided_at):
            want[(d.rule_id, d.action)]["decided"] += 1
    for e in world.enforcement(group):
        p = e.payload
        if within(e.occurred_at) and p.action != "escalate":
            name = p.outcome if p.phase == "apply" else f"{p.phase}.{p.outcome}"
            want[(str(p.rule_id), p.action)][name] += 1
    return dict(want)


def counted(page: dict[str, Any]) -> dict[tuple[str, str], Counter[str]]:
    seen: dict[tuple[str, str], Counter[str]] = {}
    for row in page["items"]:
        counts = Counter({k: row[k] for k in ("decided", *OUTCOMES) if row[k]})
        for phase, outcomes in row["scheduled"].items():
            counts.update({f"{phase}.{o}": n for o, n in outcomes.items()})
        seen[(row["rule_id"], row["action"])] = counts
    return seen


def latest_dry_runs(world: World, group: str, limit: int) -> list[str]:
    dry = sorted(
        (e for e in world.enforcement(group) if e.payload.outcome == "dry_run"),
        key=lambda e: e.event_id,
    )
    dry.sort(key=lambda e: e.occurred_at, reverse=True)
    return [e.payload.decision_id for e in dry[:limit]]


async def test_enforcement_decided_against_the_records_of_every_group(world: World) -> None:
    _, dry_groups = enforced_groups(world.events)
    modes = set()
    for group in world.groups():
        got = await reads.enforcement(world.db, group, None, None, 50)
        assert counted(got) == enforcement_counts(world, group), group
        assert {r["platform"] for r in got["items"]} <= {group.split(":", 1)[0]}
        decided = [d for d in world.decisions if d.group_key == group and d.action != "escalate"]
        assert got["totals"]["decided"] == len(decided)
        assert got["totals"]["recorded"] == sum(
            e.payload.phase == "apply" and e.payload.action != "escalate"
            for e in world.enforcement(group)
        )
        assert got["totals"]["unrecorded"] == 0  # the enforcer recorded every decision
        if decided:
            assert got["mode"] == ("dry_run" if group in dry_groups else "live")
        modes.add(got["mode"])
        assert [w["decision_id"] for w in got["would_have"]] == latest_dry_runs(world, group, 50)
    assert {"dry_run", "live"} <= modes


async def test_enforcement_of_a_date_range(world: World) -> None:
    group = max(world.groups(), key=lambda g: len(world.enforcement(g)))
    days = sorted({world.day(group, e.occurred_at) for e in world.enforcement(group)})
    lo, hi = days[len(days) // 4], days[3 * len(days) // 4]
    got = await reads.enforcement(world.db, group, lo, hi, 50)
    assert counted(got) == enforcement_counts(world, group, lo, hi)
    assert all(lo <= w["day"] <= hi for w in got["would_have"])


def expected_items(world: World, groups: set[str]) -> list[str]:
    """The record event ids that open queue items, oldest first (then by item id)."""
    opened = [
        e
        for e in world.events
        if e.type == "enforcement.recorded"
        and e.group_key in groups
        and (
            (e.payload.phase == "apply" and e.payload.outcome in NEEDS_PERSON)
            or e.payload.phase == "remind"
        )
    ]
    opened.sort(key=lambda e: (e.occurred_at, f"{e.group_key}|enforcement|{e.event_id}"))
    return [e.event_id for e in opened]


def reporting_app(world: World, tokens: dict[str, tuple[str, str, list[str]]]) -> FastAPI:
    app = FastAPI()
    app.state.tokens = TokenStore(
        [TokenSpec(name=n, token=t, role=r, groups=g) for t, (n, r, g) in tokens.items()]  # type: ignore[arg-type]
    )
    app.state.db = world.db
    app.state.settings = world.settings
    app.include_router(api.build_router())
    return app


async def test_the_queue_shows_a_token_its_own_groups_oldest_first(world: World) -> None:
    with_items = [g for g in world.groups() if expected_items(world, {g})]
    assert len(with_items) >= 3
    mine, other = set(with_items[:2]), with_items[2]
    app = reporting_app(
        world,
        {
            "two-groups-secret": ("ops", "operator", sorted(mine)),
            "auditor-secret-1": ("audit", "auditor", ["*"]),
            "platform-secret1": ("bot", "platform", ["*"]),
        },
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:

        async def get(path: str, token: str = "two-groups-secret") -> httpx.Response:
            return await client.get(path, headers={"Authorization": f"Bearer {token}"})

        res = await get("/v1/queue?kind=enforcement&status=open&limit=1000")
        assert res.status_code == 200, res.text
        items = res.json()["items"]
        assert [i["id"] for i in items] == expected_items(world, mine)
        assert {i["group_key"] for i in items} == mine
        ages = [i["age_s"] for i in items]
        assert ages == sorted(ages, reverse=True) and ages[-1] > 0
        first = items[0]
        assert first["kind"] == "enforcement" and first["status"] == "open"
        refs = {
            e.event_id: e.payload.decision_id
            for e in world.of(first["group_key"], "enforcement.recorded")
        }
        assert first["ref"] == refs[first["id"]]  # the decision it is about
        assert {"action", "outcome", "error", "platform_call", "target_user_id"} <= set(
            first["context"]
        )

        one = sorted(mine)[0]
        res = await get(f"/v1/queue?group={one}&kind=enforcement&status=open&limit=1000")
        assert [i["id"] for i in res.json()["items"]] == expected_items(world, {one})
        res = await get(f"/v1/queue?group={other}")
        assert res.status_code == 403 and "not scoped" in res.json()["detail"]

        everything = await get("/v1/queue?limit=1000", "auditor-secret-1")
        assert [i["id"] for i in everything.json()["items"]] == expected_items(
            world, set(world.groups())
        )
        paged, offset = [], 0
        while offset is not None:
            page = (await get(f"/v1/queue?limit=7&offset={offset}", "auditor-secret-1")).json()
            paged += [i["id"] for i in page["items"]]
            offset = page["next_offset"]
        assert paged == [i["id"] for i in everything.json()["items"]]
        closed = await get("/v1/queue?status=closed", "auditor-secret-1")
        assert closed.status_code == 200 and closed.json()["items"] == []
        assert (await get("/v1/queue", "platform-secret1")).status_code == 403

        res = await get(f"/v1/groups/{one}/enforcement?limit=5")
        assert res.status_code == 200
        body = res.json()
        assert body["totals"]["decided"] == sum(
            d.group_key == one and d.action != "escalate" for d in world.decisions
        )
        res = await get(f"/v1/groups/{other}/enforcement")
        assert res.status_code == 403


async def test_a_rebuild_folds_the_same_enforcement_and_queue(world: World) -> None:
    """Another generation folded in other batches, decisions before events, with a batch
    folded twice (as after a crash before the consumer moved on): the same documents."""
    projections = ["enforcement", "queue"]
    names = ProjectionNames(dict.fromkeys(projections, 2))
    sink = ProjectionSink(
        world.client,
        world.db,
        world.settings,
        names,
        projections=projections,
        event_ids=PassFirstOccurrences(),
    )
    await sink.ensure_indexes()
    await sink.load_directory()
    for topic, partition, offsets in sorted(
        world.records, key=lambda r: r[0] != world.settings.decisions_topic
    ):
        await sink.claim(topic, partition)
        for i in range(0, len(offsets), 97):
            assert await sink.apply(topic, partition, offsets[i : i + 97]) == []
            if i == 97:
                assert await sink.apply(topic, partition, offsets[i : i + 97]) == []
    live = ProjectionNames()
    for projection in projections:
        before = [d async for d in world.db[live.physical(projection)].find({}).sort("_id", 1)]
        after = [d async for d in world.db[names.physical(projection)].find({}).sort("_id", 1)]
        assert before and after == before, projection


async def test_the_archive_chains_enforcement_records_like_every_event(servers: Servers) -> None:
    """The live sink appends the enforcer's records to the group's events chain, whole
    (calls and their parameters too), once however often they were published."""
    settings = servers.settings(partitions=1)
    client = make_mongo(settings)
    db = database(client, settings)
    try:
        archive = ArchiveWriter()
        await ArchiveWriter.ensure_indexes(db)
        sink = ProjectionSink(client, db, settings, ProjectionNames(), archive=archive)
        await sink.ensure_indexes()
        await archive.load_heads(db)
        message = event_from_dict(
            {
                "event_id": "m-1",
                "type": "message.posted",
                "schema_version": 2,
                "occurred_at": "2026-01-05T01:00:00Z",
                "platform": "telegram",
                "group_id": "-1001",
                "user_id": "42",
                "payload": {"message_id": "1", "text": "buy now"},
            }
        )
        decided = Decision(
            decision_id="d-1",
            group_key="telegram:-1001",
            target_user_id="42",
            action="mute",
            duration_s=600,
            rule_id="ads",
            ruleset_version=1,
            reason="ads",
            cause_event_ids=["m-1"],
            decided_at=message.occurred_at,
        )
        calls = {
            "calls": [
                {
                    "step": "mute",
                    "call": "POST /restrictChatMember",
                    "params": {"chat_id": "-1001", "user_id": "42", "until_date": 1767575400},
                    "result": "done",
                    "status": 200,
                    "attempts": 1,
                }
            ]
        }
        applied = record(decided, "apply", "executed", timedelta(seconds=2), **calls)
        reminded = record(decided, "remind", "executed", timedelta(hours=1))
        topic = settings.events_topic
        await sink.claim(topic, 0)
        batch = [(0, message), (1, applied), (2, reminded), (3, applied)]
        assert await sink.apply(topic, 0, [(o, encode_event(e)) for o, e in batch]) == []
        verdict = await verify_report(db)
        assert verdict.ok and verdict.records == 3
        chained = [
            r
            async for chunk in db[ARCHIVE].find({"group_key": "telegram:-1001"})
            for r in chunk["records"]
        ]
        assert [r["body"]["type"] for r in sorted(chained, key=lambda r: r["seq"])] == [
            "message.posted",
            "enforcement.recorded",
            "enforcement.recorded",
        ]
        [body] = [r["body"] for r in chained if r["id"] == applied.event_id]
        assert body == event_to_dict(applied)
        assert body["payload"]["calls"][0]["params"]["until_date"] == 1767575400
        chunk = await db[ARCHIVE].find_one({"types": "enforcement.recorded"})
        assert chunk is not None and "telegram:42" in chunk["users"]
    finally:
        await client.close()
