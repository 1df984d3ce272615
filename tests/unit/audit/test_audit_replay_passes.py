"""The replay's passes over an event history, without a broker: the engine is the live one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.moderation.engine import Engine
from services.moderation.replay import Pass, Replayer, in_period, whatif_engine
from services.moderation.replay_diff import compare
from shared.codec import event_from_dict
from shared.events import Event
from shared.rules import default_ruleset
from tests.support.events import raw_event

G = "telegram:-1009"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def ev(n: int, etype: str, user: str, minutes: int, **payload: Any) -> Event:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return event_from_dict(raw_event(f"ev-{n}", etype, G, user, at, payload))


def msg(n: int, user: str, minutes: int, text: str) -> Event:
    return ev(n, "message.posted", user, minutes, message_id=f"m{n}", text=text)


def run(events: list[Event], passes: list[Pass], frm: datetime, to: datetime) -> Replayer:
    r = Replayer(frm, to, [G], passes)
    r.new_partition()
    for e in events:
        r.feed(e)
    return r


def test_state_before_the_period_counts_but_only_its_decisions_are_reported() -> None:
    # two abuse messages before the period, the third inside it: the ladder mutes
    history = [msg(i, "u1", i * 60, "you are a retard") for i in range(3)]
    frm, to = T0 + timedelta(minutes=100), T0 + timedelta(days=1)
    recorded = Pass(Engine(default_ruleset()), in_period(frm, to, [G]))
    run(history, [recorded], frm, to)
    assert [(d.action, d.duration_s) for d in recorded.decisions] == [
        ("remove_message", None),
        ("mute", 3600),
    ]
    assert {tuple(d.cause_event_ids) for d in recorded.decisions} == {("ev-2",)}


def test_what_if_rules_replace_the_recorded_rules_of_the_groups_they_name(tmp_path: Path) -> None:
    rules = tmp_path / "strict.yaml"
    rules.write_text(
        f"groups:\n  {G}:\n    detectors:\n      spoons:\n        kind: keywords\n"
        "        keywords: [spoon]\n",
        encoding="utf-8",
    )
    # the stream switched abuse-words off; the what-if file does not, and adds a rule
    events = [
        ev(
            0,
            "ruleset.updated",
            "admin",
            0,
            version=1,
            rules={"detectors": {"abuse-words": {"enabled": False}}},
        ),
        msg(1, "u1", 10, "a spoon for you"),
        msg(2, "u2", 20, "you are a retard"),
    ]
    frm, to = T0, T0 + timedelta(days=1)
    live = Engine(default_ruleset())
    recorded = Pass(live, in_period(frm, to, [G]))
    w_engine, replace = whatif_engine(live, rules)
    whatif = Pass(w_engine, in_period(frm, to, [G]), replace)
    replayer = run(events, [recorded, whatif], frm, to)

    assert recorded.decisions == []  # abuse-words was off, "spoon" was no rule
    diff = compare(recorded.decisions, whatif.decisions, strict=False)
    assert {(c.kind, c.rule_id, c.user_key, c.decision.action) for c in diff.changes} == {
        ("added", "spoons", "telegram:u1", "remove_message"),
        ("added", "spoons", "telegram:u1", "warn"),
        ("added", "abuse-words", "telegram:u2", "remove_message"),
        ("added", "abuse-words", "telegram:u2", "warn"),
    }
    # the causing messages are kept for the report
    assert replayer.causes["ev-1"].text == "a spoon for you"
    assert replayer.causes["ev-1"].user_key == "telegram:u1"
