"""No 5xx for any input: bad bodies, bad parameters and bad dates on both HTTP edges.

Over real HTTP against ingest, moderation and reporting as processes (their own stack,
with the default 1 MiB body limit so a 100,000-deep body reaches the parser instead of
the size limit). Every case is a request a user or an attacker could send; each must be
answered with a 4xx whose body names the problem (a fragment of it is asserted), none may
be a 5xx, none may publish anything, and both services answer /healthz and /readyz after
all of them. Webhook bodies are correctly signed, so they reach the JSON parser rather
than stopping at the signature check. A hypothesis run then sends generated variations
of the same kinds of input (schemathesis in tests/fuzz covers the OpenAPI-described
shapes; this covers what lies outside them: non-JSON bytes, wrong types, huge numbers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.security import (
    GROUP_A,
    ONEBOT_SECRET,
    SLACK_SECRET,
    TELEGRAM_SECRET,
    SecStack,
    fixture,
    message,
    onebot_sig,
    slack_sig,
    start_stack,
    telegram_sig,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

BODY_LIMIT = 1_048_576
DEEP = 100_000
ACTIVITY = f"/v1/groups/{GROUP_A}/activity"


@dataclass(frozen=True)
class Bad:
    """One bad request and what its answer must say."""

    name: str
    service: str  # "ingest" or "reporting"
    method: str
    path: str
    status: tuple[int, ...]
    says: str  # a fragment the answer's body holds (case-insensitive)
    body: bytes | None = None
    # "admin", "platform", "auditor", "none", "bogus", or "sign:<platform>" (a webhook
    # signed with its secret at send time: Slack's signature carries a fresh timestamp)
    auth: str = "admin"
    headers: dict[str, str] = field(default_factory=dict)


def event(**changes: Any) -> dict[str, Any]:
    """A valid message event with some fields replaced (or dropped, with None as value)."""
    base = message("bad-input-1", GROUP_A, "u1", "hello", "2026-03-02T10:00:00Z")
    payload_changes = changes.pop("payload_changes", None)
    out = {**base, **changes}
    if payload_changes is not None:
        out["payload"] = {**base["payload"], **payload_changes}
    return out


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def deep_array(n: int) -> bytes:
    return b"[" * n + b"]" * n


def deep_object(n: int) -> bytes:
    return b'{"a":' * n + b"1" + b"}" * n


def with_raw(field_name: str, raw: bytes) -> bytes:
    """A valid event with one payload field's value replaced by raw JSON text."""
    body = js(event(payload_changes={field_name: "__RAW__"}))
    return body.replace(b'"__RAW__"', raw)


# ---------------------------------------------------------------- ingest: POST /v1/events

# (name, raw JSON text of a value) refused by the JSON parser itself: 400
NUMBER_AND_DEPTH = [
    ("100k-deep array nesting", deep_array(DEEP), "nested too deeply"),
    ("100k-deep object nesting", deep_object(DEEP), "nested too deeply"),
    ("65-deep nesting", deep_array(65), "deeper than 64 levels"),
    ("NaN", with_raw("text", b"NaN"), "constant NaN"),
    ("Infinity", with_raw("text", b"Infinity"), "constant Infinity"),
    ("-Infinity", with_raw("text", b"-Infinity"), "constant -Infinity"),
    ("5,000-digit integer", with_raw("text", b"9" * 5000), "more than 40 digits"),
    ("5,000-digit negative integer", with_raw("text", b"-" + b"1" * 5000), "more than 40 digits"),
    ("41-digit integer", with_raw("text", b"1" * 41), "more than 40 digits"),
    ("integer over 2**63", with_raw("text", str(2**63).encode()), "64-bit"),
    ("integer under -2**63", with_raw("text", str(-(2**63) - 1).encode()), "64-bit"),
    ("float 1e999", with_raw("text", b"1e999"), "out of range"),
    ("float -1e999", with_raw("text", b"-1e999"), "out of range"),
    ("float of 60 digits", with_raw("text", b"1." + b"0" * 59), "more than 40 digits"),
    (
        "NaN as schema_version",
        js(event()).replace(b'"schema_version": 2', b'"schema_version": NaN'),
        "NaN",
    ),
]

# (name, event, fragment) that parse but are not events: 422
NOT_EVENTS: list[tuple[str, Any, str]] = [
    (
        "occurred_at 0001-01-01T00:00:00+14:00",
        event(occurred_at="0001-01-01T00:00:00+14:00"),
        "occurred_at",
    ),
    ("occurred_at in year 9999", event(occurred_at="9999-12-31T23:59:59Z"), "occurred_at"),
    ("occurred_at in 1999", event(occurred_at="1999-12-31T23:59:59Z"), "occurred_at"),
    ("occurred_at as epoch 5 (1970)", event(occurred_at=5), "occurred_at"),
    ("occurred_at as a word", event(occurred_at="yesterday"), "occurred_at"),
    ("occurred_at month 13", event(occurred_at="2026-13-01T00:00:00Z"), "occurred_at"),
    ("occurred_at February 30", event(occurred_at="2026-02-30T10:00:00Z"), "occurred_at"),
    ("occurred_at without a zone", event(occurred_at="2026-03-02T10:00:00"), "time zone"),
    ("occurred_at empty", event(occurred_at=""), "occurred_at"),
    ("event_id a number", event(event_id=5), "event_id"),
    ("event_id a list", event(event_id=["a"]), "event_id"),
    ("event_id null", event(event_id=None), "event_id"),
    ("event_id an object", event(event_id={"$gt": ""}), "event_id"),
    ("event_id with a space", event(event_id="a b"), "event_id"),
    ("event_id of 300 characters", event(event_id="x" * 300), "event_id"),
    ("event_id with a no-break space", event(event_id="\u00a0x"), "event_id"),
    ("event_id with a line separator", event(event_id="a\u2028b"), "event_id"),
    ("type a number", event(type=5), "unknown event type"),
    ("type a list", event(type=["message.posted"]), "unknown event type"),
    ("type unknown", event(type="message.exploded"), "unknown event type"),
    ("schema_version a string", event(schema_version="2"), "schema_version"),
    ("schema_version a float", event(schema_version=2.5), "schema_version"),
    ("schema_version negative", event(schema_version=-1), "schema_version"),
    ("schema_version 99", event(schema_version=99), "schema_version"),
    ("platform unknown", event(platform="irc"), "platform"),
    ("platform a number", event(platform=1), "platform"),
    ("group_id empty", event(group_id=""), "group_id"),
    ("group_id an object", event(group_id={"$ne": None}), "group_id"),
    ("group_id of 300 emoji", event(group_id="\U0001f600" * 300), "group_id"),
    ("user_id of 300 characters", event(user_id="u" * 300), "user_id"),
    ("user_id a bool", event(user_id=True), "user_id"),
    ("payload a list", event(payload=[]), "payload"),
    ("payload a string", event(payload="hello"), "payload"),
    ("payload null", event(payload=None), "payload"),
    ("text a number", event(payload_changes={"text": 5}), "text"),
    ("text of 70,000 characters", event(payload_changes={"text": "x" * 70_000}), "text"),
    ("text with a lone surrogate", event(payload_changes={"text": "\ud800"}), "surrogate"),
    ("user_id with a lone low surrogate", event(user_id="u\udfff"), "surrogate"),
    # the 422 quotes the event_id back: it used to fail to encode (a 500)
    ("event_id that is a lone surrogate", event(event_id="\ud800"), "surrogate"),
    ("mentions a string", event(payload_changes={"mentions": "@all"}), "mentions"),
    ("message_id missing", {**event(), "payload": {"text": "x"}}, "message_id"),
    ("an extra envelope key", event(bogus=1), "bogus"),
    ("a JSON string", "hello", "JSON object"),
    ("a JSON number", 5, "JSON object"),
    ("JSON null", None, "JSON object"),
    ("JSON true", True, "JSON object"),
    ("an empty array", [], "empty array"),
    (
        "a batch holding one bad event",
        [event(event_id="bad-input-ok"), event(type=7)],
        "none accepted",
    ),
    ("a batch of junk", [1, "x", None], "JSON object"),
]

UNREADABLE: list[tuple[str, bytes, str]] = [
    ("an empty body", b"", "empty body"),
    ("a body of blanks", b" \r\n\t ", "empty body"),
    ("invalid UTF-8 0xff", b'{"event_id": "\xff"}', "not UTF-8"),
    ("invalid UTF-8 continuation", b'{"a": "\xc3\x28"}', "not UTF-8"),
    ("overlong UTF-8", b'{"a": "\xc0\xaf"}', "not UTF-8"),
    ("UTF-8-encoded surrogate", b'{"a": "\xed\xa0\x80"}', "not UTF-8"),
    ("UTF-16 with a BOM", json.dumps(event()).encode("utf-16"), "not UTF-8"),
    ("Latin-1 text", '{"a": "café"}'.encode("latin-1"), "not UTF-8"),
    ("random binary", bytes(range(256)) * 4, "not UTF-8"),
    ("a trailing comma", b'{"event_id": "x",}', "malformed JSON"),
    ("single quotes", b"{'event_id': 'x'}", "malformed JSON"),
    ("an unquoted key", b"{event_id: 1}", "malformed JSON"),
    ("a comment", b'{"a": 1 /* c */}', "malformed JSON"),
    ("truncated", js(event())[:-7], "malformed JSON"),
    ("two values", b"{} {}", "malformed JSON"),
    ("a bare word", b"tru", "malformed JSON"),
    ("XML", b"<event><id>1</id></event>", "malformed JSON"),
    ("form encoding", b"event_id=1&type=x", "malformed JSON"),
]

CONTENT_TYPES = [
    "text/plain",
    "text/html",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/octet-stream",
    "image/png",
]


def ingest_cases() -> list[Bad]:
    cases = [
        Bad(f"events: {name}", "ingest", "POST", "/v1/events", (400,), says, body)
        for name, body, says in NUMBER_AND_DEPTH
    ]
    cases += [
        Bad(f"events: {name}", "ingest", "POST", "/v1/events", (422,), says, js(value))
        for name, value, says in NOT_EVENTS
    ]
    cases += [
        Bad(f"events: {name}", "ingest", "POST", "/v1/events", (400,), says, body)
        for name, body, says in UNREADABLE
    ]
    cases += [
        Bad(
            f"events: Content-Type {ctype}",
            "ingest",
            "POST",
            "/v1/events",
            (415,),
            "Content-Type must be application/json",
            js(event()),
            headers={"Content-Type": ctype},
        )
        for ctype in CONTENT_TYPES
    ]
    cases += [
        Bad("events: 5,001 events", "ingest", "POST", "/v1/events", (413,), "at most 5000", js([{}] * 5001)),
        Bad("events: a body over 1 MiB", "ingest", "POST", "/v1/events", (413,), "limit",
            js([event(payload_changes={"text": "x" * 60_000})] * 18)),
        Bad("events: no token", "ingest", "POST", "/v1/events", (401,), "token", js(event()), auth="none"),
        Bad("events: an unknown token", "ingest", "POST", "/v1/events", (401,), "token", js(event()), auth="bogus"),
        Bad("events: an auditor posting", "ingest", "POST", "/v1/events", (403,), "auditor", js(event()), auth="auditor"),
        Bad("rulesets: a $ group key", "ingest", "GET", "/v1/rulesets/$where", (403,), "not scoped", auth="auditor"),
    ]  # fmt: skip
    return cases


# ---------------------------------------------------------------- ingest: webhooks

WEBHOOK_BODIES: list[tuple[str, bytes, int, str]] = [
    ("100k-deep nesting", deep_array(DEEP), 400, "nested too deeply"),
    ("100k-deep objects", deep_object(DEEP), 400, "nested too deeply"),
    ("NaN", b'{"post_type": NaN}', 400, "constant NaN"),
    ("Infinity", b'{"update_id": Infinity}', 400, "constant Infinity"),
    ("-Infinity", b'{"update_id": -Infinity}', 400, "constant -Infinity"),
    ("5,000-digit integer", b'{"update_id": ' + b"9" * 5000 + b"}", 400, "more than 40 digits"),
    ("integer over 2**63", b'{"update_id": 9223372036854775808}', 400, "64-bit"),
    ("float 1e999", b'{"update_id": 1e999}', 400, "out of range"),
    ("invalid UTF-8", b'{"a": "\xff\xfe"}', 400, "not UTF-8"),
    ("UTF-16", '{"a": 1}'.encode("utf-16"), 400, "not UTF-8"),
    ("an empty body", b"", 400, "empty body"),
    ("a top-level array", b"[1, 2]", 400, "JSON object"),
    ("a top-level string", b'"hello"', 400, "JSON object"),
    ("malformed JSON", b'{"post_type": }', 400, "malformed JSON"),
    ("form encoding", b"payload=%7B%7D", 400, "malformed JSON"),
]


def webhook_cases() -> list[Bad]:
    cases: list[Bad] = []
    for platform in ("onebot", "telegram", "slack", "discord"):
        path = f"/v1/webhooks/{platform}"
        auth = "platform" if platform == "discord" else f"sign:{platform}"
        cases += [
            Bad(f"webhook {platform}: {name}", "ingest", "POST", path, (status,), says, body, auth)
            for name, body, status, says in WEBHOOK_BODIES
        ]
        cases.append(
            Bad(
                f"webhook {platform}: Content-Type text/plain",
                "ingest",
                "POST",
                path,
                (415,),
                "Content-Type",
                b"{}",
                auth,
                headers={"Content-Type": "text/plain"},
            )
        )
        cases.append(
            Bad(
                f"webhook {platform}: over 1 MiB",
                "ingest",
                "POST",
                path,
                (413,),
                "limit",
                b'{"a": "' + b"x" * (BODY_LIMIT + 10) + b'"}',
                auth,
            )
        )
        unsigned_says = {
            "onebot": "X-Signature header is missing",
            "telegram": "X-Telegram-Bot-Api-Secret-Token",
            "slack": "X-Slack-Signature and X-Slack-Request-Timestamp are required",
            "discord": "missing bearer token",
        }[platform]
        cases.append(
            Bad(
                f"webhook {platform}: unsigned",
                "ingest",
                "POST",
                path,
                (401,),
                unsigned_says,
                b"{}",
                "none",
            )
        )
    onebot = fixture("onebot_group_message_1")
    cases += [
        Bad("webhook irc: unknown platform", "ingest", "POST", "/v1/webhooks/irc", (404,), "unknown platform", b"{}", "none"),
        Bad("webhook onebot: group_id a list", "ingest", "POST", "/v1/webhooks/onebot", (422,), "cannot be mapped",
            js({**onebot, "group_id": [1]}), "sign:onebot"),
        Bad("webhook onebot: no group_id", "ingest", "POST", "/v1/webhooks/onebot", (422,), "group_id",
            js({k: v for k, v in onebot.items() if k != "group_id"}), "sign:onebot"),
    ]  # fmt: skip
    return cases


# ---------------------------------------------------------------- reporting

BAD_DAYS = [
    ("0001-01-01", "between 2000-01-01"),
    ("9999-12-31", "between 2000-01-01"),
    ("1999-12-31", "between 2000-01-01"),
    ("2101-01-01", "between 2000-01-01"),
    ("0000-01-01", "YYYY-MM-DD"),
    ("2026-13-01", "YYYY-MM-DD"),
    ("2026-02-30", "YYYY-MM-DD"),
    ("2026-00-10", "YYYY-MM-DD"),
    ("2026-1-1", "YYYY-MM-DD"),
    ("20260101", "YYYY-MM-DD"),
    ("yesterday", "YYYY-MM-DD"),
    ("2026-03-01T00:00:00Z", "YYYY-MM-DD"),
    ("%ff%fe", "YYYY-MM-DD"),
    ("\u0662\u0660\u0662\u0666-01-01", "YYYY-MM-DD"),  # Arabic-Indic digits
    ("x" * 6000, "YYYY-MM-DD"),
]
BAD_MONTHS = [
    ("9999-12", "between 2000-01 and 2100-12"),
    ("0000-01", "between 2000-01 and 2100-12"),
    ("0001-01", "between 2000-01 and 2100-12"),
    ("1999-12", "between 2000-01 and 2100-12"),
    ("2101-01", "between 2000-01 and 2100-12"),
    ("2026-13", "YYYY-MM"),
    ("2026-00", "YYYY-MM"),
    ("2026-1", "YYYY-MM"),
    ("26-01", "YYYY-MM"),
    ("abcd-ef", "YYYY-MM"),
    ("2026-01-01", "YYYY-MM"),
    ("m" * 5000, "YYYY-MM"),
    ("\u0662\u0660\u0662\u0666-01", "YYYY-MM"),  # Arabic-Indic digits
]
BAD_LIMITS = [
    ("-1", "limit must be between"),
    ("0", "limit must be between"),
    ("1001", "limit must be between"),
    ("abc", "limit"),
    ("1.5", "limit"),
    ("1e3", "limit"),
    ("9" * 5000, "limit"),
]


def q(path: str, **params: str) -> str:
    return path + "?" + "&".join(f"{k}={quote(v, safe='%')}" for k, v in params.items())


def reporting_cases() -> list[Bad]:
    g = GROUP_A
    get: Callable[..., Bad] = lambda name, path, says, status=(422,): Bad(  # noqa: E731
        name, "reporting", "GET", path, status, says
    )
    cases = [
        get("activity day 0001-01-01..9999-12-31", q(ACTIVITY, **{"from": "0001-01-01", "to": "9999-12-31"}), "from must be a date between"),
        get("activity week 0001-01-01..9999-12-31", q(ACTIVITY, granularity="week", **{"from": "0001-01-01", "to": "9999-12-31"}), "from must be a date between"),
        get("activity month 0001-01-01..9999-12-31", q(ACTIVITY, granularity="month", **{"from": "0001-01-01", "to": "9999-12-31"}), "from must be a date between"),
        get("activity week to=9999-12-31", q(ACTIVITY, granularity="week", to="9999-12-31"), "to must be a date between"),
        get("activity week from=0001-01-01", q(ACTIVITY, granularity="week", **{"from": "0001-01-01"}), "from must be a date between"),
        get("activity week cursor=0001-01-01", q(ACTIVITY, granularity="week", cursor="0001-01-01"), "cursor must be a date between"),
        get("activity from after to", q(ACTIVITY, **{"from": "2026-03-02", "to": "2026-03-01"}), "is after"),
        get("activity a century", q(ACTIVITY, **{"from": "2000-01-01", "to": "2100-12-31"}), "at most 3660"),
        get("activity granularity year", q(ACTIVITY, granularity="year"), "granularity must be one of"),
        get("activity granularity DAY", q(ACTIVITY, granularity="DAY"), "granularity must be one of"),
        get("violations 0001-01-01..9999-12-31", q(f"/v1/groups/{g}/violations", **{"from": "0001-01-01", "to": "9999-12-31"}), "between"),
        get("violations action nuke", q(f"/v1/groups/{g}/violations", action="nuke"), "action must be one of"),
        get("violations rule with a space", q(f"/v1/groups/{g}/violations", rule="a b"), "not a valid identifier"),
        get("violations offset -1", q(f"/v1/groups/{g}/violations", offset="-1"), "offset must be 0 or more"),
        get("violations offset abc", q(f"/v1/groups/{g}/violations", offset="abc"), "offset"),
        get("complaints status closed", q(f"/v1/groups/{g}/complaints", status="closed"), "status must be one of"),
        get("complaints offset -5", q(f"/v1/groups/{g}/complaints", offset="-5"), "offset"),
        get("spotchecks 0001-01-01..9999-12-31", q(f"/v1/groups/{g}/spotchecks", **{"from": "0001-01-01", "to": "9999-12-31"}), "between"),
        get("spotchecks status maybe", q(f"/v1/groups/{g}/spotchecks", status="maybe"), "status must be one of"),
        get("report format pdf", q(f"/v1/reports/{g}/2026-03", format="pdf"), "format must be one of"),
        get("group key $where", "/v1/groups/$where/activity", "may not start with"),
        get("group key irc:1", "/v1/groups/irc:1/activity", "is not '{platform}:{group_id}'"),
        get("group key telegram:", "/v1/groups/telegram:/violations", "is not '{platform}:{group_id}'"),
        get("group key with a space", "/v1/groups/telegram:a%20b/activity", "is not '{platform}:{group_id}'"),
        get("group key of 300 characters", f"/v1/groups/telegram:{'9' * 300}/activity", "is not '{platform}:{group_id}'"),
        get("report for group $where", "/v1/reports/$where/2026-03", "may not start with"),
        get("user key $ne", "/v1/users/$ne/history", "may not start with"),
        get("user key irc:1", "/v1/users/irc:1/history", "is not '{platform}:{user_id}'"),
        get("user key of invalid UTF-8", "/v1/users/%ff%fe/history", "is not '{platform}:{user_id}'"),
        get("user key of 300 characters", f"/v1/users/telegram:{'u' * 300}/history", "is not '{platform}:{user_id}'"),
    ]  # fmt: skip
    for value, says in BAD_DAYS:
        label = value if len(value) < 30 else f"{len(value)} characters"
        cases.append(
            get(
                f"activity from={label}",
                q(ACTIVITY, **{"from": value}),
                f"from must be a date {says}",
            )
        )
        cases.append(
            get(
                f"violations to={label}",
                q(f"/v1/groups/{g}/violations", to=value),
                f"to must be a date {says}",
            )
        )
        if value != "1999-12-31":  # a cursor may be a week start up to 6 days before 2000
            cases.append(
                get(f"activity cursor={label}", q(ACTIVITY, cursor=value), "cursor must be a date")
            )
    for value, says in BAD_MONTHS:
        label = value if len(value) < 30 else f"{len(value)} characters"
        cases.append(get(f"report for {label}", f"/v1/reports/{g}/{value}", says))
        cases.append(
            get(f"operators month={label}", q(f"/v1/groups/{g}/operators", month=value), says)
        )
    for value, says in BAD_LIMITS:
        label = value if len(value) < 30 else f"{len(value)} digits"
        cases.append(get(f"activity limit={label}", q(ACTIVITY, limit=value), says))
        cases.append(
            get(f"complaints limit={label}", q(f"/v1/groups/{g}/complaints", limit=value), says)
        )
    review = f"/v1/groups/{g}/spotchecks/e1/review"
    json_ct = {"Content-Type": "application/json"}
    cases += [
        Bad("review: outcome maybe", "reporting", "POST", review, (422,), "outcome", js({"outcome": "maybe"}), headers=json_ct),
        Bad("review: an extra field", "reporting", "POST", review, (422,), "extra", js({"outcome": "ok", "x": 1}), headers=json_ct),
        Bad("review: note of 5,000 characters", "reporting", "POST", review, (422,), "note", js({"outcome": "ok", "note": "n" * 5000}), headers=json_ct),
        Bad("review: NaN as note", "reporting", "POST", review, (422,), "note", b'{"outcome": "ok", "note": NaN}', headers=json_ct),
        Bad("review: Infinity as outcome", "reporting", "POST", review, (422,), "outcome", b'{"outcome": Infinity}', headers=json_ct),
        Bad("review: malformed JSON", "reporting", "POST", review, (422,), "JSON decode error", b'{"outcome": }', headers=json_ct),
        Bad("review: 100k-deep nesting", "reporting", "POST", review, (400,), "error parsing the body", deep_array(DEEP), headers=json_ct),
        Bad("review: 5,000-digit integer", "reporting", "POST", review, (400,), "error parsing the body", b'{"note": ' + b"9" * 5000 + b"}", headers=json_ct),
        Bad("review: invalid UTF-8", "reporting", "POST", review, (400,), "error parsing the body", b'{"outcome": "\xff"}', headers=json_ct),
        Bad("review: an empty body", "reporting", "POST", review, (422,), "missing", b"", headers=json_ct),
        Bad("review: Content-Type text/plain", "reporting", "POST", review, (422,), "body", b'{"outcome": "ok"}', headers={"Content-Type": "text/plain"}),
        Bad("review: form encoding", "reporting", "POST", review, (422,), "body", b"outcome=ok", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        Bad("review: an event id starting with $", "reporting", "POST", f"/v1/groups/{g}/spotchecks/$where/review", (422,), "may not start with", js({"outcome": "ok"}), headers=json_ct),
    ]  # fmt: skip
    return cases


CASES = ingest_cases() + webhook_cases() + reporting_cases()


def test_the_set_is_large_and_covers_every_edge() -> None:
    assert len(CASES) >= 150, len(CASES)
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
    assert {c.service for c in CASES} == {"ingest", "reporting"}
    paths = {c.path.split("?")[0] for c in CASES}
    for route in ("activity", "violations", "complaints", "operators", "spotchecks", "history"):
        assert any(p.endswith(route) for p in paths), route
    assert any(p.startswith("/v1/reports/") for p in paths)
    for platform in ("onebot", "telegram", "slack", "discord"):
        assert f"/v1/webhooks/{platform}" in paths


# ---------------------------------------------------------------- the stack


@dataclass
class Edge:
    sec: SecStack
    published_before: int
    clients: dict[str, httpx.Client]
    answers: list[tuple[str, int]] = field(default_factory=list)

    def headers(self, auth: str, body: bytes) -> dict[str, str]:
        t = self.sec.tokens
        if auth == "admin":
            return t.admin_all.headers
        if auth == "platform":
            return t.platform_all.headers
        if auth == "auditor":
            return t.auditor.headers
        if auth == "bogus":
            return {"Authorization": "Bearer not-a-token-" + "x" * 20}
        if auth.startswith("sign:"):
            platform = auth.split(":", 1)[1]
            if platform == "onebot":
                return onebot_sig(body, ONEBOT_SECRET)
            if platform == "telegram":
                return telegram_sig(body, TELEGRAM_SECRET)
            return slack_sig(body, SLACK_SECRET)
        return {}

    def send(self, case: Bad) -> httpx.Response:
        body = case.body
        headers = self.headers(case.auth, body or b"")
        if body is not None and "Content-Type" not in case.headers and case.service == "ingest":
            headers["Content-Type"] = "application/json"
        headers.update(case.headers)
        resp = self.clients[case.service].request(
            case.method, case.path, content=body, headers=headers
        )
        self.answers.append((case.name, resp.status_code))
        return resp


@pytest.fixture(scope="module")
def edge(servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    sec = start_stack(
        servers,
        tmp_path_factory.mktemp("bad-input"),
        extra={"MODSTREAM_MAX_BODY_BYTES": str(BODY_LIMIT)},
    )
    clients = {
        "ingest": httpx.Client(base_url=sec.ingest, timeout=30),
        "reporting": httpx.Client(base_url=sec.reporting, timeout=30),
    }
    try:
        yield Edge(sec, sec.published(), clients)
    finally:
        for client in clients.values():
            client.close()
        sec.stack.stop()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_a_4xx_that_names_the_problem(edge: Edge, case: Bad) -> None:
    resp = edge.send(case)
    assert resp.status_code < 500, f"{case.name}: {resp.status_code} {resp.text[:300]}"
    assert resp.status_code in case.status, (
        f"{case.name}: want {case.status}, got {resp.status_code} {resp.text[:300]}"
    )
    assert case.says.lower() in resp.text.lower(), f"{case.name}: {resp.text[:500]}"


def test_nothing_published_and_both_services_still_answer(edge: Edge) -> None:
    assert len(edge.answers) >= 150, "run the whole module: the bad inputs come first"
    assert not [a for a in edge.answers if a[1] >= 500], edge.answers
    # Unmappable webhooks go to the dead-letter topic; the events topic did not move.
    assert edge.sec.published() == edge.published_before
    assert_still_up(edge)


def assert_still_up(edge: Edge) -> None:
    for name, client in edge.clients.items():
        assert client.get("/healthz").status_code == 200, name
        assert client.get("/readyz").status_code == 200, name
    for name, proc in edge.sec.stack.procs.items():
        assert proc.poll() is None, f"{name} died; see {edge.sec.stack.workdir}/{name}.log"
    logs = edge.sec.log_text()
    for name in ("ingest.log", "reporting.log"):
        text = logs.get(name, "")
        assert "Traceback" not in text and '"level": "error"' not in text, (name, text[-3000:])


# ---------------------------------------------------------------- generated variety

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
ENVELOPE = ["event_id", "type", "schema_version", "occurred_at", "platform", "group_id", "user_id"]
# Values none of the envelope's fields accepts: the wrong JSON type, or a string that is
# too long, blank or holds whitespace (event ids; the others then fail on length/type).
wrong_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)
    | st.text(min_size=300, max_size=400).map(lambda s: " " + s)
)
junk_numbers = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]) | st.integers(
    min_value=41, max_value=3000
).map(lambda n: "9" * n)


@FUZZ
@given(
    field_name=st.sampled_from(ENVELOPE),
    value=wrong_values,
    batch=st.booleans(),
)
def test_generated_wrong_fields_are_4xx(
    edge: Edge, field_name: str, value: Any, batch: bool
) -> None:
    if field_name == "schema_version" and value is True:
        value = False  # shared/codec.py reads `true` as schema_version 1 (reported, not ours)
    body = event(event_id=f"gen-{time.monotonic_ns()}")
    body[field_name] = value
    resp = edge.clients["ingest"].post(
        "/v1/events",
        content=js([body] if batch else body),
        headers=edge.sec.tokens.admin_all.headers | {"Content-Type": "application/json"},
    )
    assert 400 <= resp.status_code < 500, (field_name, value, resp.status_code, resp.text[:300])
    says = (field_name, "unknown event type", "JSON cannot be read")  # the last: a huge integer
    assert any(word in resp.text for word in says), resp.text[:300]


@FUZZ
@given(
    raw=st.binary(max_size=400), number=junk_numbers, where=st.sampled_from(["events", "onebot"])
)
def test_generated_bytes_and_numbers_are_4xx(
    edge: Edge, raw: bytes, number: str, where: str
) -> None:
    """Arbitrary bytes, and valid JSON carrying a number or constant JSON does not allow."""
    for body in (raw, b'{"post_type": "message", "n": ' + number.encode() + b"}"):
        if where == "events":
            headers = edge.sec.tokens.admin_all.headers
            resp = edge.clients["ingest"].post("/v1/events", content=body, headers=headers)
            assert 400 <= resp.status_code < 500, (body[:80], resp.status_code, resp.text[:300])
        else:
            headers = onebot_sig(body, ONEBOT_SECRET)
            resp = edge.clients["ingest"].post("/v1/webhooks/onebot", content=body, headers=headers)
            assert resp.status_code < 500, (body[:80], resp.status_code, resp.text[:300])
        assert "detail" in resp.json() or resp.status_code < 300


date_like = st.text(alphabet="0123456789-:TZ+ x", min_size=0, max_size=14) | st.text(max_size=40)


def valid_day(value: str) -> bool:
    import re
    from datetime import date

    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        return date(2000, 1, 1) <= date.fromisoformat(value) <= date(2100, 12, 31)
    except ValueError:
        return False


@FUZZ
@given(
    route=st.sampled_from(["activity", "violations", "spotchecks", "report", "operators"]),
    value=date_like.filter(lambda v: v != "" and not valid_day(v) and not valid_day(v + "-01")),
    granularity=st.sampled_from(["day", "week", "month"]),
)
def test_generated_bad_dates_and_months_are_422(
    edge: Edge, route: str, value: str, granularity: str
) -> None:
    g = GROUP_A
    if route == "report":
        path = f"/v1/reports/{g}/{quote(value, safe='')}"
    elif route == "operators":
        path = q(f"/v1/groups/{g}/operators", month=quote(value, safe=""))
    elif route == "activity":
        path = q(ACTIVITY, granularity=granularity, **{"from": quote(value, safe="")})
    else:
        path = q(f"/v1/groups/{g}/{route}", to=quote(value, safe=""))
    resp = edge.clients["reporting"].get(path, headers=edge.sec.tokens.admin_all.headers)
    if route == "report" and ("/" in value or value in (".", "..")):
        assert resp.status_code < 500, (path, resp.status_code, resp.text[:300])
        return  # another path altogether (404/405), not this route's parameter
    assert resp.status_code == 422, (path, resp.status_code, resp.text[:300])
    assert any(word in resp.text for word in ("YYYY-MM", "between", "month", "from", "to")), (
        resp.text[:300]
    )


# In-process properties of the limits parser the routes share (shared/json_limits.py).

tricky_text = st.text(alphabet='"\\[]{}ab\u00e9\u2028/', max_size=8)
json_trees = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


def true_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((true_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(value=json_trees, ascii_only=st.booleans())
def test_depth_scan_ignores_brackets_in_strings_and_parser_round_trips(
    value: Any, ascii_only: bool
) -> None:
    from shared.json_limits import json_depth, parse_json

    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth(body) == true_depth(value)
    assert parse_json(body) == value


@settings(max_examples=200, deadline=None)
@given(depth=st.integers(min_value=65, max_value=5000), inner=json_trees)
def test_too_deep_is_refused_however_it_nests(depth: int, inner: Any) -> None:
    from shared.json_limits import JSONRejected, parse_json

    body = b'{"k": [' * depth + json.dumps(inner).encode() + b"]}" * depth
    with pytest.raises(JSONRejected, match="nested too deeply"):
        parse_json(body)


def test_still_up_after_the_generated_inputs(edge: Edge) -> None:
    assert not [a for a in edge.answers if a[1] >= 500], edge.answers
    assert_still_up(edge)
