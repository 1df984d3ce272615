"""Links and invites: block lists, allow lists, invite links, disguised domains."""

from __future__ import annotations

import pytest

from tests.support.modhelp import Run, msg, only

RULES = only(
    {
        "links": {
            "kind": "links",
            "block_domains": ["bad.example", "bit.ly"],
            "allow_domains": ["ok.bad.example"],
        }
    }
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("join t.me/+AbC123", "t.me/+AbC123"),
        ("https://discord.gg/xyz please", "discord.gg/xyz"),
        ("chat.whatsapp.com/Invite1", "chat.whatsapp.com/Invite1"),
        ("加群 qm.qq.com/q/abc", "qm.qq.com/q/abc"),
        ("t。me/+abc", "t。me/+abc"),  # ideographic full stop
        ("ｔ．ｍｅ/+abc", "ｔ．ｍｅ/+abc"),  # full-width
        ("see https://www.bad.example/x", "https://www.bad.example/x"),
        ("short: bit.ly/3xYz", "bit.ly/3xYz"),
        ("b\u200bit.ly/zz", "b\u200bit.ly/zz"),
    ],
)
def test_blocked_links_and_invites(text: str, span: str) -> None:
    out = Run(RULES).feed(msg(text))
    assert out and out[0].rule_id == "links" and out[0].matched == span


@pytest.mark.parametrize(
    "text",
    [
        "docs at https://docs.python.org/3/",
        "https://ok.bad.example/fine is allowed",
        "t.me/public_channel is not an invite",
        "version 1.2.3 released",
        "hello.world",
    ],
)
def test_other_links_pass(text: str) -> None:
    assert Run(RULES).feed(msg(text)) == []


def test_block_all_allows_only_listed_domains() -> None:
    rules = only({"l": {"kind": "links", "block_all": True, "allow_domains": ["github.com"]}})
    assert Run(rules).feed(msg("https://github.com/a/b")) == []
    assert Run(rules).feed(msg("https://gist.github.com/a")) == []
    assert Run(rules).feed(msg("https://example.org/a"))


def test_invites_off() -> None:
    rules = only({"l": {"kind": "links", "invites": False}})
    assert Run(rules).feed(msg("t.me/+abc")) == []
