"""Webhook signature and secret checks: what passes, what is refused, and why."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from services.ingest.platforms.signatures import (
    SecretSet,
    SecretsMisconfigured,
    parse_secrets,
    verify_onebot,
    verify_slack,
    verify_telegram,
)

# The Slack docs' published test vector (also used by python-slack-sdk's tests).
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SLACK_NOW = datetime.fromtimestamp(int(SLACK_TS) + 10, UTC)


def slack_headers(signature: str = SLACK_SIGNATURE, ts: str = SLACK_TS) -> dict[str, str]:
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": ts}


def onebot_sign(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_slack_official_test_vector_is_accepted() -> None:
    verdict = verify_slack(SLACK_BODY, slack_headers(), SecretSet(shared=SLACK_SECRET), SLACK_NOW)
    assert verdict.ok, verdict.reason


def test_slack_tampered_body_is_refused() -> None:
    verdict = verify_slack(
        SLACK_BODY + b"------", slack_headers(), SecretSet(shared=SLACK_SECRET), SLACK_NOW
    )
    assert not verdict.ok and "does not match" in verdict.reason


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_slack_stale_or_future_timestamp_is_refused(offset: int) -> None:
    now = datetime.fromtimestamp(int(SLACK_TS) + offset, UTC)
    verdict = verify_slack(SLACK_BODY, slack_headers(), SecretSet(shared=SLACK_SECRET), now)
    assert not verdict.ok and "replay window" in verdict.reason


@pytest.mark.parametrize("offset", [300, -300])
def test_slack_timestamp_exactly_five_minutes_away_is_accepted(offset: int) -> None:
    now = datetime.fromtimestamp(int(SLACK_TS) + offset, UTC)
    assert verify_slack(SLACK_BODY, slack_headers(), SecretSet(shared=SLACK_SECRET), now).ok


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "required"),
        ({"X-Slack-Signature": SLACK_SIGNATURE}, "required"),
        (slack_headers(ts="1531420618.5"), "whole epoch seconds"),
        (slack_headers(signature="v1=abc"), "v0="),
    ],
)
def test_slack_missing_or_malformed_headers_are_refused(
    headers: dict[str, str], words: str
) -> None:
    verdict = verify_slack(SLACK_BODY, headers, SecretSet(shared=SLACK_SECRET), SLACK_NOW)
    assert not verdict.ok and words in verdict.reason


def test_slack_any_configured_workspace_secret_may_match() -> None:
    secrets = parse_secrets(None, f"T1=not-it, T1DC2JH3J={SLACK_SECRET}", "S")
    assert verify_slack(SLACK_BODY, slack_headers(), secrets, SLACK_NOW).ok


def test_slack_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in slack_headers().items()}
    assert verify_slack(SLACK_BODY, headers, SecretSet(shared=SLACK_SECRET), SLACK_NOW).ok


def test_onebot_signature_over_the_raw_body() -> None:
    body = b'{"post_type":"meta_event"}'
    headers = {"X-Signature": onebot_sign("s3cret", body)}
    assert verify_onebot(body, headers, SecretSet(shared="s3cret")).ok
    assert not verify_onebot(body + b" ", headers, SecretSet(shared="s3cret")).ok
    assert not verify_onebot(body, headers, SecretSet(shared="other")).ok


def test_onebot_x_self_id_selects_that_bots_secret() -> None:
    body = b"{}"
    secrets = parse_secrets(None, "10001=alpha,20002=beta", "S")
    signed_by_beta = {"X-Signature": onebot_sign("beta", body)}
    assert verify_onebot(body, {**signed_by_beta, "X-Self-ID": "20002"}, secrets).ok
    assert not verify_onebot(body, {**signed_by_beta, "X-Self-ID": "10001"}, secrets).ok
    # a bot with no entry of its own may use any configured secret
    assert verify_onebot(body, {**signed_by_beta, "X-Self-ID": "30003"}, secrets).ok
    assert verify_onebot(body, signed_by_beta, secrets).ok


@pytest.mark.parametrize(
    ("signature", "words"),
    [(None, "missing"), ("sha1=zz", "sha1=<40 hex digits>"), ("md5=" + "0" * 40, "sha1=")],
)
def test_onebot_missing_or_malformed_signature(signature: str | None, words: str) -> None:
    headers = {} if signature is None else {"X-Signature": signature}
    verdict = verify_onebot(b"{}", headers, SecretSet(shared="s3cret"))
    assert not verdict.ok and words in verdict.reason


def test_telegram_secret_token_header() -> None:
    secrets = parse_secrets(SecretStr("tok_A"), "bot2=tok-B", "S")
    assert verify_telegram({"X-Telegram-Bot-Api-Secret-Token": "tok_A"}, secrets).ok
    assert verify_telegram({"x-telegram-bot-api-secret-token": "tok-B"}, secrets).ok
    wrong = verify_telegram({"X-Telegram-Bot-Api-Secret-Token": "tok_C"}, secrets)
    assert not wrong.ok and "matches no configured" in wrong.reason
    missing = verify_telegram({}, secrets)
    assert not missing.ok and "missing" in missing.reason


def test_non_ascii_header_values_are_refused_not_crashed() -> None:
    secrets = SecretSet(shared="tok")
    assert not verify_telegram({"X-Telegram-Bot-Api-Secret-Token": "tök\udcff"}, secrets).ok


def test_every_platform_refuses_when_no_secret_is_configured() -> None:
    nothing = parse_secrets(None, "", "S")
    body = b"{}"
    onebot = verify_onebot(body, {"X-Signature": onebot_sign("", body)}, nothing)
    telegram = verify_telegram({"X-Telegram-Bot-Api-Secret-Token": ""}, nothing)
    slack = verify_slack(body, slack_headers(), nothing, SLACK_NOW)
    assert not onebot.ok and "MODSTREAM_ONEBOT_SECRET" in onebot.reason
    assert not telegram.ok and "MODSTREAM_TELEGRAM_SECRET_TOKEN" in telegram.reason
    assert not slack.ok and "MODSTREAM_SLACK_SIGNING_SECRET" in slack.reason


def test_an_empty_secret_counts_as_not_configured() -> None:
    assert not parse_secrets(SecretStr(""), " , ", "S")


def test_malformed_secret_list_names_the_entry_not_the_secret() -> None:
    with pytest.raises(SecretsMisconfigured) as err:
        parse_secrets(None, "1=ok,hunter2", "MODSTREAM_ONEBOT_SECRETS")
    assert "entry 2" in str(err.value) and "hunter2" not in str(err.value)
