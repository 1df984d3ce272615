"""The sanction ladder: counts, expiry, manual sanctions and revokes, serious categories."""

from __future__ import annotations

from tests.support.modhelp import Run, msg, only, revoked, sanction

KW = {
    "abuse": {"kind": "keywords", "keywords": ["badword"]},
    "crime": {"kind": "keywords", "keywords": ["sell guns"], "serious": True},
}
RULES = only(KW)
DAY = 86400


def steps(run: Run, *events: object) -> list[tuple[str, int | None]]:
    out = run.feed(*events)  # type: ignore[arg-type]
    return [(d.action, d.duration_s) for d in out if d.action != "remove_message"]


def test_each_violation_climbs_one_step() -> None:
    run = Run(RULES)
    got = [steps(run, msg("badword", user="x", at=i * 60)) for i in range(7)]
    assert got == [
        [("warn", None)],
        [("warn", None)],
        [("mute", 3600)],
        [("mute", 86400)],
        [("kick", None)],
        [("kick", None)],  # past the last step, the last step repeats
        [("kick", None)],
    ]


def test_violations_expire_after_the_window() -> None:
    run = Run(RULES)
    run.feed(msg("badword", user="x", at=0), msg("badword", user="x", at=DAY))
    # 30 days after the first, only the second is still on record
    assert steps(run, msg("badword", user="x", at=30 * DAY + 1)) == [("warn", None)]


def test_members_have_their_own_ladders() -> None:
    run = Run(RULES)
    run.feed(msg("badword", user="x", at=0), msg("badword", user="x", at=1))
    assert steps(run, msg("badword", user="y", at=2)) == [("warn", None)]


def test_manual_sanctions_count_and_revokes_remove_them() -> None:
    run = Run(RULES)
    run.feed(sanction("s1", "x", at=0), sanction("s2", "x", at=1))
    assert steps(run, msg("badword", user="x", at=2)) == [("mute", 3600)]
    run.feed(revoked("s1", at=3), revoked("s2", at=4))
    # the revoked ones no longer count: 2nd violation
    assert steps(run, msg("badword", user="x", at=5)) == [("warn", None)]


def test_same_manual_sanction_twice_counts_once() -> None:
    run = Run(RULES)
    run.feed(sanction("s1", "x", at=0), sanction("s1", "x", at=1))
    assert steps(run, msg("badword", user="x", at=2)) == [("warn", None)]


def test_serious_category_bans_and_escalates_at_once() -> None:
    out = Run(RULES).feed(msg("I sell guns", user="x"))
    assert [d.action for d in out] == ["remove_message", "ban", "escalate"]
    assert all(d.rule_id == "crime" for d in out)
    assert "严重违规" in out[1].reason and "上报管理员" in out[2].reason


def test_serious_hit_wins_over_other_hits_of_the_same_message() -> None:
    out = Run(RULES).feed(msg("badword, sell guns", user="x"))
    assert [(d.action, d.rule_id) for d in out] == [
        ("remove_message", "crime"),
        ("ban", "crime"),
        ("escalate", "crime"),
    ]


def test_one_message_is_one_violation_even_with_several_hits() -> None:
    rules = only({**KW, "more": {"kind": "keywords", "keywords": ["other"]}})
    run = Run(rules)
    run.feed(msg("badword other", user="x"))
    assert steps(run, msg("badword", user="x", at=1)) == [("warn", None)]


def test_ladder_false_only_removes() -> None:
    rules = only({"soft": {"kind": "keywords", "keywords": ["meh"], "ladder": False}})
    out = Run(rules).feed(msg("meh", user="x"))
    assert [d.action for d in out] == ["remove_message"]


def test_steps_can_escalate_and_be_configured() -> None:
    rules = only(
        KW,
        ladder={"expire_after": "7d", "steps": [{"action": "kick", "escalate": True}]},
    )
    out = Run(rules).feed(msg("badword", user="x"))
    assert [d.action for d in out] == ["remove_message", "kick", "escalate"]


def test_reason_names_rule_count_and_span_in_the_group_language() -> None:
    zh = Run(RULES).feed(msg("这是 badword 啊", user="x"))
    assert zh[1].reason.startswith("警告：第1次违规")
    assert "abuse" in zh[1].reason and "badword" in zh[1].reason
    en = Run(only(KW, language="en")).feed(msg("badword", user="x"))
    assert en[1].reason.startswith("Warning: 1st violation") and "'abuse'" in en[1].reason
