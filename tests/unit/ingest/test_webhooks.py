"""handle_webhook: one request in, the answer and the events out, in a fixed order."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from services.ingest.webhooks import handle_webhook
from shared.settings import Settings
from tests.support.platforms import FIXTURES

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
ONEBOT_SECRET = "onebot-secret-value"
TELEGRAM_TOKEN = "telegram-token-value"
SLACK_SECRET = "slack-signing-secret-value"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "onebot_secret": SecretStr(ONEBOT_SECRET),
        "onebot_secrets": "",
        "telegram_secret_token": SecretStr(TELEGRAM_TOKEN),
        "telegram_secret_tokens": "",
        "slack_signing_secret": SecretStr(SLACK_SECRET),
        "slack_signing_secrets": "",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def onebot_headers(body: bytes, secret: str = ONEBOT_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return {"X-Signature": f"sha1={digest}", "X-Self-ID": "123456789"}


def slack_headers(body: bytes, ts: int = int(NOW.timestamp())) -> dict[str, str]:
    base = f"v0:{ts}:".encode() + body
    digest = hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(ts)}


def test_signed_onebot_message_is_ok_with_events() -> None:
    body = fixture("onebot_group_message_1.json")
    outcome = handle_webhook("onebot", body, onebot_headers(body), settings(), NOW)
    assert outcome.status == "ok"
    [event] = outcome.events
    assert event.event_id == "onebot:123456789:msg:987654321:2002"
    assert event.received_at == NOW


def test_header_names_are_case_insensitive() -> None:
    body = fixture("onebot_group_message_1.json")
    shouting = {k.upper(): v for k, v in onebot_headers(body).items()}
    assert handle_webhook("onebot", body, shouting, settings(), NOW).status == "ok"


def test_forged_onebot_signature_is_unauthorized() -> None:
    body = fixture("onebot_group_message_1.json")
    outcome = handle_webhook("onebot", body, onebot_headers(body, "guess"), settings(), NOW)
    assert outcome.status == "unauthorized" and outcome.events == []


def test_telegram_secret_token() -> None:
    body = fixture("telegram_group_message_1.json")
    good = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_TOKEN}
    assert handle_webhook("telegram", body, good, settings(), NOW).status == "ok"
    bad = {"X-Telegram-Bot-Api-Secret-Token": "nope"}
    assert handle_webhook("telegram", body, bad, settings(), NOW).status == "unauthorized"
    assert handle_webhook("telegram", body, {}, settings(), NOW).status == "unauthorized"


def test_slack_challenge_passes_through() -> None:
    body = fixture("slack_url_verification_1.json")
    outcome = handle_webhook("slack", body, slack_headers(body), settings(), NOW)
    assert outcome.status == "ok" and outcome.events == []
    assert outcome.challenge == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


def test_slack_signature_older_than_five_minutes_is_unauthorized() -> None:
    body = fixture("slack_message_1.json")
    stale = slack_headers(body, int(NOW.timestamp()) - 301)
    outcome = handle_webhook("slack", body, stale, settings(), NOW)
    assert outcome.status == "unauthorized" and "replay window" in (outcome.reason or "")


def test_discord_needs_no_signature_here() -> None:
    body = fixture("discord_message_create_1.json")
    outcome = handle_webhook("discord", body, {}, settings(), NOW)
    assert outcome.status == "ok" and outcome.events[0].group_id == "694205451682978886"


def test_unconfigured_platform_is_closed() -> None:
    body = fixture("telegram_group_message_1.json")
    headers = {"X-Telegram-Bot-Api-Secret-Token": ""}
    outcome = handle_webhook("telegram", body, headers, settings(telegram_secret_token=None), NOW)
    assert outcome.status == "unauthorized"
    assert "MODSTREAM_TELEGRAM_SECRET_TOKEN" in (outcome.reason or "")


def test_verification_comes_before_parsing() -> None:
    outcome = handle_webhook("onebot", b"{not json", {}, settings(), NOW)
    assert outcome.status == "unauthorized"


def test_malformed_json_names_line_and_column() -> None:
    body = b'{"post_type": "message",\n  "group_id": }'
    outcome = handle_webhook("onebot", body, onebot_headers(body), settings(), NOW)
    assert outcome.status == "bad_request"
    assert "line 2 column 15" in (outcome.reason or "")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a": ' + b"9" * 5000 + b"}", "cannot be read"),
    ],
)
def test_unreadable_bodies_are_bad_requests(body: bytes, words: str) -> None:
    outcome = handle_webhook("onebot", body, onebot_headers(body), settings(), NOW)
    assert outcome.status == "bad_request" and words in (outcome.reason or "")


def test_unmappable_payload_says_why() -> None:
    body = json.dumps({"post_type": "message", "message_type": "group", "self_id": 1}).encode()
    outcome = handle_webhook("onebot", body, onebot_headers(body), settings(), NOW)
    assert outcome.status == "unmappable" and "group_id" in (outcome.reason or "")


def test_ignored_payload_says_why() -> None:
    body = fixture("onebot_private_message_1.json")
    outcome = handle_webhook("onebot", body, onebot_headers(body), settings(), NOW)
    assert (outcome.status, outcome.reason) == ("ignored", "private chat")


def test_unknown_platform_is_a_bad_request() -> None:
    outcome = handle_webhook("matrix", b"{}", {}, settings(), NOW)
    assert outcome.status == "bad_request" and "onebot" in (outcome.reason or "")


def test_misconfigured_secret_list_refuses_without_echoing_secrets() -> None:
    body = fixture("onebot_group_message_1.json")
    broken = settings(onebot_secrets="123456789=fine,leakme")
    outcome = handle_webhook("onebot", body, onebot_headers(body), broken, NOW)
    assert outcome.status == "unauthorized"
    assert "MODSTREAM_ONEBOT_SECRETS" in (outcome.reason or "")
    assert "leakme" not in (outcome.reason or "") and "fine" not in (outcome.reason or "")


@pytest.mark.parametrize("platform", ["onebot", "telegram", "slack"])
def test_no_reason_ever_contains_a_secret(platform: str) -> None:
    body = b'{"x": 1}'
    headers = {
        "X-Signature": "sha1=" + "0" * 40,
        "X-Telegram-Bot-Api-Secret-Token": "wrong",
        "X-Slack-Signature": "v0=" + "0" * 64,
        "X-Slack-Request-Timestamp": str(int(NOW.timestamp())),
    }
    outcome = handle_webhook(platform, body, headers, settings(), NOW)
    assert outcome.status == "unauthorized"
    for secret in (ONEBOT_SECRET, TELEGRAM_TOKEN, SLACK_SECRET):
        assert secret not in (outcome.reason or "")
