"""Webhook authenticity over real HTTP with every platform secret set: a forged, missing
or wrongly keyed signature, or a Slack request outside the 5-minute window, gets 401 and
publishes nothing; the correctly signed request gets 202. And the checks compare secrets
in constant time: `hmac.compare_digest`, never `==`."""

from __future__ import annotations

import ast
import hmac
import inspect
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.ingest.platforms import signatures as verify
from shared import tokens
from tests.support.security import (
    SIGNERS,
    SLACK_SECRET,
    SecStack,
    fixture,
    fresh_body,
    onebot_sig,
    slack_sig,
    telegram_sig,
)

pytestmark = pytest.mark.integration


def bad_requests(platform: str, body: bytes) -> dict[str, dict[str, str]]:
    """Every way a caller without the secret might try, by name."""
    sign, secret = SIGNERS[platform]
    cases = {"missing signature": {}, "wrong secret": sign(body, "not-" + secret)}
    if platform != "telegram":  # Telegram's secret token does not sign the body
        cases["signature of another body"] = sign(body + b" ", secret)
    if platform == "onebot":
        cases["forged hex"] = {"X-Signature": "sha1=" + "ab" * 20}
        cases["malformed"] = {"X-Signature": "md5=zz"}
    if platform == "telegram":
        cases["prefix of the secret"] = {"X-Telegram-Bot-Api-Secret-Token": secret[:-1]}
        cases["empty"] = {"X-Telegram-Bot-Api-Secret-Token": ""}
    if platform == "slack":
        cases["forged hex"] = {
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "cd" * 32,
        }
        cases["replay: signed 6 minutes ago"] = slack_sig(body, secret, int(time.time()) - 360)
        cases["signed 6 minutes ahead"] = slack_sig(body, secret, int(time.time()) + 360)
        cases["timestamp missing"] = {
            "X-Slack-Signature": slack_sig(body, secret)["X-Slack-Signature"]
        }
    return cases


@pytest.fixture(scope="module")
def ingest(sec: SecStack) -> httpx.Client:
    return httpx.Client(base_url=sec.ingest, timeout=30)


@pytest.mark.parametrize("platform", ["onebot", "telegram", "slack"])
def test_unsigned_or_forged_webhooks_are_401_and_publish_nothing(
    sec: SecStack, ingest: httpx.Client, platform: str
) -> None:
    body = fresh_body(platform)
    before = sec.published()
    wrong = []
    for name, headers in bad_requests(platform, body).items():
        resp = ingest.post(
            f"/v1/webhooks/{platform}",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        if resp.status_code != 401:
            wrong.append(f"{name}: {resp.status_code} {resp.text[:200]}")
        secret = SIGNERS[platform][1]
        assert secret not in resp.text
    assert not wrong, "\n".join(wrong)
    assert sec.published() == before, "a refused webhook published events"

    sign, secret = SIGNERS[platform]
    resp = ingest.post(
        f"/v1/webhooks/{platform}",
        content=body,
        headers={"Content-Type": "application/json", **sign(body, secret)},
    )
    assert resp.status_code == 202, resp.text
    assert [r["status"] for r in resp.json()["results"]] == ["accepted"]
    assert sec.published() == before + 1


def test_slack_signature_inside_the_window_is_accepted(sec: SecStack, ingest: httpx.Client) -> None:
    body = fresh_body("slack")
    headers = slack_sig(body, SLACK_SECRET, int(time.time()) - 240)
    resp = ingest.post("/v1/webhooks/slack", content=body, headers=headers)
    assert resp.status_code == 202, resp.text


def test_discord_needs_a_platform_token(sec: SecStack, ingest: httpx.Client) -> None:
    body = fixture("discord_message_create_2")
    before = sec.published()
    assert ingest.post("/v1/webhooks/discord", json=body).status_code == 401
    bogus = {"Authorization": "Bearer not-a-token-at-all"}
    assert ingest.post("/v1/webhooks/discord", json=body, headers=bogus).status_code == 401
    auditor = sec.tokens.auditor.headers
    assert ingest.post("/v1/webhooks/discord", json=body, headers=auditor).status_code == 403
    assert sec.published() == before


# ---------------------------------------------------------------- constant time


_REAL_COMPARE = hmac.compare_digest


class Spy:
    """Records each call; `hmac` is one module object, so patching it patches it for all."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return _REAL_COMPARE(a, b)


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_every_verify_function_compares_with_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy()
    monkeypatch.setattr(verify.hmac, "compare_digest", spy)
    body = b'{"post_type":"message"}'
    secret = "s3cret-value"
    secrets = verify.SecretSet(shared=secret)
    ts = int(NOW.timestamp())
    cases = [
        (
            lambda h: verify.verify_onebot(body, h, secrets),
            onebot_sig(body, secret),
            onebot_sig(body, "x"),
        ),
        (
            lambda h: verify.verify_telegram(h, secrets),
            telegram_sig(body, secret),
            telegram_sig(body, "x"),
        ),
        (
            lambda h: verify.verify_slack(body, h, secrets, NOW),
            slack_sig(body, secret, ts),
            slack_sig(body, "x", ts),
        ),
    ]
    for check, good, bad in cases:
        spy.calls.clear()
        assert check(good).ok
        assert spy.calls, "a valid signature was accepted without compare_digest"
        spy.calls.clear()
        assert not check(bad).ok
        assert spy.calls, "a bad signature was refused without compare_digest"


def test_token_lookup_compares_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy()
    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    store = tokens.TokenStore(
        [
            tokens.TokenSpec(name=f"t{i}", token=f"secret-{i:04d}", role="admin", groups=["*"])
            for i in range(3)
        ]
    )
    assert store.authenticate("secret-0001") is not None
    assert store.authenticate("secret-9999") is None
    # every configured token is compared, matched or not: the time says nothing of which
    assert len(spy.calls) == 6


SECRETISH = ("secret", "signature", "digest", "expected", "given", "token", "matched")


def _names(node: ast.AST) -> set[str]:
    return {n.id.lower() for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr.lower() for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


@pytest.mark.parametrize("module", [verify, tokens])
def test_no_equality_operator_on_secrets(module: Any) -> None:
    """A `==` on a secret or signature leaks, byte by byte, how much of a guess is right."""
    tree = ast.parse(inspect.getsource(module))
    offending = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
        ):
            # an operand that is itself a comparison is a bool (e.g. `(a is None) == ...`)
            operands = [o for o in (node.left, *node.comparators) if not isinstance(o, ast.Compare)]
            names = set().union(*(_names(o) for o in operands)) if operands else set()
            if any(s in name for name in names for s in SECRETISH):
                offending.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert not offending, "\n".join(offending)
