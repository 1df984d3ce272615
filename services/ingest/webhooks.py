"""One native webhook request -> what the route should answer, and the events to publish.

Pure: the route hands in the raw body, the headers, the settings and the time; nothing
here touches the network, the broker or the clock. The steps run in a fixed order, so a
request that fails two of them always gets the same answer: verify the raw bytes, parse
JSON, map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from services.ingest.platforms import MAPPERS
from services.ingest.platforms.base import Unmappable
from services.ingest.platforms.signatures import (
    SecretsMisconfigured,
    Verdict,
    secrets_for,
    verify_onebot,
    verify_slack,
    verify_telegram,
)
from shared.events import Event
from shared.json_limits import JSONRejected, parse_json
from shared.keys import WEBHOOK_PLATFORMS
from shared.settings import Settings

Status = Literal["ok", "ignored", "unauthorized", "bad_request", "unmappable"]


@dataclass(frozen=True)
class WebhookOutcome:
    """`ok` carries events, or a `challenge` to echo (Slack url_verification) and none.

    `reason` explains every other status in words safe to return to the caller.
    """

    status: Status
    events: list[Event] = field(default_factory=list)
    reason: str | None = None
    challenge: str | None = None


def handle_webhook(
    platform: str,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    now: datetime,
) -> WebhookOutcome:
    """Verify, parse and map one webhook. `now` (timezone-aware) is also received_at.

    Discord has no signature: the route must already have authenticated the relay's
    platform token before calling this.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # a naive clock reading is taken to be UTC
    if platform not in WEBHOOK_PLATFORMS:
        return WebhookOutcome(
            "bad_request",
            reason=f"unknown platform {platform[:40]!r}: {', '.join(WEBHOOK_PLATFORMS)}",
        )
    verdict = _verify(platform, body, headers, settings, now)
    if not verdict.ok:
        return WebhookOutcome("unauthorized", reason=verdict.reason)
    parsed = _parse(body)
    if isinstance(parsed, WebhookOutcome):
        return parsed
    try:
        mapping = MAPPERS[platform](parsed, now)
    except Unmappable as err:
        return WebhookOutcome("unmappable", reason=err.reason)
    if mapping.challenge is not None:
        return WebhookOutcome("ok", challenge=mapping.challenge)
    if not mapping.events:
        return WebhookOutcome("ignored", reason=mapping.ignored or "nothing to map")
    return WebhookOutcome("ok", events=list(mapping.events))


def _verify(
    platform: str, body: bytes, headers: Mapping[str, str], settings: Settings, now: datetime
) -> Verdict:
    if platform == "discord":
        return Verdict(True)
    try:
        secrets = secrets_for(platform, settings)
    except SecretsMisconfigured as err:
        return Verdict(False, f"server misconfigured: {err}")
    if platform == "onebot":
        return verify_onebot(body, headers, secrets)
    if platform == "telegram":
        return verify_telegram(headers, secrets)
    return verify_slack(body, headers, secrets, now)


def _parse(body: bytes) -> dict[str, Any] | WebhookOutcome:
    """The body as a JSON object, within the limits of shared.json_limits.parse_json (the
    same as `POST /v1/events`: depth, number size, no NaN/Infinity, UTF-8 only)."""
    try:
        parsed = parse_json(body)
    except JSONRejected as err:
        return WebhookOutcome("bad_request", reason=err.reason)
    if not isinstance(parsed, dict):
        kind = "an array" if isinstance(parsed, list) else "a scalar"
        return WebhookOutcome(
            "bad_request", reason=f"expected a JSON object at the top level, got {kind}"
        )
    return parsed
