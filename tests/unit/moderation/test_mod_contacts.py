"""Contact details used for ad spam: QQ, WeChat, phone numbers, also when disguised."""

from __future__ import annotations

import pytest

from tests.support.modhelp import Run, msg, only

RULES = only({"contacts": {"kind": "contacts"}})


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("QQ: 12345678", "QQ: 12345678"),
        ("有意加Q 87654321", "加Q 87654321"),
        ("ＱＱ：１２３４５６７８", "ＱＱ：１２３４５６７８"),
        ("扣扣 1 2 3 4 5 6 7", "扣扣 1 2 3 4 5 6 7"),
        ("加微信: abc_123 领福利", "微信: abc_123"),
        ("vx：wxid_abcd12", "vx：wxid_abcd12"),
        ("薇信 hello_world", "薇信 hello_world"),
        ("call 13800138000", "13800138000"),
        ("电话 138 0013 8000", "138 0013 8000"),
        ("+86 138-0013-8000", "+86 138-0013-8000"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
    ],
)
def test_contact_details_found(text: str, span: str) -> None:
    out = Run(RULES).feed(msg(text))
    assert out and out[0].matched == span


@pytest.mark.parametrize(
    "text",
    [
        "the qq group is great",
        "order 1234 shipped",
        "wxyz abcdefgh",
        "12345678901234567890",  # a long id, not a phone number
        "共有 1200 人参加",
    ],
)
def test_ordinary_numbers_and_words_pass(text: str) -> None:
    assert Run(RULES).feed(msg(text)) == []


def test_each_kind_can_be_switched_off() -> None:
    rules = only({"c": {"kind": "contacts", "phone": False}})
    assert Run(rules).feed(msg("13800138000")) == []
    assert Run(rules).feed(msg("QQ 12345678"))
