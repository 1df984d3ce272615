"""New members: no links, no media and a lower flood limit for the first hours."""

from __future__ import annotations

from tests.support.modhelp import Run, actions, joined, left, msg, only

NEW = only(
    {
        "newbie": {
            "kind": "new_members",
            "period": "24h",
            "flood_max": 2,
            "flood_window": "60s",
        }
    }
)


def test_new_member_may_not_post_links_or_contacts() -> None:
    run = Run(NEW)
    run.feed(joined("n1", at=0))
    out = run.feed(msg("see https://example.org/x", user="n1", at=60))
    assert actions(out) == [("remove_message", "newbie"), ("warn", "newbie")]
    assert out[0].matched == "https://example.org/x"
    assert run.feed(msg("加微信 abc_12345", user="n1", at=3600))[0].matched == "微信 abc_12345"


def test_new_member_may_not_post_media() -> None:
    run = Run(NEW)
    run.feed(joined("n1", at=0))
    assert actions(run.feed(msg("look", user="n1", at=10, media=True)))[0] == (
        "remove_message",
        "newbie",
    )


def test_new_member_lower_flood_limit() -> None:
    run = Run(NEW)
    run.feed(joined("n1", at=0))
    assert run.feed(msg("a", user="n1", at=1), msg("b", user="n1", at=2)) == []
    assert run.feed(msg("c", user="n1", at=3))


def test_limits_end_after_the_period() -> None:
    run = Run(NEW)
    run.feed(joined("n1", at=0))
    assert run.feed(msg("https://example.org", user="n1", at=24 * 3600 + 1, media=True)) == []


def test_established_members_and_members_who_left_are_not_new() -> None:
    run = Run(NEW)
    assert run.feed(msg("https://example.org", user="old", at=5, media=True)) == []
    run.feed(joined("n2", at=0), left("n2", at=10))
    assert run.feed(msg("https://example.org", user="n2", at=20)) == []
