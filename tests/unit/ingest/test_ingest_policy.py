"""The ingest authorisation policy: who may post which event, without a server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.ingest.policy import (
    authorise_event,
    authorise_relay,
    authorise_relayed,
    out_of_scope,
)
from shared.codec import event_from_dict
from shared.events import Event
from shared.tokens import Principal
from tests.support.security import event as event_dict
from tests.support.security import message, ruleset, sanction

ROOT = Path(__file__).resolve().parents[3]
G = "telegram:-1001"
OTHER = "telegram:-2002"


def principal(role: str, *groups: str) -> Principal:
    return Principal(f"{role}-token", role, frozenset(groups or ("*",)))  # type: ignore[arg-type]


def make(raw: dict[str, Any]) -> Event:
    return event_from_dict({**raw, "received_at": "2026-03-02T10:00:00Z"})


def test_scope() -> None:
    assert out_of_scope(principal("platform", G), G) is None
    assert out_of_scope(principal("platform"), OTHER) is None  # "*"
    assert out_of_scope(principal("platform", G), OTHER) == (
        f"token 'platform-token' is not scoped to group {OTHER}"
    )


@pytest.mark.parametrize(
    ("role", "raw", "why"),
    [
        ("platform", message("m1", G, "u", "hi"), None),
        ("auditor", message("m1", G, "u", "hi"), "auditor tokens change nothing"),
        ("operator", ruleset("r1", G, 1, ["spam"]), "only admin tokens may change rule sets"),
        ("admin", ruleset("r1", G, 1, ["spam"]), None),
        (
            "platform",
            sanction("s1", G, "bob", "warn", "platform"),
            "sanction.applied needs an operator or admin token",
        ),
        ("operator", sanction("s2", G, "bob", "mute", "operator"), None),
        ("operator", sanction("s3", G, "bob", "ban", "operator"), "ban is admin-only"),
        ("admin", sanction("s4", G, "bob", "kick", "admin"), None),
        (
            "operator",
            sanction("s5", G, "bob", "warn", "admin"),
            "by_role 'admin' does not match the token's role 'operator'",
        ),
        (
            "platform",
            event_dict("c1", "complaint.resolved", G, "u", complaint_id="c1", outcome="upheld"),
            "complaint.resolved needs an operator or admin token",
        ),
    ],
)
def test_who_may_post_what(role: str, raw: dict[str, Any], why: str | None) -> None:
    assert authorise_event(principal(role), make(raw)) == why


def test_scope_comes_before_the_role_rules() -> None:
    scoped = principal("platform", OTHER)
    why = authorise_event(scoped, make(ruleset("r1", G, 1, ["spam"])))
    assert why == f"token 'platform-token' is not scoped to group {G}"
    # ...but an auditor is refused for being one, wherever it points
    assert authorise_event(principal("auditor", OTHER), make(message("m", G, "u", "x"))) == (
        "auditor tokens change nothing"
    )


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("platform", True), ("admin", True), ("operator", False), ("auditor", False)],
)
def test_discord_relays_need_a_platform_or_admin_token(role: str, allowed: bool) -> None:
    why = authorise_relay(principal(role))
    assert (why is None) is allowed
    if not allowed:
        assert why == "discord relays post with a platform token"


def test_a_relay_is_bound_to_its_groups() -> None:
    events = [make(message("m1", G, "u", "a")), make(message("m2", OTHER, "u", "b"))]
    assert authorise_relayed(principal("platform"), events) is None
    assert authorise_relayed(principal("platform", G), events) == (
        f"token 'platform-token' is not scoped to group {OTHER}"
    )
    assert authorise_relayed(principal("platform", G), []) is None


def test_the_policy_is_pure() -> None:
    """No I/O library and no adapter behind it (until pyproject's "pure cores" contract
    lists services.ingest.policy, this is what holds it to docs/architecture.md)."""
    probe = (
        "import sys, services.ingest.policy; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pymongo', 'aiokafka', 'faststream', 'httpx', 'fastapi', 'starlette', 'uvicorn'} "
        "or m in {'services.ingest.app', 'services.ingest.dedup', "
        "'services.ingest.publisher', 'services.ingest.rulesets'}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert run.stdout.strip() == "[]", run.stdout


@pytest.mark.parametrize("role", ["platform", "operator", "admin"])
def test_no_token_may_forge_the_enforcers_records(role: str) -> None:
    """enforcement.recorded says what was done on a platform: only the enforcer writes it."""
    record = event_dict(
        "e-forged",
        "enforcement.recorded",
        G,
        "42",
        decision_id="d-1",
        action="ban",
        outcome="executed",
    )
    why = authorise_event(principal(role), make(record))
    assert why is not None and "never through the API" in why
