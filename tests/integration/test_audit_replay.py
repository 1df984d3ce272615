"""Replay against a real broker: the recorded rules reproduce every live decision id for id;
a stricter rules file yields exactly the extra decisions it should, and nothing else."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.moderation.app import build_engine
from services.moderation.engine import PartitionState, decision_id
from services.moderation.replay import replay
from services.moderation.replay_render import render_html, render_json, write_result
from shared.codec import decode_event, encode_decision
from shared.events import Decision
from shared.settings import Settings
from shared.topics import ensure_topics
from tests.support.events import raw_event

pytestmark = pytest.mark.integration

G1 = "telegram:-100111"
G2 = "discord:222"
FROM = datetime(2026, 3, 1, tzinfo=UTC)
TO = datetime(2026, 4, 1, tzinfo=UTC)


def event(eid: str, group: str, etype: str, user: str, at: str, **payload: Any) -> dict[str, Any]:
    return raw_event(eid, etype, group, user, at, payload)


def msg(eid: str, group: str, user: str, at: str, text: str) -> dict[str, Any]:
    return event(eid, group, "message.posted", user, at, message_id=f"m-{eid}", text=text)


def history() -> list[dict[str, Any]]:
    rules_v1 = {"language": "en", "timezone": "UTC"}
    return [
        event(
            "g1-rules-1",
            G1,
            "ruleset.updated",
            "admin",
            "2026-02-01T00:00:00Z",
            version=1,
            rules=rules_v1,
        ),
        # February: before the period, but the ladder remembers (30 days)
        msg("g1-f1", G1, "alice", "2026-02-20T10:00:00Z", "you absolute retard"),
        msg("g1-f2", G1, "bob", "2026-02-25T10:00:00Z", "I bent a spoon today"),
        msg("g1-f3", G1, "alice", "2026-02-26T10:00:00Z", "what a retard move"),
        # March: the period
        msg("g1-m1", G1, "alice", "2026-03-02T09:00:00Z", "retard"),  # third: mute 1h
        msg("g1-m2", G1, "carol", "2026-03-03T09:00:00Z", "good morning everyone"),
        msg("g1-m3", G1, "bob", "2026-03-04T09:00:00Z", "spoon spoon, who has a spoon"),
        msg("g1-m4", G1, "dave", "2026-03-05T09:00:00Z", "buy now: 代开发票 cheap"),
        msg("g1-m5", G1, "bob", "2026-03-06T09:00:00Z", "one more SPOON"),
        event(
            "g2-c1",
            G2,
            "complaint.filed",
            "r1",
            "2026-03-07T09:00:00Z",
            complaint_id="c1",
            target_user_id="eve",
            category="abuse",
            reason="rude",
        ),
        event(
            "g2-c2",
            G2,
            "complaint.filed",
            "r2",
            "2026-03-07T09:10:00Z",
            complaint_id="c2",
            target_user_id="eve",
            category="abuse",
            reason="rude again",
        ),
        event(
            "g2-c3",
            G2,
            "complaint.filed",
            "r3",
            "2026-03-07T09:20:00Z",
            complaint_id="c3",
            target_user_id="eve",
            category="abuse",
            reason="stop it",
        ),
        msg("g2-m1", G2, "frank", "2026-03-08T09:00:00Z", "free nitro at my site"),
        # April: after the period
        msg("g1-a1", G1, "dave", "2026-04-02T09:00:00Z", "刷单 兼职"),
    ]


async def publish_history(settings: Settings) -> list[Decision]:
    """What ingest and the live moderation service would have done: the events on the
    events topic, and the engine's decisions (one state per partition, in offset order)
    on the decisions topic. Returns every decision, in and out of the period."""
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_idempotence=settings.kafka_idempotence,
        acks="all",
    )
    await producer.start()
    try:
        placed: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        for raw in history():
            value = json.dumps(raw).encode()
            key = f"{raw['platform']}:{raw['group_id']}".encode()
            meta = await producer.send_and_wait(settings.events_topic, value, key=key)
            placed[meta.partition].append((meta.offset, value))
        engine = build_engine(settings)
        decisions: list[Decision] = []
        for partition in sorted(placed):
            state = PartitionState()
            for _, value in sorted(placed[partition]):
                decisions.extend(engine.apply(state, decode_event(value)))
        for d in decisions:
            await producer.send_and_wait(
                settings.decisions_topic, encode_decision(d), key=d.group_key.encode()
            )
        return decisions
    finally:
        await producer.stop()


async def topic_ends(settings: Settings) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        tps = [
            TopicPartition(t, p)
            for t in (settings.events_topic, settings.decisions_topic)
            for p in range(settings.partitions)
        ]
        return {(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


def in_period(decisions: list[Decision], groups: set[str] | None = None) -> list[Decision]:
    return [
        d
        for d in decisions
        if FROM <= d.decided_at < TO and (groups is None or d.group_key in groups)
    ]


@pytest.fixture(scope="module")
async def recorded(servers: Any) -> tuple[Settings, list[Decision]]:
    settings = servers.settings()
    return settings, await publish_history(settings)


async def test_the_recorded_rules_reproduce_every_decision_with_the_same_id(
    recorded: tuple[Settings, list[Decision]],
) -> None:
    settings, live = recorded
    expected = in_period(live)
    # the scripted history really exercises the ladder, the spam list and complaints
    assert {(d.target_user_id, d.action) for d in expected} >= {
        ("alice", "mute"),
        ("dave", "warn"),
        ("eve", "warn"),
        ("frank", "warn"),
    }
    before = await topic_ends(settings)

    result = await replay(settings, FROM, TO)

    assert result.events_source == "topic" and result.decisions_source == "topic"
    assert result.events_read == len(history())
    assert result.reproduction.recorded == len(expected)
    assert result.reproduction.identical == len(expected)
    assert result.reproduced_pct == 100.0
    assert result.reproduction.changes == []
    assert result.what_if is None
    # a replay produces nothing and moves nothing
    assert await topic_ends(settings) == before


async def test_a_group_filter_reports_that_group_only(
    recorded: tuple[Settings, list[Decision]],
) -> None:
    settings, live = recorded
    result = await replay(settings, FROM, TO, groups=[G2])
    expected = in_period(live, {G2})
    assert expected
    assert result.reproduction.recorded == len(expected)
    assert result.reproduced_pct == 100.0


async def test_stricter_keywords_add_exactly_the_expected_decisions(
    recorded: tuple[Settings, list[Decision]], tmp_path: Path
) -> None:
    settings, _ = recorded
    rules = tmp_path / "stricter.yaml"
    rules.write_text(
        "groups:\n"
        f'  "{G1}":\n'
        "    language: en\n"
        "    timezone: UTC\n"
        "    detectors:\n"
        "      cutlery:\n"
        "        kind: keywords\n"
        "        category: abuse\n"
        "        keywords: [spoon]\n",
        encoding="utf-8",
    )

    result = await replay(settings, FROM, TO, rules_file=rules)

    assert result.reproduced_pct == 100.0
    what_if = result.what_if
    assert what_if is not None
    # bob's February spoon counts on his ladder (warn), so March gives warn, then mute 1h
    expected = {
        (decision_id("g1-m3", "cutlery", "remove_message"), "remove_message", None),
        (decision_id("g1-m3", "cutlery", "warn"), "warn", None),
        (decision_id("g1-m5", "cutlery", "remove_message"), "remove_message", None),
        (decision_id("g1-m5", "cutlery", "mute"), "mute", 3600),
    }
    assert {
        (c.after.decision_id, c.after.action, c.after.duration_s)
        for c in what_if.added
        if c.after is not None
    } == expected
    assert what_if.removed == [] and what_if.changed == []
    assert what_if.by_user() == {"telegram:bob": {"added": 4, "removed": 0, "changed": 0}}
    # each difference comes with the message that caused it
    assert {result.causes[c.cause_event_ids[0]].text for c in what_if.added} == {
        "spoon spoon, who has a spoon",
        "one more SPOON",
    }

    out = tmp_path / "whatif.json"
    write_result(result, out)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["what_if"]["added"] == 4
    assert data["reproduction"]["reproduced_pct"] == 100.0
    html = render_html(result)
    assert "one more SPOON" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert json.loads(render_json(result))["rules_file"] == str(rules)
