"""Repeated content: nearly the same text K times in T, in one group or across groups."""

from __future__ import annotations

from tests.support.modhelp import Run, actions, msg, only

REPEAT = only({"rep": {"kind": "repeat", "times": 3, "window": "10m", "min_length": 6}})


def test_same_text_k_times_is_a_violation() -> None:
    run = Run(REPEAT)
    assert run.feed(msg("buy cheap followers", at=0), msg("buy cheap followers", at=60)) == []
    assert actions(run.feed(msg("buy cheap followers", at=120))) == [
        ("remove_message", "rep"),
        ("warn", "rep"),
    ]


def test_nearly_the_same_text_is_the_same() -> None:
    run = Run(REPEAT)
    out = run.feed(
        msg("Buy cheap followers #1", at=0),
        msg("buy  CHEAP followers!!! #22", at=1),
        msg("ｂｕｙ ｃｈｅａｐ ｆｏｌｌｏｗｅｒｓ 333", at=2),
    )
    assert actions(out)[0] == ("remove_message", "rep")


def test_outside_the_window_does_not_count() -> None:
    run = Run(REPEAT)
    out = run.feed(*(msg("buy cheap followers", at=i * 400) for i in range(4)))
    assert out == []


def test_short_texts_and_other_users_do_not_count() -> None:
    run = Run(REPEAT)
    assert run.feed(*(msg("ok!!", at=i) for i in range(5))) == []
    assert run.feed(*(msg("buy cheap followers", user=f"u{i}", at=i) for i in range(5))) == []


def test_across_groups_of_the_same_partition() -> None:
    run = Run(REPEAT)
    out = run.feed(
        msg("join my channel now", group="-1", at=0),
        msg("join my channel now", group="-2", at=1),
        msg("join my channel now", group="-3", at=2),
    )
    assert [(d.group_key, d.action) for d in out] == [
        ("telegram:-3", "remove_message"),
        ("telegram:-3", "warn"),
    ]


def test_cross_group_can_be_switched_off() -> None:
    rules = only({"rep": {"kind": "repeat", "times": 3, "window": "10m", "cross_group": False}})
    run = Run(rules)
    out = run.feed(
        msg("join my channel now", group="-1", at=0),
        msg("join my channel now", group="-2", at=1),
        msg("join my channel now", group="-3", at=2),
    )
    assert out == []
