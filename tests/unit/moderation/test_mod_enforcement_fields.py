"""Decisions carry what enforcement needs, and manual acts become decisions.

Enforcement reads only the decisions topic: each decision names the message (and on
Discord its channel) and the group's enforcement mode, notify and bot as the rules stood
when it was decided; a person's sanction or revoke is a decision like any other.
"""

from __future__ import annotations

import json

from services.moderation.engine import SWEEP_EVERY_S, Engine, PartitionState, decision_id
from shared.events import Decision, Event
from shared.rules import default_ruleset
from tests.support.modhelp import (
    GROUP_KEY,
    Run,
    complaint,
    msg,
    only,
    revoked,
    rules_update,
    sanction,
)

RULES = only(
    {
        "abuse": {"kind": "keywords", "keywords": ["badword"]},
        "crime": {"kind": "keywords", "keywords": ["sell guns"], "serious": True},
    }
)
LIVE = {"enforcement": {"mode": "live", "notify": True, "bot": "bot-2"}}


def stamp(d: Decision) -> tuple[str | None, bool | None, str | None]:
    return d.enforcement, d.notify, d.bot


def test_decisions_are_stamped_with_the_rules_in_force_when_decided() -> None:
    run = Run(RULES)
    first = run.feed(msg("badword", user="x", at=0))
    run.feed(rules_update(2, LIVE, at=10))
    second = run.feed(msg("badword", user="y", at=20))
    assert [d.action for d in first] == ["remove_message", "warn"]
    assert {stamp(d) for d in first} == {("dry_run", False, None)}
    assert {stamp(d) for d in second} == {("live", True, "bot-2")}
    assert {d.schema_version for d in first + second} == {2}
    # the stamp of a decision already made does not follow the rule change
    assert stamp(first[0]) == ("dry_run", False, None)


def test_a_message_decision_names_the_message_and_its_discord_channel() -> None:
    run = Run(RULES)
    event = msg("badword", user="x", platform="discord", group="77", channel="c-5")
    out = run.feed(event)
    assert [(d.target_message_id, d.channel_id) for d in out] == [
        (event.payload.message_id, "c-5"),
        (event.payload.message_id, "c-5"),
    ]
    [removal, _] = Run(RULES).feed(msg("badword", user="x"))
    assert removal.target_message_id is not None and removal.channel_id is None


def test_a_complaint_decision_names_the_message_complained_about() -> None:
    run = Run(default_ruleset())
    about_message = run.feed(
        *(complaint(f"r{i}", "troll", at=i, cid=f"c{i}", message_id="m-77") for i in range(3))
    )
    assert [d.action for d in about_message] == ["warn", "escalate"]
    assert {(d.target_message_id, d.channel_id) for d in about_message} == {("m-77", None)}
    about_user = Run(default_ruleset()).feed(
        *(complaint(f"r{i}", "troll", at=i, cid=f"k{i}") for i in range(3))
    )
    assert about_user and {d.target_message_id for d in about_user} == {None}


def test_a_manual_sanction_is_a_decision_in_the_persons_words() -> None:
    run = Run(RULES)
    act = sanction("s-1", "x", at=5, action="remove_message", reason="doxxing", message_id="m-9")
    [d] = run.feed(act)
    assert (d.action, d.rule_id, d.reason, d.target_user_id) == (
        "remove_message",
        "manual",
        "doxxing",
        "x",
    )
    assert d.target_message_id == "m-9"
    assert d.cause_event_ids == [act.event_id]
    assert d.decision_id == decision_id(act.event_id, "manual", "remove_message")
    assert d.decided_at == act.occurred_at
    assert stamp(d) == ("dry_run", False, None)
    [mute] = run.feed(sanction("s-2", "x", at=6, duration_s=900, reason="cool off"))
    assert (mute.action, mute.duration_s, mute.reason) == ("mute", 900, "cool off")
    # both count on the ladder: the next offence is the 3rd violation
    assert [d.action for d in run.feed(msg("badword", user="x", at=7))] == [
        "remove_message",
        "mute",
    ]


def test_the_same_sanction_posted_twice_acts_once() -> None:
    run = Run(RULES)
    assert len(run.feed(sanction("s-1", "x", at=0))) == 1
    assert run.feed(sanction("s-1", "x", at=1)) == []


def test_revoking_a_manual_mute_unmutes_the_member() -> None:
    run = Run(RULES)
    run.feed(sanction("s-1", "x", at=0, duration_s=600))
    ev = revoked("s-1", at=100, reason="wrong member")
    [d] = run.feed(ev)
    assert (d.action, d.target_user_id, d.revokes, d.rule_id, d.reason) == (
        "unmute",
        "x",
        "s-1",
        "manual",
        "wrong member",
    )
    assert d.decision_id == decision_id(ev.event_id, "manual", "unmute")
    assert d.duration_s is None
    # revoked once: a second revoke has nothing left to lift
    assert run.feed(revoked("s-1", at=101)) == []


def test_revoking_a_manual_ban_unbans_and_a_warn_needs_nothing_lifted() -> None:
    run = Run(RULES)
    run.feed(
        sanction("s-ban", "x", at=0, action="ban"), sanction("s-warn", "y", at=0, action="warn")
    )
    assert [(d.action, d.revokes) for d in run.feed(revoked("s-ban", at=10))] == [
        ("unban", "s-ban")
    ]
    assert run.feed(revoked("s-warn", at=10)) == []


def test_revoking_an_automatic_ban_decision_unbans_its_target() -> None:
    run = Run(RULES)
    out = run.feed(msg("I sell guns", user="seller", at=0))
    [ban] = [d for d in out if d.action == "ban"]
    [d] = run.feed(revoked(ban.decision_id, at=3 * 86400, reason="appeal upheld"))
    assert (d.action, d.target_user_id, d.revokes, d.reason) == (
        "unban",
        "seller",
        ban.decision_id,
        "appeal upheld",
    )


def test_revoking_an_automatic_mute_within_its_time_unmutes() -> None:
    run = Run(RULES)
    out = run.feed(*(msg("badword", user="x", at=i) for i in range(3)))
    [mute] = [d for d in out if d.action == "mute"]
    assert mute.duration_s == 3600
    assert [d.action for d in run.feed(revoked(mute.decision_id, at=60))] == ["unmute"]


def test_a_revoke_after_the_mute_is_over_or_of_something_unknown_does_nothing() -> None:
    run = Run(RULES)
    run.feed(sanction("s-1", "x", at=0, duration_s=600))
    assert run.feed(revoked("s-1", at=600)) == []
    assert run.feed(revoked("no-such-sanction", at=601)) == []


def test_a_mute_over_is_forgotten_and_a_ban_without_end_is_kept() -> None:
    run = Run(RULES)
    run.feed(
        sanction("s-mute", "x", at=0, duration_s=60), sanction("s-ban", "y", at=0, action="ban")
    )
    g = run.state.groups[GROUP_KEY]
    assert set(g.sanctions) == {"s:s-mute", "s:s-ban"}
    run.feed(msg("hello", user="z", at=SWEEP_EVERY_S + 1))  # the sweep runs
    assert set(g.sanctions) == {"s:s-ban"}


def test_a_snapshot_keeps_the_mutes_and_bans_in_force() -> None:
    engine, state = Engine(RULES), PartitionState()
    engine.apply(state, sanction("s-1", "x", at=0, duration_s=600))
    ban = [d for d in engine.apply(state, msg("I sell guns", user="y", at=1)) if d.action == "ban"]
    snapshot = json.loads(json.dumps(state.to_json()))
    restored = PartitionState.from_json(snapshot)
    assert restored.to_json() == state.to_json()
    fresh = Engine(RULES)  # another process after a rebalance
    assert [(d.action, d.revokes) for d in fresh.apply(restored, revoked("s-1", at=2))] == [
        ("unmute", "s-1")
    ]
    lifted = fresh.apply(restored, revoked(ban[0].decision_id, at=3))
    assert [(d.action, d.target_user_id) for d in lifted] == [("unban", "y")]


def test_an_old_snapshot_without_them_loads_with_none_in_force() -> None:
    engine, state = Engine(RULES), PartitionState()
    engine.apply(state, sanction("s-1", "x", at=0, duration_s=600))
    old = json.loads(json.dumps(state.to_json()))
    for _, group in old["groups"]:
        del group["sanc"]
    restored = PartitionState.from_json(old)
    assert restored.groups[GROUP_KEY].sanctions == {}
    assert Engine(RULES).apply(restored, revoked("s-1", at=1)) == []
    # the ladder is still there: the revoke took the manual sanction off it
    assert "x" not in restored.groups[GROUP_KEY].violations


def test_two_instances_decide_manual_acts_and_revokes_alike() -> None:
    history: list[Event] = [
        msg("badword", user="x", at=0, platform="telegram"),
        rules_update(2, LIVE, at=1),
        sanction("s-1", "x", at=2, duration_s=600, message_id="m-1"),
        msg("I sell guns", user="y", at=3),
        revoked("s-1", at=4),
    ]
    a, b = Run(RULES), Run(RULES)
    first, second = a.feed(*history), b.feed(*history)
    assert first == second
    assert [d.action for d in first] == [
        "remove_message",
        "warn",
        "mute",
        "remove_message",
        "ban",
        "escalate",
        "unmute",
    ]
    assert len({d.decision_id for d in first}) == len(first)
