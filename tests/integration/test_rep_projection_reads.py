"""The coarse projection documents read back as the figures the raw stream implies.

A simulated community is folded through the real sink into a real store, in small
batches (so documents are updated by many batches), and every API query and the monthly
report are compared with figures computed here, independently, from the events and
decisions themselves: what readers see must not depend on how documents are laid out.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.reporting import reads
from services.reporting.folds.common import message_kind, stable_hash, user_key_of
from services.reporting.folds.operators import operator_of
from services.reporting.generations import ProjectionNames
from services.reporting.report_reads import monthly_report
from services.reporting.sink import ProjectionSink
from shared.codec import encode_decision, encode_event, event_from_dict
from shared.events import Decision, Event
from shared.mongo import database, make_mongo
from shared.settings import Settings
from tests.support.stack import Servers
from tools.simulator import simulate
from tools.writes_probe import derive_decisions

pytestmark = pytest.mark.integration

SEED = 5
START = datetime(2026, 1, 26, tzinfo=UTC)  # weeks and days run into February
BATCH = 250
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


class World:
    def __init__(self, settings: Settings, db: Any, events: list[Event], decisions: list[Decision]):
        self.settings = settings
        self.db = db
        self.events = events
        self.decisions = decisions
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


@pytest.fixture(scope="module")
async def world(servers: Servers) -> AsyncIterator[World]:
    settings = servers.settings(partitions=3)
    events = [event_from_dict(e) for e in simulate(SEED, 3000, START)]
    decisions = derive_decisions(events, settings, settings.partitions)
    client = make_mongo(settings)
    db = database(client, settings)
    sink = ProjectionSink(client, db, settings, ProjectionNames())
    await sink.ensure_indexes()
    for topic, records in (
        (settings.events_topic, [(e.group_key, encode_event(e)) for e in events]),
        (settings.decisions_topic, [(d.group_key, encode_decision(d)) for d in decisions]),
    ):
        parts: dict[int, list[bytes]] = defaultdict(list)
        for key, value in records:
            parts[zlib.crc32(key.encode()) % settings.partitions].append(value)
        for partition, values in parts.items():
            await sink.claim(topic, partition)
            offsets = list(enumerate(values))
            for i in range(0, len(offsets), BATCH):
                assert await sink.apply(topic, partition, offsets[i : i + BATCH]) == []
    try:
        yield World(settings, db, events, decisions)
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
    for group in world.groups():
        decisions = [d for d in world.decisions if d.group_key == group]
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
    decisions = [d for d in world.decisions if d.group_key == group]
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
    decisions = [
        d
        for d in world.decisions
        if d.group_key == group and world.day(group, d.decided_at)[:7] == month
    ]
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
