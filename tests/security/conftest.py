"""One security stack for the whole suite: ingest, moderation and reporting as real
processes, with group-scoped tokens, every platform secret set and a small body limit,
and two groups seeded with distinct data so a leak of one into the other is visible."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.security import (
    GROUP_A,
    GROUP_B,
    SHARED_USER,
    SecStack,
    event,
    message,
    ruleset,
    sanction,
    start_stack,
)
from tools.catchup import wait_caught_up


def seed_events(group: str, prefix: str, keyword: str, users: list[str]) -> list[dict[str, Any]]:
    """Joins, chatter on two days, one keyword hit by the shared user, one complaint."""
    out = [
        event(f"{prefix}-join-{u}", "member.joined", group, u, "2026-03-01T08:00:00Z")
        for u in [*users, SHARED_USER]
    ]
    for day in ("02", "03"):
        for n in range(6):
            user = users[n % len(users)]
            out.append(
                message(
                    f"{prefix}-m{day}-{n}",
                    group,
                    user,
                    f"hello from {user} number {n}",
                    f"2026-03-{day}T1{n}:00:00Z",
                )
            )
    out.append(
        message(f"{prefix}-spam", group, SHARED_USER, f"buy {keyword} now", "2026-03-02T11:30:00Z")
    )
    out.append(
        event(
            f"{prefix}-complaint",
            "complaint.filed",
            group,
            users[0],
            "2026-03-02T11:40:00Z",
            complaint_id=f"c{prefix[-1].upper()}1",
            target_user_id=SHARED_USER,
            target_message_id=f"{prefix}-spam",
            category="ads",
            reason=f"{SHARED_USER} advertises",
        )
    )
    return out


def seed(sec: SecStack) -> None:
    t = sec.tokens
    with httpx.Client(base_url=sec.ingest, timeout=30) as client:

        def post(token: Any, body: Any) -> None:
            resp = client.post("/v1/events", json=body, headers=token.headers)
            assert resp.status_code == 202, resp.text

        post(t.admin_all, [ruleset("a-rules-1", GROUP_A, 1, ["alphaspam"])])
        post(t.admin_all, [ruleset("b-rules-1", GROUP_B, 1, ["betaspam"])])
        post(t.platform_all, seed_events(GROUP_A, "sa", "alphaspam", ["a-alice", "a-bob"]))
        post(t.platform_all, seed_events(GROUP_B, "sb", "betaspam", ["b-carol", "b-dave"]))
        post(
            t.admin_all,
            [
                {**sanction("sA1", GROUP_A, "a-admin", "warn", "admin")},
                {**sanction("sB1", GROUP_B, "b-admin", "warn", "admin")},
                event(
                    "sa-resolve",
                    "complaint.resolved",
                    GROUP_A,
                    "a-admin",
                    "2026-03-02T13:00:00Z",
                    complaint_id="cA1",
                    outcome="upheld",
                    note="warned",
                ),
                event(
                    "sb-resolve",
                    "complaint.resolved",
                    GROUP_B,
                    "b-admin",
                    "2026-03-02T13:00:00Z",
                    complaint_id="cB1",
                    outcome="upheld",
                    note="warned",
                ),
            ],
        )
    asyncio.run(wait_caught_up(sec.settings, timeout=120))


@pytest.fixture(scope="session")
def sec(servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecStack]:
    stack = start_stack(servers, tmp_path_factory.mktemp("sec"))
    try:
        seed(stack)
        yield stack
    finally:
        stack.stack.stop()
