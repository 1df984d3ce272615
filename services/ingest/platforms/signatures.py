"""Webhook authenticity checks, one per platform scheme, pure (the clock is an argument).

Closed by default: a platform with no secret configured rejects every request, because
an unverified webhook would let anyone write events (and so trigger sanctions) for any
group. Every comparison is constant-time, and no reason ever quotes a secret or a
signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr

from shared.settings import Settings

Headers = Mapping[str, str]

SLACK_MAX_SKEW_S = 300
_ONEBOT_SIGNATURE = re.compile(r"sha1=([0-9a-fA-F]{40})")
_SLACK_SIGNATURE = re.compile(r"v0=([0-9a-fA-F]{64})")
_SLACK_TIMESTAMP = re.compile(r"\d{1,12}")

# platform -> (single-secret setting, per-id setting), as attribute names on Settings
_SETTINGS = {
    "onebot": ("onebot_secret", "onebot_secrets"),
    "telegram": ("telegram_secret_token", "telegram_secret_tokens"),
    "slack": ("slack_signing_secret", "slack_signing_secrets"),
}


class SecretsMisconfigured(ValueError):
    """A per-id secrets setting that cannot be parsed; the message names no secret."""


@dataclass(frozen=True)
class SecretSet:
    """The secrets one platform accepts: per bot / workspace id, plus one shared secret."""

    by_id: dict[str, str] = field(default_factory=dict)
    shared: str | None = None

    def __bool__(self) -> bool:
        return bool(self.by_id) or self.shared is not None

    def candidates(self, key: str | None = None) -> list[str]:
        """The secrets to try; only that id's secret when `key` names a configured id."""
        if key is not None and key in self.by_id:
            return [self.by_id[key]]
        everything = list(self.by_id.values())
        return [*everything, self.shared] if self.shared is not None else everything


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


ACCEPTED = Verdict(True)


def parse_secrets(shared: SecretStr | None, keyed: str, setting: str) -> SecretSet:
    """Read `MODSTREAM_*_SECRET` and the `id=secret,id2=secret2` list into one set."""
    by_id: dict[str, str] = {}
    for number, entry in enumerate(keyed.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        key, sep, secret = entry.partition("=")
        key, secret = key.strip(), secret.strip()
        if not sep or not key or not secret:
            raise SecretsMisconfigured(
                f"{setting}: entry {number} is not 'id=secret' (entries are comma-separated)"
            )
        by_id[key] = secret
    shared_value = shared.get_secret_value() if shared is not None else ""
    return SecretSet(by_id=by_id, shared=shared_value or None)


def secrets_for(platform: str, settings: Settings) -> SecretSet:
    single, keyed = _SETTINGS[platform]
    return parse_secrets(
        getattr(settings, single), getattr(settings, keyed), f"MODSTREAM_{keyed.upper()}"
    )


def _not_configured(platform: str) -> Verdict:
    single, keyed = _SETTINGS[platform]
    return Verdict(
        False,
        f"no {platform} secret is configured, so {platform} webhooks are refused: set "
        f"MODSTREAM_{single.upper()} or MODSTREAM_{keyed.upper()}",
    )


def lower_headers(headers: Headers) -> dict[str, str]:
    """Header names are case-insensitive on the wire; look them up lower-cased."""
    return {name.lower(): value for name, value in headers.items()}


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def verify_onebot(body: bytes, headers: Headers, secrets: SecretSet) -> Verdict:
    """X-Signature: sha1=<hex HMAC-SHA1 of the raw body>, keyed by the bot's secret."""
    if not secrets:
        return _not_configured("onebot")
    found = lower_headers(headers)
    signature = found.get("x-signature")
    if not signature:
        return Verdict(False, "X-Signature header is missing (set `secret` in the OneBot config)")
    match = _ONEBOT_SIGNATURE.fullmatch(signature.strip())
    if match is None:
        return Verdict(False, "X-Signature must look like 'sha1=<40 hex digits>'")
    given = _bytes(match.group(1).lower())
    self_id = found.get("x-self-id")
    for secret in secrets.candidates(self_id.strip() if self_id else None):
        expected = hmac.new(_bytes(secret), body, hashlib.sha1).hexdigest()
        if hmac.compare_digest(_bytes(expected), given):
            return ACCEPTED
    return Verdict(False, "X-Signature does not match the body for any configured OneBot secret")


def verify_telegram(headers: Headers, secrets: SecretSet) -> Verdict:
    """X-Telegram-Bot-Api-Secret-Token equals the secret_token given to setWebhook."""
    if not secrets:
        return _not_configured("telegram")
    token = lower_headers(headers).get("x-telegram-bot-api-secret-token")
    if not token:
        return Verdict(
            False,
            "X-Telegram-Bot-Api-Secret-Token header is missing (pass secret_token to setWebhook)",
        )
    given = _bytes(token)
    # Try every candidate, so the time taken does not say which bot's token matched.
    matched = False
    for secret in secrets.candidates():
        matched |= hmac.compare_digest(_bytes(secret), given)
    if matched:
        return ACCEPTED
    return Verdict(False, "X-Telegram-Bot-Api-Secret-Token matches no configured secret token")


def verify_slack(body: bytes, headers: Headers, secrets: SecretSet, now: datetime) -> Verdict:
    """Slack v0 signing: HMAC-SHA256 of "v0:{timestamp}:{body}", fresh within 5 minutes."""
    if not secrets:
        return _not_configured("slack")
    found = lower_headers(headers)
    timestamp = (found.get("x-slack-request-timestamp") or "").strip()
    signature = (found.get("x-slack-signature") or "").strip()
    if not timestamp or not signature:
        return Verdict(False, "X-Slack-Signature and X-Slack-Request-Timestamp are required")
    if not _SLACK_TIMESTAMP.fullmatch(timestamp):
        return Verdict(False, "X-Slack-Request-Timestamp must be whole epoch seconds")
    skew = abs(now.timestamp() - int(timestamp))
    if skew > SLACK_MAX_SKEW_S:
        return Verdict(
            False,
            f"X-Slack-Request-Timestamp is {int(skew)} s away from now, over the "
            f"{SLACK_MAX_SKEW_S} s replay window (a replay, or a wrong clock)",
        )
    match = _SLACK_SIGNATURE.fullmatch(signature)
    if match is None:
        return Verdict(False, "X-Slack-Signature must look like 'v0=<64 hex digits>'")
    given = _bytes(match.group(1).lower())
    base = b"v0:" + timestamp.encode() + b":" + body
    for secret in secrets.candidates():
        expected = hmac.new(_bytes(secret), base, hashlib.sha256).hexdigest()
        if hmac.compare_digest(_bytes(expected), given):
            return ACCEPTED
    return Verdict(
        False, "X-Slack-Signature does not match the body for any configured signing secret"
    )
