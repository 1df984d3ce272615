"""Complaint cases: distinct reporters within a window reach a threshold once."""

from __future__ import annotations

import pytest

from tests.support.modhelp import Run, complaint, msg, only, resolved

RULES = only(
    {
        "complaints": {"kind": "complaints", "reporters": 3, "window": "1h"},
        "abuse": {"kind": "keywords", "keywords": ["badword"]},
    }
)


def test_threshold_of_distinct_reporters_warns_and_escalates_with_the_case() -> None:
    run = Run(RULES)
    wave = [
        complaint("a", "t", 0, "c1"),
        complaint("b", "t", 10, "c2"),
        complaint("c", "t", 20, "c3"),
    ]
    assert run.feed(*wave[:2]) == []
    out = run.feed(wave[2])
    assert [(d.action, d.rule_id, d.target_user_id) for d in out] == [
        ("warn", "complaints", "t"),
        ("escalate", "complaints", "t"),
    ]
    assert out[0].case_id and out[0].case_id == out[1].case_id
    assert out[1].cause_event_ids == [e.event_id for e in wave]
    assert "投诉" in out[1].reason and out[1].case_id in out[1].reason
    # further complaints join the case without new decisions
    assert run.feed(complaint("d", "t", 30, "c4")) == []


@pytest.mark.parametrize(
    "wave",
    [
        pytest.param(
            [("a", "t", 0, "c1"), ("a", "t", 1, "c2"), ("t", "t", 2, "c3"), ("b", "t", 3, "c4")],
            id="repeat-reporters-and-self-complaints",
        ),
        pytest.param(
            [("a", "t", 0, "c1"), ("b", "t", 1800, "c2"), ("c", "t", 3700, "c3")],
            id="reporters-outside-the-window",
        ),
    ],
)
def test_complaints_that_do_not_count(wave: list[tuple[str, str, int, str]]) -> None:
    run = Run(RULES)
    out = run.feed(*(complaint(*c) for c in wave))
    assert out == []


def test_a_message_and_its_author_are_different_targets() -> None:
    run = Run(RULES)
    out = run.feed(
        complaint("a", "t", 0, "c1", message_id="m1"),
        complaint("b", "t", 1, "c2", message_id="m1"),
        complaint("c", "t", 2, "c3"),
    )
    assert out == []
    out = run.feed(complaint("d", "t", 3, "c4", message_id="m1"))
    assert [d.action for d in out] == ["warn", "escalate"]


def test_case_climbs_the_target_ladder() -> None:
    run = Run(RULES)
    run.feed(msg("badword", user="t", at=0), msg("badword", user="t", at=1))
    out = run.feed(*(complaint(r, "t", 10 + i, f"c{i}") for i, r in enumerate("abc")))
    assert [(d.action, d.duration_s) for d in out] == [("mute", 3600), ("escalate", None)]


def test_resolved_case_closes_and_a_rejected_case_leaves_the_ladder() -> None:
    run = Run(RULES)
    first = run.feed(*(complaint(r, "t", i, f"c{i}") for i, r in enumerate("abc")))
    run.feed(resolved("c1", "rejected", 100))
    # the case's violation is gone: the next insult is a 1st violation
    out = run.feed(msg("badword", user="t", at=200))
    assert out[1].action == "warn" and "第1次" in out[1].reason
    # a new wave opens a new case
    again = run.feed(*(complaint(r, "t", 300 + i, f"d{i}") for i, r in enumerate("abc")))
    assert again[0].case_id != first[0].case_id


def test_upheld_case_stays_on_the_ladder() -> None:
    run = Run(RULES)
    run.feed(*(complaint(r, "t", i, f"c{i}") for i, r in enumerate("abc")))
    run.feed(resolved("c0", "upheld", 100))
    out = run.feed(msg("badword", user="t", at=200))
    assert "第2次" in out[1].reason


def test_escalate_only_configuration() -> None:
    rules = only(
        {"complaints": {"kind": "complaints", "reporters": 2, "window": "1h", "sanction": False}}
    )
    out = Run(rules).feed(complaint("a", "t", 0, "c1"), complaint("b", "t", 1, "c2"))
    assert [d.action for d in out] == ["escalate"]


def test_cases_are_in_the_snapshot() -> None:
    run = Run(RULES)
    run.feed(complaint("a", "t", 0, "c1"))
    data = run.state.to_json()
    assert data["groups"][0][1]["cases"]
