"""Properties of the one serialisation path (shared.codec) under arbitrary input: whatever
bytes or JSON arrive, decoding yields a valid event or raises RecordRejected (which the
consumers dead-letter), never anything else; and a valid event survives encode/decode
unchanged. Platform adapters have their own properties in tests/unit/ingest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.codec import (
    CURRENT_VERSIONS,
    RecordRejected,
    decode_decision,
    decode_event,
    encode_decision,
    encode_event,
    event_from_dict,
)
from shared.events import EVENT_TYPES, Decision

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=25,
)
tricky_keys = st.sampled_from(
    ["$where", "$gt", "a.b", "", "payload", "type", "__proto__", "schema_version"]
)

TYPES = sorted(CURRENT_VERSIONS)
ids = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=40).filter(
    lambda s: not s.startswith("$")
)
plain = st.text(max_size=200)
# The envelope's window is [2000-01-01, 2100-01-01) UTC; received_at may be an hour later.
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
platforms = st.sampled_from(["onebot", "telegram", "discord", "slack", "api"])
safe_keys = st.text(
    st.characters(blacklist_characters="$.", codec="utf-8"), min_size=1, max_size=10
)
rules_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(safe_keys, inner, max_size=4),
    max_leaves=15,
)


def payloads(etype: str) -> st.SearchStrategy[dict[str, Any]]:
    attachments = st.lists(
        st.fixed_dictionaries(
            {
                "kind": st.sampled_from(["image", "video", "audio", "file", "sticker", "other"]),
                "url": st.text(max_size=60),
            }
        ),
        max_size=3,
    )
    if etype == "message.posted":
        return st.fixed_dictionaries(
            {"message_id": ids, "text": plain},
            optional={
                "reply_to": ids,
                "mentions": st.lists(ids, max_size=3),
                "attachments": attachments,
            },
        )
    if etype == "member.joined":
        return st.fixed_dictionaries({}, optional={"invited_by": ids})
    if etype == "member.left":
        return st.fixed_dictionaries({}, optional={"kicked_by": ids})
    if etype == "complaint.filed":
        return st.fixed_dictionaries(
            {
                "complaint_id": ids,
                "target_user_id": ids,
                "category": st.text(min_size=1, max_size=20),
            },
            optional={"target_message_id": ids, "reason": plain},
        )
    if etype == "complaint.resolved":
        return st.fixed_dictionaries(
            {"complaint_id": ids, "outcome": st.sampled_from(["upheld", "rejected"])},
            optional={"note": plain},
        )
    if etype == "sanction.applied":
        return st.fixed_dictionaries(
            {
                "sanction_id": ids,
                "target_user_id": ids,
                "action": st.sampled_from(["warn", "remove_message", "mute", "kick", "ban"]),
                "reason": st.text(min_size=1, max_size=50),
                "by_role": st.sampled_from(["platform", "operator", "admin", "auditor"]),
            },
            optional={"duration_s": st.integers(min_value=0, max_value=10**9)},
        )
    if etype == "sanction.revoked":
        return st.fixed_dictionaries(
            {"sanction_id": ids, "reason": st.text(min_size=1, max_size=50)}
        )
    if etype == "enforcement.recorded":
        call = st.fixed_dictionaries(
            {
                "step": st.sampled_from(["mute", "ban", "notice_private"]),
                "call": st.text(min_size=1, max_size=40),
                "result": st.sampled_from(["done", "already", "failed", "unknown", "dry_run"]),
            },
            optional={
                "params": st.dictionaries(safe_keys, rules_values, max_size=3),
                "status": st.integers(min_value=100, max_value=599),
                "error": plain,
                "attempts": st.integers(min_value=0, max_value=50),
            },
        )
        return st.fixed_dictionaries(
            {
                "decision_id": ids,
                "action": st.sampled_from(["warn", "mute", "ban", "unmute", "unban"]),
                "outcome": st.sampled_from(
                    ["executed", "dry_run", "failed", "unsupported", "partial", "unknown"]
                ),
            },
            optional={
                "platform_call": plain,
                "attempts": st.integers(min_value=0, max_value=100),
                "error": plain,
                "phase": st.sampled_from(["apply", "lift", "renew", "remind"]),
                "mode": st.sampled_from(["off", "dry_run", "live"]),
                "calls": st.lists(call, max_size=3),
                "scheduled_at": moments.map(lambda m: m.isoformat()),
                "note": plain,
            },
        )
    return st.fixed_dictionaries(
        {
            "version": st.integers(min_value=1, max_value=10**6),
            "rules": st.dictionaries(safe_keys, rules_values, max_size=4),
        }
    )


@st.composite
def valid_event_dicts(draw: st.DrawFn) -> dict[str, Any]:
    etype = draw(st.sampled_from(TYPES))
    occurred = draw(moments)
    raw: dict[str, Any] = {
        "event_id": draw(ids),
        "type": etype,
        "schema_version": CURRENT_VERSIONS[etype],
        "occurred_at": occurred.isoformat(),
        "platform": draw(platforms),
        "group_id": draw(ids),
        "user_id": draw(ids),
        "payload": draw(payloads(etype)),
    }
    if draw(st.booleans()):
        raw["received_at"] = (occurred + timedelta(seconds=draw(st.integers(0, 3600)))).isoformat()
    if draw(st.booleans()):
        raw["actor"] = {
            "name": draw(ids),
            "role": draw(st.sampled_from(["platform", "operator", "admin", "auditor"])),
        }
    return raw


@st.composite
def mutated_event_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one field replaced, dropped, or a stray key added: the inputs
    that get deepest into validation and the upcasters."""
    raw = draw(valid_event_dicts())
    where = draw(st.sampled_from(["envelope", "payload"]))
    target = (
        raw if where == "envelope" or not isinstance(raw.get("payload"), dict) else raw["payload"]
    )
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "replace" and target:
        target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
    elif how == "drop" and target:
        del target[draw(st.sampled_from(sorted(target)))]
    else:
        target[draw(tricky_keys | st.text(max_size=8))] = draw(json_values)
    if draw(st.booleans()):
        raw["schema_version"] = draw(st.integers(min_value=-2, max_value=4) | json_values)
    return raw


def decodes_or_rejects(data: bytes) -> None:
    try:
        event = decode_event(data)
    except RecordRejected as err:
        assert err.reason  # the dead letter says why
    else:
        # accepted means writable: it must encode (publish) and read back the same
        assert event.type in EVENT_TYPES
        assert decode_event(encode_event(event)) == event


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_reject(data: bytes) -> None:
    decodes_or_rejects(data)


@FUZZ
@given(json_values)
def test_any_json_value_decodes_or_rejects(value: Any) -> None:
    decodes_or_rejects(json.dumps(value).encode())


@FUZZ
@given(mutated_event_dicts())
def test_near_valid_events_decode_or_reject(raw: dict[str, Any]) -> None:
    decodes_or_rejects(json.dumps(raw).encode())


@FUZZ
@given(st.dictionaries(tricky_keys | st.sampled_from(TYPES), json_values, max_size=8))
def test_event_shaped_objects_decode_or_reject(raw: dict[str, Any]) -> None:
    decodes_or_rejects(json.dumps(raw).encode())


@FUZZ
@given(valid_event_dicts())
def test_valid_events_round_trip(raw: dict[str, Any]) -> None:
    event = event_from_dict(raw)
    again = decode_event(encode_event(event))
    assert again == event
    assert encode_event(again) == encode_event(event)


@FUZZ
@given(valid_event_dicts(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
def test_lone_surrogates_are_rejected_not_published(raw: dict[str, Any], bad: str) -> None:
    """JSON may carry "\\ud800"; such text can never be encoded as UTF-8 again, so it
    must be refused at decode time, not crash the publisher or a projection later.
    (One surrogate: two adjacent ones may form a valid pair, which decodes to one
    character and is fine.)"""
    raw["user_id"] = raw["user_id"] + bad
    data = json.dumps(raw).encode()  # ensure_ascii: the surrogate travels as an escape
    try:
        decode_event(data)
    except RecordRejected as err:
        assert "surrogate" in err.reason
        err.reason.encode("utf-8")  # the dead letter's reason is itself writable
    else:
        raise AssertionError("a lone surrogate was accepted")


@FUZZ
@given(valid_event_dicts())
def test_v1_messages_upcast_and_round_trip(raw: dict[str, Any]) -> None:
    """A message written at v1 (attachments as bare URLs) reads as the same v2 event."""
    if raw["type"] != "message.posted":
        return
    v1 = {
        **raw,
        "schema_version": 1,
        "payload": {
            **raw["payload"],
            "attachments": [a["url"] for a in raw["payload"].get("attachments", [])],
        },
    }
    event = decode_event(json.dumps(v1).encode())
    assert event.schema_version == 2
    assert [a.url for a in event.payload.attachments] == v1["payload"]["attachments"]  # type: ignore[union-attr]
    assert decode_event(encode_event(event)) == event


@FUZZ
@given(json_values)
def test_any_json_decision_decodes_or_rejects(value: Any) -> None:
    try:
        decode_decision(json.dumps(value).encode())
    except RecordRejected as err:
        assert err.reason


@FUZZ
@given(
    st.builds(
        Decision,
        decision_id=ids,
        group_key=ids,
        target_user_id=ids,
        action=st.sampled_from(["warn", "remove_message", "mute", "kick", "ban", "escalate"]),
        duration_s=st.none() | st.integers(min_value=0, max_value=10**7),
        rule_id=ids,
        ruleset_version=st.integers(min_value=0, max_value=10**6),
        reason=plain,
        cause_event_ids=st.lists(ids, max_size=3),
        decided_at=moments,
        case_id=st.none() | ids,
        matched=st.none() | plain,
    )
)
def test_decisions_round_trip(decision: Decision) -> None:
    assert decode_decision(encode_decision(decision)) == decision
