"""The walking skeleton end to end: HTTP in, through Kafka and all three services, HTTP out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support.events import raw_event, whole_rules
from tools.catchup import wait_caught_up

pytestmark = pytest.mark.integration

GROUP = "telegram:-100777"


def event(n: int, etype: str, user: str, at: str, **payload: Any) -> dict[str, Any]:
    return raw_event(f"e2e-{n}", etype, GROUP, user, at, payload, schema_version=1)


def ruleset(version: int, keywords: list[str]) -> dict[str, Any]:
    return raw_event(
        f"e2e-rules-v{version}",
        "ruleset.updated",
        GROUP,
        "admin-1",
        "2026-03-01T00:00:00Z",
        {"version": version, "rules": whole_rules(keywords)},
        schema_version=1,
    )


def msg(n: int, user: str, text: str, at: str) -> dict[str, Any]:
    return event(n, "message.posted", user, at, message_id=f"m{n}", text=text)


@pytest.fixture(scope="module")
def api(dev_stack: Any) -> dict[str, Any]:
    return {
        "ingest": httpx.Client(
            base_url=dev_stack.ingest_url,
            timeout=30,
            headers={"Authorization": f"Bearer {dev_stack.tokens.admin}"},
        ),
        "reporting": httpx.Client(
            base_url=dev_stack.reporting_url,
            timeout=30,
            headers={"Authorization": f"Bearer {dev_stack.tokens.admin}"},
        ),
        "stack": dev_stack,
    }


def day(api: dict[str, Any], date: str) -> dict[str, Any]:
    resp = api["reporting"].get(f"/v1/groups/{GROUP}/activity", params={"granularity": "day"})
    assert resp.status_code == 200, resp.text
    items = {i["period"]: i for i in resp.json()["items"]}
    return items[date]


def test_no_token_is_401(api: dict[str, Any]) -> None:
    stack = api["stack"]
    assert (
        httpx.post(
            f"{stack.ingest_url}/v1/events", json=msg(1, "u", "x", "2026-03-02T10:00:00Z")
        ).status_code
        == 401
    )
    assert httpx.get(f"{stack.reporting_url}/v1/groups/{GROUP}/activity").status_code == 401


def test_invalid_event_names_the_field(api: dict[str, Any]) -> None:
    bad = msg(2, "u1", "hi", "2026-03-02T10:00:00Z")
    del bad["payload"]["message_id"]
    resp = api["ingest"].post("/v1/events", json=[msg(3, "u1", "ok", "2026-03-02T10:00:00Z"), bad])
    assert resp.status_code == 422
    errors = resp.json()["errors"]
    assert errors[0]["index"] == 1
    assert "message_id" in errors[0]["error"]


@pytest.fixture(scope="module")
def flowed(api: dict[str, Any]) -> dict[str, Any]:
    """The stream both flow tests stand on: the group's rule set and six events, accepted,
    processed by every consumer, and the day's figures read right then (before any other
    test adds to them)."""
    ingest = api["ingest"]
    rules = ingest.post("/v1/events", json=ruleset(1, ["scamcoin"]))
    batch = [
        event(10, "member.joined", "alice", "2026-03-02T09:00:00Z"),
        event(11, "member.joined", "bob", "2026-03-02T09:05:00Z"),
        msg(12, "alice", "hello everyone", "2026-03-02T10:00:00Z"),
        msg(13, "bob", "buy ＳＣＡＭＣＯＩＮ now", "2026-03-02T10:01:00Z"),
        msg(14, "alice", "nice weather", "2026-03-02T11:00:00Z"),
        event(15, "member.left", "bob", "2026-03-02T12:00:00Z"),
    ]
    resp = ingest.post("/v1/events", json=batch)
    asyncio.run(wait_caught_up(api["stack"].settings, timeout=120))
    return {"rules": rules, "batch": resp, "day": day(api, "2026-03-02")}


def test_events_flow_to_decisions_and_projection(flowed: dict[str, Any]) -> None:
    assert flowed["rules"].status_code == 202
    resp = flowed["batch"]
    assert resp.status_code == 202, resp.text
    assert [r["status"] for r in resp.json()["results"]] == ["accepted"] * 6

    d = flowed["day"]
    assert (d["messages"], d["joins"], d["leaves"], d["active_users"]) == (3, 2, 1, 2)
    assert d["decisions"].get("warn", 0) >= 1  # bob's full-width keyword


def test_duplicate_changes_no_count_even_after_ingest_restart(
    api: dict[str, Any], flowed: dict[str, Any]
) -> None:
    stack = api["stack"]
    again = msg(12, "alice", "hello everyone", "2026-03-02T10:00:00Z")
    resp = api["ingest"].post("/v1/events", json=again)
    assert resp.json()["results"][0]["status"] == "duplicate"

    stack.stop_service("ingest")
    stack.start_service("ingest")
    stack.wait_ready()
    resp = api["ingest"].post(
        "/v1/events", json=[again, msg(20, "carol", "first post", "2026-03-02T13:00:00Z")]
    )
    assert [r["status"] for r in resp.json()["results"]] == ["duplicate", "accepted"]

    asyncio.run(wait_caught_up(stack.settings, timeout=120))
    d = day(api, "2026-03-02")
    assert d["messages"] == 4  # 3 of the flow + carol; the duplicate counted nowhere
