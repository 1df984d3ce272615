"""Injection and abuse over real HTTP: MongoDB operators in every value that reaches a
query, `$`/dotted keys in event bodies, oversized bodies (declared, chunked, lying), and
the per-token rate limit. The answer is always a 4xx, never a 5xx, never another
group's data."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.security import (
    A_MARKERS,
    B_MARKERS,
    GROUP_A,
    MAX_BODY_BYTES,
    ONEBOT_SECRET,
    TELEGRAM_SECRET,
    SecStack,
    Token,
    fixture,
    message,
    onebot_sig,
    ruleset,
    start_stack,
    telegram_sig,
)

pytestmark = pytest.mark.integration

OPERATOR_VALUES = [
    '{"$gt": ""}',
    '{"$ne": null}',
    "$gt",
    "$where",
    "$where: sleep(1000)",
    "this.group_key != ''",
    "telegram:$where",
    "telegram:-100111'||'1'=='1",
    "telegram:-100111%00",
    "telegram:.*",
    "[$ne]",
    "a.b.$c",
]
GROUP_KEYS = [
    '{"$gt":""}',
    "$where",
    "telegram:$where",
    "$telegram:-100111",
    'telegram:{"$ne":1}',
    "telegram:-100111.$",
    "telegram:-100111/../-100222",
]
USER_KEYS = ['{"$ne": null}', "$ne", "telegram:$ne", 'telegram:{"$ne":""}', "$where"]


def route_templates(g: str) -> list[str]:
    return [
        f"/v1/groups/{g}/activity",
        f"/v1/groups/{g}/violations",
        f"/v1/groups/{g}/complaints",
        f"/v1/groups/{g}/operators",
        f"/v1/groups/{g}/spotchecks",
        f"/v1/reports/{g}/2026-03",
    ]


QUERY_PARAMS = {
    f"/v1/groups/{GROUP_A}/activity": ["granularity", "from", "to", "cursor", "limit"],
    f"/v1/groups/{GROUP_A}/violations": ["from", "to", "rule", "action", "limit", "offset"],
    f"/v1/groups/{GROUP_A}/complaints": ["status", "limit", "offset"],
    f"/v1/groups/{GROUP_A}/operators": ["month"],
    f"/v1/groups/{GROUP_A}/spotchecks": ["from", "to", "status"],
    f"/v1/reports/{GROUP_A}/2026-03": ["format"],
}


def no_other_group(text: str, where: str) -> None:
    leaked = [m for m in B_MARKERS if m in text]
    assert not leaked, f"{where}: another group's data {leaked}"


@pytest.fixture(scope="module")
def reporting(sec: SecStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sec.reporting, timeout=30) as client:
        yield client


def test_group_key_injection_is_refused(sec: SecStack, reporting: httpx.Client) -> None:
    """Even a '*' admin token: an operator-shaped key is a 4xx, and no key matches everything."""
    bad = []
    for token in (sec.tokens.admin_all, sec.tokens.admin):
        for key in GROUP_KEYS:
            for path in route_templates(quote(key, safe="")):
                resp = reporting.get(path, headers=token.headers)
                if resp.status_code >= 500 or (
                    resp.status_code < 400 and key.startswith(("$", "{"))
                ):
                    bad.append(f"{token.name} {path}: {resp.status_code}")
                if resp.status_code == 200:  # a well-shaped unknown key: an empty answer
                    text = resp.text.replace(json.dumps(key)[1:-1], "")  # minus the echo
                    no_other_group(text, path)
                    assert not any(m in text for m in A_MARKERS), (path, text[:300])
    assert not bad, "\n".join(bad)


def test_user_key_injection_is_refused(sec: SecStack, reporting: httpx.Client) -> None:
    for token in (sec.tokens.admin_all, sec.tokens.operator):
        for key in USER_KEYS:
            resp = reporting.get(f"/v1/users/{quote(key, safe='')}/history", headers=token.headers)
            assert 400 <= resp.status_code < 500 or resp.status_code == 200, (key, resp.text)
            if resp.status_code == 200:
                body = resp.json()
                assert not any(body[k] for k in ("groups", "decisions", "complaints")), key
            else:
                assert key.startswith(("$", "{")) or "$" in key


def test_query_param_injection_is_refused(sec: SecStack, reporting: httpx.Client) -> None:
    """Every query parameter, every operator-shaped value: 4xx; only the A-scoped answer."""
    h = sec.tokens.admin.headers
    bad = []
    tried = 0
    for path, params in QUERY_PARAMS.items():
        for param in params:
            for value in OPERATOR_VALUES:
                tried += 1
                resp = reporting.get(path, params={param: value}, headers=h)
                ok = 400 <= resp.status_code < 500
                if param == "rule" and not value.startswith(("$", "{")):
                    # a rule id is free text: one without spaces is looked up as a plain
                    # value and, naming no rule, matches no violation
                    ok = ok or (resp.status_code == 200 and resp.json()["items"] == [])
                if not ok:
                    bad.append(f"{path}?{param}={value!r}: {resp.status_code}")
                no_other_group(resp.text, f"{path}?{param}")
    assert tried > 150
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "query",
    [
        "status[$ne]=x",
        "status[$ne]=open&status=$ne",
        "from[$gt]=&to[$lt]=",
        "limit[$gt]=0",
        "group_key[$ne]=x",
        "granularity=day&granularity[$ne]=day",
        "status=open&status=%7B%22%24ne%22%3Anull%7D",
    ],
)
def test_array_style_params_change_nothing(
    sec: SecStack, reporting: httpx.Client, query: str
) -> None:
    """PHP/qs-style `name[$op]=` has no meaning here: ignored (the plain answer) or a 4xx."""
    h = sec.tokens.admin.headers
    for path in QUERY_PARAMS:
        resp = reporting.get(f"{path}?{query}", headers=h)
        assert resp.status_code < 500, (path, query, resp.text)
        if resp.status_code == 200:
            plain = reporting.get(path, headers=h)
            if "complaints" not in path:  # complaint ages move with the clock
                assert resp.text == plain.text, (path, query)
        no_other_group(resp.text, f"{path}?{query}")


def test_review_route_injection(sec: SecStack, reporting: httpx.Client) -> None:
    h = sec.tokens.admin.headers
    for event_id in ("$where", '{"$ne":null}', "$gt"):
        resp = reporting.post(
            f"/v1/groups/{GROUP_A}/spotchecks/{quote(event_id, safe='')}/review",
            json={"outcome": "ok"},
            headers=h,
        )
        assert 400 <= resp.status_code < 500, resp.text
    for body in (
        {"outcome": {"$ne": None}},
        {"outcome": "ok", "$set": {"x": 1}},
        {"outcome": "ok", "note": {"$gt": ""}},
    ):
        resp = reporting.post(
            f"/v1/groups/{GROUP_A}/spotchecks/sa-m02-0/review", json=body, headers=h
        )
        assert resp.status_code == 422, (body, resp.text)


# ---------------------------------------------------------------- event bodies


def bad_events() -> dict[str, Any]:
    base = message("inj-1", GROUP_A, "a-alice", "hello")
    rules = ruleset("inj-rules", GROUP_A, 90, ["x"])
    return {
        "$-key in payload": {**base, "payload": {**base["payload"], "$where": "1"}},
        "dotted key in payload": {**base, "payload": {**base["payload"], "a.b": 1}},
        "$-key in envelope": {**base, "$set": {"group_id": "-100222"}},
        "operator as group_id": {**base, "group_id": {"$gt": ""}},
        "operator as user_id": {**base, "user_id": {"$ne": None}},
        "operator as event_id": {**base, "event_id": {"$ne": None}},
        "$-event_id": {**base, "event_id": "$where"},
        "operator in mentions": {**base, "payload": {**base["payload"], "mentions": [{"$gt": ""}]}},
        "operator as text": {**base, "payload": {**base["payload"], "text": {"$regex": ".*"}}},
        "$-key in rules": {**rules, "payload": {"version": 90, "rules": {"$set": {"x": 1}}}},
        "nested $-key in rules": {
            **rules,
            "payload": {
                "version": 90,
                "rules": {**rules["payload"]["rules"], "detectors": {"d": {"$where": "1"}}},
            },
        },
        "dotted key in rules": {
            **rules,
            "payload": {"version": 90, "rules": {**rules["payload"]["rules"], "detectors.x": {}}},
        },
        "operator as type": {**base, "type": {"$ne": None}},
        "list as type": {**base, "type": ["message.posted"]},
        "string payload at v1": {**base, "schema_version": 1, "payload": "abc"},
        "list payload at v1": {**base, "schema_version": 1, "payload": [["a", "b"]]},
        "int attachments at v1": {
            **base,
            "schema_version": 1,
            "payload": {**base["payload"], "attachments": 5},
        },
    }


@pytest.mark.parametrize("name", list(bad_events()))
def test_event_fields_with_operators_are_422(sec: SecStack, name: str) -> None:
    body = bad_events()[name]
    before = sec.published()
    resp = httpx.post(
        f"{sec.ingest}/v1/events", json=body, headers=sec.tokens.admin_all.headers, timeout=30
    )
    assert resp.status_code == 422, resp.text
    assert sec.published() == before


def test_webhook_fields_with_operators_are_4xx(sec: SecStack) -> None:
    d = fixture("onebot_group_message_1")
    for field, value in (
        ("group_id", {"$gt": 0}),
        ("user_id", {"$ne": None}),
        ("message_id", "$x"),
    ):
        body = json.dumps({**d, field: value}).encode()
        resp = httpx.post(
            f"{sec.ingest}/v1/webhooks/onebot",
            content=body,
            headers=onebot_sig(body, ONEBOT_SECRET),
            timeout=30,
        )
        assert 400 <= resp.status_code < 500 or resp.status_code == 200, resp.text
        if resp.status_code in (200, 202):
            assert "$" not in resp.text.split("event_id")[-1][:80]
    t = fixture("telegram_group_message_1")
    t["message"]["chat"]["id"] = {"$gt": 0}
    resp = httpx.post(
        f"{sec.ingest}/v1/webhooks/telegram",
        json=t,
        headers=telegram_sig(b"", TELEGRAM_SECRET),
        timeout=30,
    )
    assert 400 <= resp.status_code < 500, resp.text


# ---------------------------------------------------------------- body size


def big_batch(size: int) -> bytes:
    text = "x" * 1000
    items = [message(f"big-{i}", GROUP_A, "a-alice", text) for i in range(size // 1100 + 2)]
    return json.dumps(items).encode()


@pytest.mark.parametrize(
    "path", ["/v1/events", "/v1/webhooks/onebot", "/v1/webhooks/slack", "/v1/webhooks/discord"]
)
def test_oversized_body_is_413(sec: SecStack, path: str) -> None:
    body = big_batch(MAX_BODY_BYTES + 10)
    before = sec.published()
    h = sec.tokens.admin_all.headers | {"Content-Type": "application/json"}
    declared = httpx.post(sec.ingest + path, content=body, headers=h, timeout=30)
    assert declared.status_code == 413, declared.text

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    chunked = httpx.post(sec.ingest + path, content=chunks(), headers=h, timeout=30)
    assert chunked.status_code == 413, chunked.text
    assert sec.published() == before


def raw_http(port: int, head: str, body: bytes) -> int:
    """Send bytes as they are (no client fixing up the framing); the status code read."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode() + body)
        data = b""
        while b"\r\n" not in data:
            part = s.recv(4096)
            if not part:
                break
            data += part
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def test_lying_content_length_never_sneaks_a_body_past_the_limit(sec: SecStack) -> None:
    port = sec.stack.ingest_port
    token = sec.tokens.admin_all.secret
    body = big_batch(MAX_BODY_BYTES * 2)
    before = sec.published()
    base = (
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n"
    )
    # declares little, sends a lot: only the declared bytes are read -> not JSON -> 4xx
    small = raw_http(port, base + "Content-Length: 20\r\n\r\n", body)
    assert 400 <= small < 500, small
    # chunked with no length at all
    framed = b"".join(
        f"{len(body[i : i + 4096]):x}\r\n".encode() + body[i : i + 4096] + b"\r\n"
        for i in range(0, len(body), 4096)
    )
    chunked = raw_http(port, base + "Transfer-Encoding: chunked\r\n\r\n", framed + b"0\r\n\r\n")
    assert chunked == 413, chunked
    # both headers (request smuggling shape): refused, never accepted
    both = raw_http(
        port,
        base + "Content-Length: 20\r\nTransfer-Encoding: chunked\r\n\r\n",
        framed + b"0\r\n\r\n",
    )
    assert both in (400, 413), both
    assert sec.published() == before


# ---------------------------------------------------------------- rate limit


@pytest.fixture(scope="module")
def limited(
    sec: SecStack, servers: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecStack]:
    """A second ingest on the same broker with 5 requests/minute per token."""
    stack = start_stack(
        servers,
        tmp_path_factory.mktemp("limited"),
        full=False,
        extra={"MODSTREAM_RATE_LIMIT_PER_MINUTE": "5"},
        settings=sec.settings,
    )
    try:
        yield stack
    finally:
        stack.stack.stop()


def test_rate_limit_is_429_with_retry_after_per_token(limited: SecStack) -> None:
    url = f"{limited.ingest}/v1/rulesets/{GROUP_A}"
    t = limited.tokens.operator
    statuses = [httpx.get(url, headers=t.headers, timeout=10).status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = httpx.get(url, headers=t.headers, timeout=10)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    posted = httpx.post(
        f"{limited.ingest}/v1/events",
        json=message("rl-1", GROUP_A, "a-alice", "hi"),
        headers=t.headers,
        timeout=10,
    )
    assert posted.status_code == 429 and "Retry-After" in posted.headers
    # another token has its own bucket
    other = limited.tokens.admin
    assert httpx.get(url, headers=other.headers, timeout=10).status_code == 200


def test_unknown_tokens_do_not_reach_the_limiter(limited: SecStack) -> None:
    """401 comes before the bucket: a stranger cannot drain a real token's allowance."""
    url = f"{limited.ingest}/v1/rulesets/{GROUP_A}"
    fake = Token("x", "admin", ("*",))
    assert {httpx.get(url, headers=fake.headers, timeout=10).status_code for _ in range(8)} == {401}
    assert httpx.get(url, headers=limited.tokens.auditor.headers, timeout=10).status_code == 200
