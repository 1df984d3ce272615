"""The enforcer under faults: SIGKILLed over and over while thousands of decisions flow, a
429 storm against two replicas, permanent refusals, and timed bans whose lift falls after
a restart. What a user would notice is checked on the platforms' side (the fakes' state
and call logs) and on the record (the events topic)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.enforcement.bots import Bots
from services.enforcement.executor import Enforcer
from services.enforcement.limiter import StoreLimiter
from services.enforcement.scheduler import Scheduler
from services.enforcement.store import EnforcementStore
from shared.kafka import make_broker
from shared.mongo import database, make_mongo
from shared.topics import ensure_topics
from tests.support.enforcement import (
    DISCORD_TOKEN,
    Enforcers,
    Platforms,
    decision,
    keyed,
    records,
    wait_for_records,
)
from tests.support.fakes.server import FakeClock
from tests.support.fault_kit import produce
from tests.support.stack import Servers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SEED = 20261202
FAST = json.dumps(
    {
        f"{p}.{k}": v
        for p in ("onebot", "telegram", "discord", "slack")
        for k, v in (("chat", 2000.0), ("bot", 20000.0))
    }
)


def one_record_each(got: list[dict[str, Any]], want: set[str]) -> dict[str, dict[str, Any]]:
    """Every decision has exactly one record: one event id, and every copy on the topic
    (a republish after a crash) is the same record."""
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in got:
        by_id[r["event_id"]].append(r)
    decided = {copies[0]["payload"]["decision_id"]: copies for copies in by_id.values()}
    assert set(decided) == want, f"missing {sorted(want - set(decided))[:5]}"
    for copies in decided.values():
        assert all(c == copies[0] for c in copies), "a republished record differs"
        assert copies[0]["event_id"] == f"enforcement:{copies[0]['payload']['decision_id']}"
    return {d: copies[0] for d, copies in decided.items()}


async def test_sigkilled_enforcer_carries_out_each_decision_once(
    servers: Servers, tmp_path: Path
) -> None:
    rng = Random(SEED)
    settings = servers.settings()
    with Platforms.running() as platforms:
        groups = platforms.community(25, 52)
        decisions = []
        n = 0
        for group in groups:
            for user in group.users:
                action = rng.choice(["remove_message", "mute", "kick", "ban", "warn"])
                message = platforms.post(group, user)
                decisions.append(
                    decision(
                        group,
                        user,
                        action,
                        n,
                        duration_s=600 if action == "mute" else None,
                        notify=rng.random() < 0.4,
                        message_id=message,
                    )
                )
                n += 1
        rng.shuffle(decisions)
        assert len(decisions) >= 5000
        env = platforms.env() | {"MODSTREAM_ENFORCEMENT_RATES": FAST}
        run = Enforcers.start(tmp_path, settings, env)
        kills = 0
        chunks = 12
        size = -(-len(decisions) // chunks)
        try:
            for start in range(0, len(decisions), size):
                await produce(
                    settings, keyed(decisions[start : start + size]), topic=settings.decisions_topic
                )
                # Let it work, then kill it mid-flight: after a rejoin it is busy again.
                await asyncio.sleep(rng.uniform(8.0, 16.0))
                run.kill("enforcement-1")
                kills += 1
                run.restart("enforcement-1")
            got = await wait_for_records(settings, {d.decision_id for d in decisions}, 400)
        finally:
            run.stop()
        assert kills >= 10
        recorded = one_record_each(got, {d.decision_id for d in decisions})
        outcomes = Counter(r["payload"]["outcome"] for r in recorded.values())
        assert set(outcomes) <= {"executed", "unsupported", "unknown", "partial"}, outcomes
        assert outcomes["executed"] > len(decisions) // 2
        for r in recorded.values():
            if r["payload"]["outcome"] == "unknown":
                errors = [c.get("error") or "" for c in r["payload"]["calls"]]
                assert any("not sent again" in e for e in errors), r
        # No notice went out twice, whatever the crash point.
        for d in decisions:
            assert platforms.notices_with(d.reason) <= 1, d.decision_id
        # Sanction calls repeated after a crash asked for the same absolute expiry.
        exact: dict[tuple[str, str], set[Any]] = defaultdict(set)
        for call in platforms.telegram.requests("restrictChatMember"):
            body = platforms.telegram.params(call)
            exact[(str(body["chat_id"]), str(body["user_id"]))].add(body["until_date"])
        for call in platforms.discord.calls_to("PATCH /guilds/"):
            exact[(call.path, "")].add(call.body["communication_disabled_until"])
        assert exact and all(len(v) == 1 for v in exact.values())
        # OneBot takes relative seconds: the same end, give or take the call's latency.
        ends: dict[tuple[str, str], list[float]] = defaultdict(list)
        for call in platforms.onebot.calls_to("POST /set_group_ban"):
            key = (str(call.body["group_id"]), str(call.body["user_id"]))
            ends[key].append(call.at + call.body["duration"])
        assert ends and all(max(v) - min(v) <= 3 for v in ends.values())


async def test_a_429_storm_is_waited_out_by_two_replicas_within_the_advertised_rate(
    servers: Servers, tmp_path: Path
) -> None:
    settings = servers.settings()
    # Every fake advertises 5 calls a second per chat; the enforcer is set a little under.
    rates = json.dumps(
        {f"{p}.chat": 4.0 for p in ("onebot", "telegram", "discord", "slack")}
        | {f"{p}.bot": 1000.0 for p in ("onebot", "telegram", "discord", "slack")}
    )
    with Platforms.running(chat_rate=5, chat_per=1.0) as platforms:
        groups = platforms.community(3, 26)
        decisions = []
        for i, group in enumerate(groups):
            for j, user in enumerate(group.users[:25]):
                action = ("remove_message", "mute", "kick")[j % 3]
                message = platforms.post(group, user)
                decisions.append(
                    decision(
                        group,
                        user,
                        action,
                        i * 100 + j,
                        duration_s=600 if action == "mute" else None,
                        message_id=message,
                    )
                )
        # The guild owner cannot be banned: a permanent refusal, recorded once.
        discord = next(g for g in groups if g.platform == "discord")
        refused = decision(discord, "1", "ban", 9999)
        decisions.append(refused)
        for name, fake in platforms.fakes().items():
            if name == "onebot":
                # OneBot documents no 429: an overloaded implementation answers 5xx, which
                # is retried with backoff a bounded number of times.
                fake.inject("5xx", times=9, status=503)
            else:
                fake.inject("429", times=40, retry_after=0.4)
        await produce(settings, keyed(decisions), topic=settings.decisions_topic)
        run = Enforcers.start(
            tmp_path, settings, platforms.env() | {"MODSTREAM_ENFORCEMENT_RATES": rates}, 2
        )
        try:
            got = await wait_for_records(settings, {d.decision_id for d in decisions}, 300)
        finally:
            run.stop()
        recorded = one_record_each(got, {d.decision_id for d in decisions})
        failed = {d: r for d, r in recorded.items() if r["payload"]["outcome"] == "failed"}
        assert set(failed) == {refused.decision_id}
        assert "50013" in failed[refused.decision_id]["payload"]["error"]
        assert len(platforms.discord.calls_to(f"PUT /guilds/{discord.group_id}/bans/1")) == 1
        others = {r["payload"]["outcome"] for d, r in recorded.items() if d != refused.decision_id}
        assert others <= {"executed", "unsupported"}
        for name, fake in platforms.fakes().items():
            assert fake.breaches == [], f"{name}: a chat went over the advertised rate"
            storm = [c for c in fake.calls if c.fault == "429"]
            assert storm or name == "onebot", f"{name} saw no storm"
            # After a 429 in a chat, that chat waited the platform's retry-after.
            for hit in storm:
                later = [c for c in fake.calls if c.chat == hit.chat and c.at > hit.at]
                if later:
                    assert later[0].at >= hit.at + 0.4 - 0.05, name


async def test_a_timed_discord_ban_is_lifted_after_its_time_across_a_restart(
    servers: Servers, tmp_path: Path
) -> None:
    settings = servers.settings()
    with Platforms.running() as platforms:
        discord = next(g for g in platforms.community(1, 3) if g.platform == "discord")
        ban = decision(discord, discord.users[0], "ban", 1, duration_s=12)
        await produce(settings, keyed([ban]), topic=settings.decisions_topic)
        run = Enforcers.start(tmp_path, settings, platforms.env())
        try:
            await wait_for_records(settings, {ban.decision_id}, 90)
            assert platforms.discord.is_banned(discord.group_id, discord.users[0])
            run.kill("enforcement-1")  # the lift is due while nothing runs
            await asyncio.sleep(max(0.0, ban.decided_at.timestamp() + 13 - time.time()))
            assert platforms.discord.is_banned(discord.group_id, discord.users[0])
            run.restart("enforcement-1")
            deadline = time.monotonic() + 60
            while platforms.discord.is_banned(discord.group_id, discord.users[0]):
                assert time.monotonic() < deadline, "the ban was never lifted"
                await asyncio.sleep(0.5)
            got = await records(settings)
        finally:
            run.stop()
        lifts = platforms.discord.calls_to(f"DELETE /guilds/{discord.group_id}/bans/")
        assert len(lifts) == 1 and lifts[0].at >= ban.decided_at.timestamp() + 12
        lift = [r for r in got if r["payload"]["phase"] == "lift"]
        assert lift and lift[0]["payload"]["outcome"] == "executed"
        assert lift[0]["event_id"] == f"enforcement:{ban.decision_id}:lift:0"


async def test_a_one_day_ban_is_lifted_when_the_day_is_over(servers: Servers) -> None:
    """The scheduler on a moved clock: nothing before the day ends, the lift after it, by
    a new scheduler instance (a restart) reading the schedule from the store."""
    settings = servers.settings()
    clock = FakeClock()
    await ensure_topics(settings)
    with Platforms.running(clock=clock) as platforms:
        discord = next(g for g in platforms.community(1, 2) if g.platform == "discord")
        env = platforms.env()
        local = settings.model_copy(
            update={
                "discord_api_url": env["MODSTREAM_DISCORD_API_URL"],
                "discord_bot_token": SecretStr(DISCORD_TOKEN),
            }
        )
        mongo = make_mongo(local)
        broker = make_broker(local, client_id="test")
        await broker.start()
        http = httpx.AsyncClient(timeout=5)
        try:
            db = database(mongo, local)
            store = EnforcementStore(db)
            bots = Bots(local, http)
            enforcer = Enforcer(local, store, StoreLimiter(db, clock.now), bots, clock.now)
            ban = decision(
                discord,
                discord.users[0],
                "ban",
                7,
                duration_s=86_400,
                decided_at=datetime.fromtimestamp(clock.now(), UTC),
            )
            record = await enforcer.carry_out(ban)
            assert record is not None and record["payload"]["outcome"] == "executed"
            assert "lift due" in record["payload"]["note"]
            first = Scheduler(local, enforcer, store, broker, bots, clock.now)
            assert not await first.run_due_once(), "nothing is due before the day is over"
            clock.advance(86_400 + 1)
            restarted = Scheduler(local, enforcer, store, broker, bots, clock.now)
            assert await restarted.run_due_once()
            assert not await restarted.run_due_once(), "one lift, once"
            assert not platforms.discord.is_banned(discord.group_id, discord.users[0])
            assert len(platforms.discord.calls_to("DELETE /guilds/")) == 1
        finally:
            await http.aclose()
            await broker.stop()
            await mongo.close()
