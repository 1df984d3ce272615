"""The token scope matrix over real HTTP: every reporting route x every role x a group in
and out of the token's scope, and what each role may post to ingest. A refused request
gets 401/403 and never another group's data; a refused post publishes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.security import (
    A_MARKERS,
    B_MARKERS,
    GROUP_A,
    GROUP_B,
    SHARED_USER,
    SecStack,
    Token,
    event,
    fixture,
    message,
    ruleset,
    sanction,
)

pytestmark = pytest.mark.integration

ROLES = ("none", "platform", "operator", "admin", "auditor")
READERS = ("operator", "admin", "auditor")
MONTH = "2026-03"


def group_routes(g: str) -> dict[str, tuple[str, ...]]:
    """Route -> the roles that may read it (for a group in scope)."""
    return {
        f"/v1/groups/{g}/activity?granularity=day": READERS,
        f"/v1/groups/{g}/activity?granularity=month": READERS,
        f"/v1/groups/{g}/violations": READERS,
        f"/v1/groups/{g}/complaints": READERS,
        f"/v1/groups/{g}/complaints?status=resolved": READERS,
        f"/v1/groups/{g}/operators": ("admin", "auditor"),
        f"/v1/groups/{g}/spotchecks?status=all": ("admin", "auditor"),
        f"/v1/reports/{g}/{MONTH}?format=json": READERS,
        f"/v1/reports/{g}/{MONTH}?format=md": READERS,
        f"/v1/reports/{g}/{MONTH}?format=html": READERS,
        f"/v1/reports/{g}/{MONTH}?format=csv": READERS,
    }


def headers(sec: SecStack, role: str) -> dict[str, str]:
    return {} if role == "none" else sec.tokens.by_role(role).headers


def expected(role: str, allowed: tuple[str, ...], in_scope: bool) -> int:
    if role == "none":
        return 401
    if role not in allowed or not in_scope:
        return 403
    return 200


def assert_no_b(body: str, where: str) -> None:
    leaked = [m for m in B_MARKERS if m in body]
    assert not leaked, f"{where}: group B data {leaked} in an answer to an A-scoped token"


@pytest.fixture(scope="module")
def client(sec: SecStack) -> httpx.Client:
    return httpx.Client(base_url=sec.reporting, timeout=30)


def test_seed_is_visible_to_a_star_token(sec: SecStack, client: httpx.Client) -> None:
    """The absence checks below mean something only if B's data is really there."""
    h = sec.tokens.admin_all.headers
    for g, markers in ((GROUP_A, A_MARKERS), (GROUP_B, B_MARKERS)):
        text = "".join(client.get(path, headers=h).text for path in group_routes(g))
        assert any(m in text for m in markers if m.startswith(("c", "-")))
        viol = client.get(f"/v1/groups/{g}/violations", headers=h).json()
        assert viol["counts"]["total"] >= 1, viol
    history = client.get(f"/v1/users/telegram:{SHARED_USER}/history", headers=h).text
    assert "-100111" in history and "-100222" in history


@pytest.mark.parametrize("role", ROLES)
def test_group_routes_matrix(sec: SecStack, client: httpx.Client, role: str) -> None:
    failures = []
    for g, in_scope in ((GROUP_A, True), (GROUP_B, False)):
        for path, allowed in group_routes(g).items():
            resp = client.get(path, headers=headers(sec, role))
            want = expected(role, allowed, in_scope)
            if resp.status_code != want:
                failures.append(f"{role} GET {path}: {resp.status_code} (want {want})")
            if resp.status_code == 200:
                assert_no_b(resp.text, f"{role} GET {path}")
            elif resp.status_code in (401, 403):
                assert_no_b(resp.text.replace(GROUP_B, ""), f"{role} GET {path} error")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_group_list_and_user_history(sec: SecStack, client: httpx.Client, role: str) -> None:
    h = headers(sec, role)
    want = expected(role, READERS, True)
    groups = client.get("/v1/groups", headers=h)
    assert groups.status_code == want, groups.text
    for user in (SHARED_USER, "b-carol", "a-alice"):
        resp = client.get(f"/v1/users/telegram:{user}/history", headers=h)
        assert resp.status_code == want, resp.text
        if want == 200:
            body = resp.json()
            assert body.pop("user_key") == f"telegram:{user}"
            assert_no_b(json.dumps(body), f"{role} history of {user}")
            if user == "b-carol":  # active in B only: to an A token, an empty trail
                assert not any(body[k] for k in ("groups", "decisions", "complaints"))
    if want == 200:
        assert [g["group_key"] for g in groups.json()["items"]] == [GROUP_A]
        history = client.get(f"/v1/users/telegram:{SHARED_USER}/history", headers=h).text
        assert "-100111" in history  # the shared user's trail in A is there, B's is not


@pytest.mark.parametrize("role", ROLES)
def test_spotcheck_review_admin_only(sec: SecStack, client: httpx.Client, role: str) -> None:
    star = sec.tokens.admin_all.headers
    for g, in_scope in ((GROUP_A, True), (GROUP_B, False)):
        queue = client.get(f"/v1/groups/{g}/spotchecks?status=all", headers=star).json()
        assert queue["items"], f"no spot-check sample in {g}"
        event_id = queue["items"][0]["event_id"]
        resp = client.post(
            f"/v1/groups/{g}/spotchecks/{event_id}/review",
            json={"outcome": "ok", "note": f"by {role}"},
            headers=headers(sec, role),
        )
        assert resp.status_code == expected(role, ("admin",), in_scope), resp.text
        after = client.get(f"/v1/groups/{g}/spotchecks?status=all", headers=star).json()
        reviewed = {i["event_id"]: i for i in after["items"]}[event_id]
        notes = json.dumps(reviewed)
        assert (f"by {role}" in notes) == (resp.status_code == 200)


# ---------------------------------------------------------------- ingest


def post(sec: SecStack, token: Token | None, body: Any) -> httpx.Response:
    h = token.headers if token else {}
    return httpx.post(f"{sec.ingest}/v1/events", json=body, headers=h, timeout=30)


def refused_and_unpublished(sec: SecStack, token: Token | None, body: Any, status: int) -> str:
    before = sec.published()
    resp = post(sec, token, body)
    assert resp.status_code == status, resp.text
    assert sec.published() == before, "a refused request published events"
    return str(resp.json()["detail"])


def test_no_token_or_unknown_token_posts_nothing(sec: SecStack) -> None:
    body = message("nt-1", GROUP_A, "u", "hi")
    refused_and_unpublished(sec, None, body, 401)
    fake = Token("fake", "admin", ("*",))
    refused_and_unpublished(sec, fake, body, 401)


def test_platform_posts_messages_not_sanctions_or_rules(sec: SecStack) -> None:
    t = sec.tokens.platform
    assert post(sec, t, message("pl-1", GROUP_A, "a-alice", "hi")).status_code == 202
    for action in ("warn", "mute", "kick", "ban"):
        body = sanction(f"pl-s-{action}", GROUP_A, "a-bot", action, "platform")
        refused_and_unpublished(sec, t, body, 403)
    refused_and_unpublished(sec, t, ruleset("pl-rules", GROUP_A, 50, ["x"]), 403)


def test_operator_warns_and_mutes_but_cannot_kick_ban_or_change_rules(sec: SecStack) -> None:
    t = sec.tokens.operator
    for action in ("warn", "mute", "remove_message"):
        body = sanction(f"op-s-{action}", GROUP_A, "a-op", action, "operator")
        assert post(sec, t, body).status_code == 202, action
    for action in ("kick", "ban"):
        detail = refused_and_unpublished(
            sec, t, sanction(f"op-s-{action}", GROUP_A, "a-op", action, "operator"), 403
        )
        assert "admin-only" in detail
    # claiming the admin role in the payload does not help
    refused_and_unpublished(sec, t, sanction("op-s-lie", GROUP_A, "a-op", "ban", "admin"), 403)
    refused_and_unpublished(sec, t, ruleset("op-rules", GROUP_A, 60, ["x"]), 403)


def test_admin_kicks_bans_and_changes_rules(sec: SecStack) -> None:
    t = sec.tokens.admin
    for action in ("kick", "ban"):
        body = sanction(f"ad-s-{action}", GROUP_A, "a-admin", action, "admin")
        assert post(sec, t, body).status_code == 202, action
    assert post(sec, t, ruleset("ad-rules-2", GROUP_A, 2, ["alphaspam"])).status_code == 202


def test_auditor_posts_nothing(sec: SecStack) -> None:
    t = sec.tokens.auditor
    for body in (
        message("au-1", GROUP_A, "a-alice", "hi"),
        event("au-2", "member.joined", GROUP_A, "x"),
        sanction("au-3", GROUP_A, "aud", "warn", "auditor"),
        ruleset("au-4", GROUP_A, 70, ["x"]),
    ):
        refused_and_unpublished(sec, t, body, 403)


@pytest.mark.parametrize("role", ("platform", "operator", "admin"))
def test_events_outside_scope_are_refused_whole(sec: SecStack, role: str) -> None:
    """One event of group B in a batch refuses the batch: not even A's event goes out."""
    t = sec.tokens.by_role(role)
    by_role = role if role != "platform" else "operator"
    bodies = [
        message(f"os-{role}-1", GROUP_B, "b-carol", "hi"),
        [
            message(f"os-{role}-2", GROUP_A, "a-alice", "ok"),
            message(f"os-{role}-3", GROUP_B, "x", "no"),
        ],
        sanction(f"os-{role}-4", GROUP_B, "x", "warn", by_role),
        ruleset(f"os-{role}-5", GROUP_B, 80, ["x"]),
    ]
    for body in bodies:
        refused_and_unpublished(sec, t, body, 403)
    # the refused A event was not remembered as seen either: posting it alone is fresh
    resp = post(sec, t, message(f"os-{role}-2", GROUP_A, "a-alice", "ok"))
    assert resp.json()["results"][0]["status"] == "accepted"


def test_ruleset_version_read_is_scoped(sec: SecStack) -> None:
    for role in ("platform", "operator", "admin", "auditor"):
        h = sec.tokens.by_role(role).headers
        ok = httpx.get(f"{sec.ingest}/v1/rulesets/{GROUP_A}", headers=h, timeout=10)
        assert ok.status_code == 200
        out = httpx.get(f"{sec.ingest}/v1/rulesets/{GROUP_B}", headers=h, timeout=10)
        assert out.status_code == 403 and "version" not in out.json()


def test_discord_relay_is_scoped(sec: SecStack) -> None:
    """The Discord relay authenticates with a token; its scope must hold there too."""
    body = fixture("discord_message_create_1")

    def relay(token: Token) -> httpx.Response:
        return httpx.post(
            f"{sec.ingest}/v1/webhooks/discord", json=body, headers=token.headers, timeout=30
        )

    before = sec.published()
    resp = relay(sec.tokens.platform)
    assert resp.status_code == 403, resp.text
    assert sec.published() == before
    resp = relay(sec.tokens.operator)
    assert resp.status_code == 403
    resp = relay(sec.tokens.platform_all)
    assert resp.status_code == 202, resp.text
