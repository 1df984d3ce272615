"""What the services write to their logs after auth failures, webhooks (good and forged)
and normal traffic: never a token secret, never a platform secret, and JSON lines that
say which service wrote them and, for event lines, which event and group."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.support.security import (
    GROUP_A,
    PLATFORM_SECRETS,
    SIGNERS,
    SecStack,
    fresh_body,
    message,
    sanction,
)
from tools.catchup import wait_caught_up

pytestmark = pytest.mark.integration

SERVICES = {"ingest", "moderation", "reporting"}
PROBE = "sec-probe-never-valid-" + "q" * 16


def exercise(sec: SecStack) -> None:
    t = sec.tokens
    with httpx.Client(timeout=30) as c:
        # auth failures: unknown token, malformed header, wrong role, out of scope
        for h in ({"Authorization": f"Bearer {PROBE}"}, {"Authorization": f"Basic {PROBE}"}, {}):
            c.post(f"{sec.ingest}/v1/events", json=message("lg-0", GROUP_A, "u", "x"), headers=h)
            c.get(f"{sec.reporting}/v1/groups", headers=h)
        c.post(
            f"{sec.ingest}/v1/events",
            json=message("lg-1", "telegram:-100222", "u", "x"),
            headers=t.platform.headers,
        )
        c.get(f"{sec.reporting}/v1/groups/telegram:-100222/activity", headers=t.auditor.headers)
        c.get(f"{sec.reporting}/v1/groups", headers=t.platform.headers)
        # webhooks signed right and wrong, with the secret in odd places
        for platform, (sign, secret) in SIGNERS.items():
            body = fresh_body(platform)
            c.post(f"{sec.ingest}/v1/webhooks/{platform}", content=body, headers=sign(body, secret))
            c.post(
                f"{sec.ingest}/v1/webhooks/{platform}",
                content=body,
                headers=sign(body, secret[::-1]),
            )
            c.post(
                f"{sec.ingest}/v1/webhooks/{platform}",
                content=secret.encode(),
                headers={"X-Telegram-Bot-Api-Secret-Token": secret + "x"},
            )
        # accepted traffic, so there are event lines to look at
        resp = c.post(
            f"{sec.ingest}/v1/events",
            json=[message(f"lg-msg-{i}", GROUP_A, "a-alice", "alphaspam!") for i in range(3)],
            headers=t.platform.headers,
        )
        assert resp.status_code == 202, resp.text
        # manual moderation is always logged, one line per event (platform traffic may
        # be logged at debug only)
        resp = c.post(
            f"{sec.ingest}/v1/events",
            json=[sanction(f"lg-ok-{i}", GROUP_A, "a-op", "warn", "operator") for i in range(3)],
            headers=t.operator.headers,
        )
        assert resp.status_code == 202, resp.text
    asyncio.run(wait_caught_up(sec.settings, timeout=120))


@pytest.fixture(scope="module")
def logs(sec: SecStack) -> dict[str, str]:
    exercise(sec)
    found = sec.log_text()
    assert {"ingest.log", "moderation-1.log", "reporting.log"} <= set(found), list(found)
    return found


def test_no_secret_in_any_log(sec: SecStack, logs: dict[str, str]) -> None:
    secrets = {t.name: t.secret for t in sec.tokens.all()}
    secrets |= {f"platform secret {i}": s for i, s in enumerate(PLATFORM_SECRETS)}
    secrets |= {f"reversed platform secret {i}": s[::-1] for i, s in enumerate(PLATFORM_SECRETS)}
    secrets["presented unknown token"] = PROBE
    leaks = [
        f"{what} in {name}"
        for name, text in logs.items()
        for what, secret in secrets.items()
        if secret in text
    ]
    assert not leaks, leaks


def parse_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line[:200]!r}")
        assert isinstance(record, dict), line
        out.append(record)
    return out


def test_logs_are_json_lines_naming_service_event_and_group(logs: dict[str, str]) -> None:
    event_lines = 0
    for name, text in logs.items():
        records = parse_lines(text)
        assert records, f"{name} is empty"
        service = name.split("-")[0].removesuffix(".log")
        for r in records:
            assert r.get("service") == service, (name, r)
            assert "event" in r and "level" in r and "timestamp" in r, (name, r)
            if r.get("event_id") is not None:
                event_lines += 1
                assert r.get("group_key"), (name, r)
    assert event_lines >= 3  # ingest logged each manual event with its id and group


def test_accepted_events_are_logged_with_actor_not_token(
    sec: SecStack, logs: dict[str, str]
) -> None:
    records = parse_lines(logs["ingest.log"])
    accepted = [r for r in records if str(r.get("event_id", "")).startswith("lg-ok-")]
    assert len(accepted) == 3
    for r in accepted:
        assert r["group_key"] == GROUP_A
        assert r["actor"] == sec.tokens.operator.name
        assert r["type"] == "sanction.applied"
