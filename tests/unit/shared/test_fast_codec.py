"""The fast decode path (shared/fast_codec.py) holds to the contract (shared.codec.decode_event).

- Every event the project has (platform fixtures through the mappers, a simulated
  community, one event of each type with every optional field) takes the fast path and
  decodes to the slow path's values, field by field and type by type.
- Over mutated records, the fast path alone never accepts what the slow one refuses nor
  gives another value; with its fallback it raises exactly when the slow path does, with
  the same reason.
- The Structs mirror the models: the same fields, defaults and constraints, and no
  validator in shared/events.py that fast_codec does not know of.
- The moderation engine decides the same on Structs as on models.
"""

from __future__ import annotations

import copy
import json
import sys
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from services.ingest.platforms import MAPPERS, Unmappable
from services.moderation.engine import Engine, PartitionState
from shared import events as models
from shared import fast_codec as fc
from shared.codec import (
    CURRENT_VERSIONS,
    RecordRejected,
    decode_event,
    encode_event,
    event_from_dict,
    upcast,
)
from shared.rules import default_ruleset
from tools.simulator import simulate

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms"
RECEIVED = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
START = datetime(2026, 1, 26, tzinfo=UTC)
SEED = 11
FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ the corpus

ENVELOPE = {
    "event_id": "ev-1",
    "occurred_at": "2026-01-02T03:04:05.123456+08:00",
    "received_at": "2026-01-01T19:04:06Z",
    "platform": "telegram",
    "group_id": "-1001",
    "user_id": "42",
    "actor": {"name": "ops", "role": "operator"},
}
FULL_PAYLOADS: dict[str, dict[str, Any]] = {
    "message.posted": {
        "message_id": "m1",
        "text": "hi 你好 😀",
        "channel_id": "c7",
        "reply_to": "m0",
        "mentions": ["7", "8"],
        "attachments": [{"kind": "image", "url": "https://x/a.png"}, {"kind": "file", "url": ""}],
    },
    "member.joined": {"invited_by": "7"},
    "member.left": {"kicked_by": "7"},
    "complaint.filed": {
        "complaint_id": "c1",
        "target_user_id": "9",
        "target_message_id": "m1",
        "category": "spam",
        "reason": "ads",
    },
    "complaint.resolved": {"complaint_id": "c1", "outcome": "rejected", "note": "fine"},
    "sanction.applied": {
        "sanction_id": "s1",
        "target_user_id": "9",
        "action": "mute",
        "duration_s": 600,
        "reason": "flood",
        "by_role": "admin",
    },
    "sanction.revoked": {"sanction_id": "s1", "reason": "appeal upheld"},
    "ruleset.updated": {
        "version": 3,
        "rules": {
            "language": "en",
            "nested": {"a": [1, 2.5, -0.0, True, None, "x", {"b": 10**30}], "c": {}},
        },
    },
    "enforcement.recorded": {
        "decision_id": "d-1",
        "action": "ban",
        "outcome": "partial",
        "platform_call": "PUT /guilds/1/bans/9",
        "attempts": 2,
        "error": "429 retry after 1.5",
        "phase": "apply",
        "mode": "live",
        "rule_id": "spam",
        "bot": "main",
        "calls": [
            {
                "step": "ban",
                "call": "PUT /guilds/1/bans/9",
                "params": {"delete_message_seconds": 0, "q": [1, None]},
                "result": "done",
                "status": 204,
                "error": None,
                "attempts": 2,
            },
            {"step": "notice_private", "call": "POST /users/@me/channels", "result": "unknown"},
        ],
        "scheduled_at": "2026-01-02T00:00:00+08:00",
        "note": "the ban's lift is scheduled",
    },
}


def full_dicts() -> list[dict[str, Any]]:
    """One event of each type with every optional field, and one with none of them."""
    out = []
    for etype, payload in FULL_PAYLOADS.items():
        raw = {**ENVELOPE, "type": etype, "schema_version": CURRENT_VERSIONS[etype]}
        out.append({**raw, "event_id": f"ev-{etype}", "payload": payload})
        bare = {k: v for k, v in raw.items() if k not in ("received_at", "actor")}
        bare["platform"] = "api"
        if etype in ("member.joined", "member.left"):
            out.append({**bare, "event_id": f"ev-{etype}-bare"})
    return out


def platform_of(name: str) -> str:
    parts = name.split("_")
    return parts[1] if parts[0] == "synthetic" else parts[0]


def fixture_events() -> list[models.Event]:
    events: list[models.Event] = []
    for path in sorted(FIXTURES.glob("*.json")):
        native = json.loads(path.read_text(encoding="utf-8"))
        try:
            events.extend(MAPPERS[platform_of(path.name)](native, RECEIVED).events)
        except Unmappable:
            continue
    return events


@cache
def corpus() -> tuple[bytes, ...]:
    """Every fixture event, a simulated community and the full dicts, as published."""
    events = fixture_events()
    events += [event_from_dict(raw) for raw in simulate(SEED, 3000, START)]
    events += [event_from_dict(raw) for raw in full_dicts()]
    return tuple(encode_event(e) for e in events)


# ------------------------------------------------------------------ comparing values


def canon(value: Any) -> Any:
    """A comparable form that is strict about types (1, 1.0 and True differ; so do -0.0
    and 0.0, and a timestamp's zone): Structs and models by class name and attribute."""
    if isinstance(value, BaseModel):
        return _object(value, list(type(value).model_fields))
    if isinstance(value, msgspec.Struct):
        names = list(value.__struct_fields__)
        if isinstance(value, fc._Envelope):
            names.append("type")
        return _object(value, names)
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), value.tzinfo is UTC)
    if isinstance(value, dict):
        return ("dict", tuple((canon(k), canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(canon(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def _object(value: Any, names: list[str]) -> dict[str, Any]:
    out = {"class": type(value).__name__, **{n: canon(getattr(value, n)) for n in names}}
    if "event_id" in names:
        out["group_key"] = value.group_key
        out["user_key"] = value.user_key
    return out


def outcome(decode: Callable[[bytes], Any], data: bytes) -> tuple[Any, ...]:
    try:
        value = decode(data)
    except RecordRejected as err:
        return ("rejected", err.reason)
    except Exception as err:  # whatever the slow path raises, the fast one must too
        return ("raised", type(err).__name__, str(err))
    return ("decoded", canon(value))


def field_order(model: Any) -> Any:
    if isinstance(model, BaseModel):
        return [(k, field_order(v)) for k, v in model.__dict__.items()]
    if isinstance(model, list):
        return [field_order(v) for v in model]
    return None


def encoded(model: Any) -> Any:
    try:
        return encode_event(model)
    except ValueError as err:  # what the contract accepts but cannot write (see below)
        return type(err).__name__, str(err)


def assert_same_model(built: Any, slow: Any) -> None:
    """A model built from a Struct is the validated one in every way the project sees."""
    assert built == slow
    assert field_order(built) == field_order(slow)
    assert encoded(built) == encoded(slow)
    assert canon(built.model_dump()) == canon(slow.model_dump())
    assert built.model_fields_set >= slow.model_fields_set
    assert built.__pydantic_extra__ == slow.__pydantic_extra__
    assert built.__pydantic_private__ == slow.__pydantic_private__


def assert_same(data: bytes) -> str:
    """Both decoders agree with the contract on `data`; which path decided it."""
    slow = outcome(decode_event, data)
    struct = fc.decode_struct(data)
    if struct is not None:
        # the fast path alone: only ever what the contract accepts, with its values
        assert slow[0] == "decoded", (slow, struct)
        assert canon(struct) == slow[1]
        assert_same_model(fc.to_model(struct), decode_event(data))
        assert_same_model(fc.to_model(struct, fc.model_construct), decode_event(data))
    assert outcome(fc.decode_event_fast, data) == slow
    assert outcome(fc.decode_model_fast, data) == slow
    if slow[0] == "decoded":
        assert_same_model(fc.decode_model_fast(data), decode_event(data))
    return "fast" if struct is not None else f"slow ({slow[0]})"


# ------------------------------------------------------------------ every event we have


def test_the_corpus_covers_every_type_and_every_platform() -> None:
    events = [decode_event(d) for d in corpus()]
    assert {e.type for e in events} == set(CURRENT_VERSIONS)
    assert {e.platform for e in events} == {"onebot", "telegram", "discord", "slack", "api"}
    assert len(fixture_events()) >= 25


def test_every_fixture_and_simulated_event_takes_the_fast_path_to_the_same_value() -> None:
    for data in corpus():
        struct = fc.decode_struct(data)
        assert struct is not None, data
        slow = decode_event(data)
        assert canon(struct) == canon(slow), data
        assert canon(fc.decode_event_fast(data)) == canon(slow)
        assert_same_model(fc.to_model(struct), slow)
        assert_same_model(fc.decode_model_fast(data), slow)
        assert canon(fc.from_model(slow)) == canon(struct)


def test_json_dumps_output_takes_the_fast_path_too() -> None:
    """ensure_ascii JSON (escaped CJK, emoji as surrogate pairs) decodes the same."""
    raws = [*full_dicts(), *simulate(SEED, 500, START)]
    for raw in raws:
        for ensure_ascii in (True, False):
            data = json.dumps(raw, ensure_ascii=ensure_ascii).encode()
            assert assert_same(data) == "fast", data


def test_structs_are_frozen_and_the_built_models_too() -> None:
    data = next(d for d in corpus() if b'"message.posted"' in d)
    struct = fc.decode_event_fast(data)
    assert isinstance(struct, fc.MessagePostedEvent)
    with pytest.raises(AttributeError):
        struct.user_id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        struct.payload.text = "other"  # type: ignore[misc]
    model = fc.decode_model_fast(data)
    with pytest.raises(ValidationError):
        model.user_id = "other"  # type: ignore[misc]


# ------------------------------------------------------------------ the edges, one by one


def record(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        **ENVELOPE,
        "type": "message.posted",
        "schema_version": 2,
        "payload": dict(FULL_PAYLOADS["message.posted"]),
    }
    for key, value in changes.items():
        if value is ...:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def dumps(raw: dict[str, Any], ensure_ascii: bool = True) -> bytes:
    return json.dumps(raw, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


EDGES: dict[str, tuple[bytes, str]] = {
    # (record, which path must decide it)
    "valid": (dumps(record()), "fast"),
    "trailing newline in event_id ($ of Python re)": (dumps(record(event_id="ev\n")), "slow"),
    "U+001C in event_id (not White_Space)": (dumps(record(event_id="ev\x1cx")), "fast"),
    "U+0085 in event_id": (dumps(record(event_id="ev\x85x")), "slow"),
    "U+3000 leading event_id": (dumps(record(event_id="\u3000ev")), "slow"),
    "event_id of 256 emoji": (dumps(record(event_id="😀" * 256)), "fast"),
    "event_id of 257 emoji": (dumps(record(event_id="😀" * 257)), "slow"),
    "seven fraction digits (pydantic truncates)": (
        dumps(record(occurred_at="2026-01-01T00:00:00.9999995Z", received_at=...)),
        "slow",
    ),
    "a fraction rounding into 2100": (
        dumps(record(occurred_at="2099-12-31T23:59:59.9999999Z", received_at=...)),
        "slow",
    ),
    "an escaped digit completing a fraction": (
        dumps(record(occurred_at="2026-01-01T00:00:00.123456_Z", received_at=...)).replace(
            b"_", b"\\u0037"
        ),
        "slow",
    ),
    "year 1": (dumps(record(occurred_at="0001-01-01T00:00:00Z", received_at=...)), "slow"),
    "year 1 shifted out of range": (
        dumps(record(occurred_at="0001-01-01T00:00:00+01:00", received_at=...)),
        "slow",
    ),
    "year 9999": (dumps(record(occurred_at="9999-12-31T23:59:59-01:00", received_at=...)), "slow"),
    "2100 exactly": (dumps(record(occurred_at="2100-01-01T00:00:00Z", received_at=...)), "slow"),
    "2000 exactly": (
        dumps(record(occurred_at="2000-01-01T08:00:00+08:00", received_at=...)),
        "fast",
    ),
    "naive timestamp": (dumps(record(occurred_at="2026-01-01T00:00:00", received_at=...)), "slow"),
    "unix time (pydantic coerces)": (
        dumps(record(occurred_at=1767225600, received_at=...)),
        "slow",
    ),
    "a day ahead exactly": (
        dumps(record(occurred_at="2026-01-02T00:00:00Z", received_at="2026-01-01T00:00:00Z")),
        "fast",
    ),
    "a day and a microsecond ahead": (
        dumps(
            record(occurred_at="2026-01-02T00:00:00.000001Z", received_at="2026-01-01T00:00:00Z")
        ),
        "slow",
    ),
    "foreign platform id": (dumps(record(event_id="discord:1:2")), "slow"),
    "another group's id": (dumps(record(event_id="telegram:-1002:msg:1")), "slow"),
    "own group's id": (dumps(record(event_id="telegram:-1001:msg:1")), "fast"),
    "unknown type": (dumps(record(type="message.deleted")), "slow"),
    "schema_version 99": (dumps(record(schema_version=99)), "slow"),
    "schema_version 1 (upcast)": (
        dumps(
            record(
                schema_version=1, payload={"message_id": "m", "text": "", "attachments": ["a.mp4"]}
            )
        ),
        "slow",
    ),
    "schema_version missing (v1)": (dumps(record(schema_version=...)), "slow"),
    "schema_version true": (dumps(record(schema_version=True)), "slow"),
    "extra field": (dumps(record(extra=1)), "slow"),
    "int as float (pydantic coerces)": (
        dumps(
            record(
                type="sanction.applied",
                schema_version=1,
                payload={**FULL_PAYLOADS["sanction.applied"], "duration_s": 600.0},
            )
        ),
        "slow",
    ),
    "int beyond 64 bits (msgspec reads it as json does)": (
        dumps(
            record(
                type="sanction.applied",
                schema_version=1,
                payload={**FULL_PAYLOADS["sanction.applied"], "duration_s": 2**70},
            )
        ),
        "fast",
    ),
    "lone surrogate, escaped": (dumps(record(user_id="4\ud8002")), "slow"),
    "lone low surrogate, escaped": (dumps(record(user_id="4\udc002")), "slow"),
    "surrogate pair, escaped": (dumps(record(user_id="4\ud83d\ude002")), "fast"),
    "lone surrogate, raw UTF-8 bytes in a str field": (
        dumps(record(user_id="4\ud8002"), ensure_ascii=False),
        "slow",
    ),
    "lone surrogate, raw UTF-8 bytes in rules": (
        dumps(
            record(
                type="ruleset.updated",
                schema_version=1,
                payload={"version": 2, "rules": {"x": "\ud800"}},
            ),
            ensure_ascii=False,
        ),
        "slow",
    ),
    "unsafe rules key": (
        dumps(
            record(
                type="ruleset.updated",
                schema_version=1,
                payload={"version": 2, "rules": {"a": {"$set": 1}}},
            )
        ),
        "slow",
    ),
    "NaN in rules": (
        dumps(
            record(
                type="ruleset.updated",
                schema_version=1,
                payload={"version": 2, "rules": {"x": float("nan")}},
            )
        ),
        "slow",
    ),
    "duplicate key (the last one counts)": (
        b'{"user_id": "first", ' + dumps(record())[1:],
        "fast",
    ),
    "byte-order mark": (b"\xef\xbb\xbf" + dumps(record()), "slow"),
    "UTF-16": (json.dumps(record()).encode("utf-16"), "slow"),
    "truncated": (dumps(record())[:-1], "slow"),
    "not an object": (b"[]", "slow"),
    "deep nesting": (
        dumps(
            record(type="ruleset.updated", schema_version=1, payload={"version": 2, "rules": {}})
        ).replace(b'"rules": {}', b'"rules": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        "slow",
    ),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_an_edge_is_decided_by_the_path_it_should_be_and_the_same(name: str) -> None:
    data, path = EDGES[name]
    assert assert_same(data).split(" ")[0] == path


def test_the_slow_path_accepts_a_raw_surrogate_in_rules_and_so_the_fast_one() -> None:
    """json.loads reads bytes with 'surrogatepass', and the surrogate scan only looks for
    escapes: a UTF-8-encoded surrogate inside `rules` (dict[str, Any], no str
    validation) is accepted and cannot be encoded again. The fast path sends it to the
    slow one and so agrees with it; should the contract start refusing it, so will this."""
    data = EDGES["lone surrogate, raw UTF-8 bytes in rules"][0]
    assert fc.decode_struct(data) is None
    assert outcome(fc.decode_event_fast, data) == outcome(decode_event, data)


# ------------------------------------------------------------------ mutated records

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 1, 2, 2**63 - 1, 2**63, 2**64, 10**30])
    | st.floats()
    | st.sampled_from([1.0, 2.0, 600.0, -0.0, 1e300])
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
rules_keys = st.sampled_from(["$set", "a.b", "ok", "", "$", "x$"]) | st.text(max_size=6)
rules_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(rules_keys, inner, max_size=3),
    max_leaves=8,
)
# Unicode White_Space, the str.isspace extras, and look-alikes that are neither
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
    "\x1c\x1d\x1e\x1f\u180e\u200b\ufeff"
)
LIMITS = [0, 1, 63, 64, 65, 255, 256, 257, 4095, 4096, 4097, 65_536, 65_537]


DIGITS = "0123456789"


@st.composite
def timestamps(draw: st.DrawFn) -> Any:
    """Half of them well-formed within the window (with fractions of any length: pydantic
    truncates, msgspec rounds), half odd in every part."""
    if draw(st.booleans()):
        moment = draw(st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30)))
        sep = draw(st.sampled_from("T t"))
        text = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        frac = draw(st.text(DIGITS, max_size=12))
        if frac:
            text += "." + frac
        zone = ["Z", "z", "+00:00", "-00:00", "+08:00", "-05:30", "+0800", "+23:59"]
        return text + draw(st.sampled_from(zone))
    if draw(st.integers(0, 4)) == 0:
        return draw(
            st.integers(-(2**40), 2**40)
            | st.floats()
            | st.sampled_from(
                ["1767225600", "2026-01-01", "", "now", "2026-01-01T00:00Z", "2026-01-01T00:00:00"]
            )
        )
    year = draw(st.sampled_from([1, 999, 1999, 2000, 2099, 2100, 9999]) | st.integers(0, 9999))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    clock = [draw(st.integers(0, 61)) for _ in range(3)]
    sep = draw(st.sampled_from("Tt _"))
    frac = draw(st.none() | st.text(DIGITS, max_size=12))
    zone = draw(
        st.sampled_from(["Z", "", "+08", "+24:00", "+0800"])
        | st.builds(
            lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
            st.sampled_from("+-"),
            st.integers(0, 25),
            st.integers(0, 60),
        )
    )
    text = f"{year:04d}-{month:02d}-{day:02d}{sep}{clock[0]:02d}:{clock[1]:02d}:{clock[2]:02d}"
    if frac is not None:
        text += draw(st.sampled_from(".,")) + frac
    return text + zone


@st.composite
def event_ids(draw: st.DrawFn, group_id: str) -> str:
    how = draw(st.sampled_from(["foreign", "whitespace", "length", "text"]))
    if how == "foreign":
        parts = draw(st.lists(st.sampled_from([group_id, "1", "-1002", "msg", ""]), max_size=5))
        prefix = draw(st.sampled_from(["onebot", "telegram", "discord", "slack", "api", "x"]))
        return ":".join([prefix, *parts])
    if how == "whitespace":
        ws = draw(st.sampled_from(["\n", "\x1c", *WHITESPACE]))
        return draw(st.sampled_from([f"a{ws}", f"a{ws}b", f"{ws}a", "$a", "a$", ws]))
    if how == "length":
        return draw(st.sampled_from("x😀é")) * draw(st.sampled_from(LIMITS))
    return draw(st.text(max_size=12))


@st.composite
def valid_dicts(draw: st.DrawFn, drop: bool = True) -> dict[str, Any]:
    """A record of the corpus, or a fresh one of any type with any optional fields (and,
    with `drop`, now and then without a required one)."""
    if draw(st.booleans()):
        pool = corpus()
        return json.loads(pool[draw(st.integers(0, len(pool) - 1))])
    raw = copy.deepcopy(draw(st.sampled_from(full_dicts())))
    for key in ("received_at", "actor"):
        if draw(st.booleans()):
            raw.pop(key, None)
    payload = raw.get("payload", {})
    for key in sorted(payload):
        if drop and draw(st.integers(0, 3)) == 0:
            payload.pop(key)  # a required one too, now and then
    return raw


def slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) of a decoded JSON value, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from slots(item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield value, i
            yield from slots(item)


@st.composite
def mutated_records(draw: st.DrawFn) -> bytes:
    raw = draw(valid_dicts())
    for _ in range(draw(st.integers(0, 3))):
        places = list(slots(raw))
        kind = draw(
            st.sampled_from(
                [
                    "replace",
                    "drop",
                    "add",
                    "timestamp",
                    "ahead",
                    "event_id",
                    "type",
                    "version",
                    "surrogate",
                    "length",
                    "rules",
                ]
            )
        )
        if kind in ("replace", "drop", "length", "surrogate") and places:
            container, key = draw(st.sampled_from(places))
            if kind == "replace":
                container[key] = draw(json_values | timestamps())
            elif kind == "drop":
                del container[key]
            elif kind == "length":
                n = draw(st.sampled_from([*LIMITS, 99, 100, 101, 999, 1000, 1001]))
                item = container[key]
                if isinstance(item, list):
                    container[key] = (item[:1] or ["x"]) * n
                else:
                    container[key] = draw(st.sampled_from("x😀é中")) * n
            elif isinstance(container[key], str):
                bad = draw(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
                at = draw(st.integers(0, len(container[key])))
                container[key] = container[key][:at] + bad + container[key][at:]
            elif isinstance(container, dict):
                container[f"k{draw(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))}"] = 1
        elif kind == "add":
            dicts = [c for c, _ in places if isinstance(c, dict)] or [raw]
            draw(st.sampled_from(dicts))[draw(st.text(max_size=8))] = draw(json_values)
        elif kind == "timestamp":
            raw[draw(st.sampled_from(["occurred_at", "received_at"]))] = draw(timestamps())
        elif kind == "ahead":
            occurred = draw(
                st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 30), timezones=st.just(UTC))
            )
            late = draw(st.sampled_from([-1, 0, 1, 10**6]))
            zone = draw(
                st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))])
            )
            received = occurred - models.MAX_AHEAD + timedelta(microseconds=-late)
            raw["occurred_at"] = occurred.isoformat()
            raw["received_at"] = received.astimezone(zone).isoformat()
        elif kind == "event_id":
            raw["event_id"] = draw(event_ids(str(raw.get("group_id"))))
        elif kind == "type":
            raw["type"] = draw(
                st.sampled_from([*CURRENT_VERSIONS, "message.deleted", "", "MESSAGE.POSTED"])
                | scalars
            )
        elif kind == "version":
            if draw(st.booleans()):
                raw.pop("schema_version", None)
            else:
                raw["schema_version"] = draw(
                    st.sampled_from([0, -1, 1, 2, 3, 99, True, False, "2", 2.0, 1.0, None, 2**64])
                )
        else:  # rules
            raw["type"] = "ruleset.updated"
            raw["schema_version"] = 1
            raw["payload"] = {
                "version": draw(scalars | st.integers(1, 5)),
                "rules": draw(st.dictionaries(rules_keys, rules_values, max_size=3)),
            }
    text = json.dumps(raw, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    wire = draw(st.sampled_from(["plain"] * 6 + ["escape", "duplicate", "bom", "truncate", "pad"]))
    if wire == "escape" and data:
        # escape one ASCII character as \u00XX (in a string or not: both must agree)
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + f"\\u{data[at]:04x}".encode() + data[at + 1 :]
    elif wire == "duplicate" and data.startswith(b"{") and raw:
        key = draw(st.sampled_from(sorted(raw)))
        value = json.dumps(draw(json_values | timestamps())).encode()
        first = json.dumps(key).encode() + b": " + value
        data = b"{" + first + b", " + data[1:] if len(data) > 2 else data
    elif wire == "bom":
        data = b"\xef\xbb\xbf" + data
    elif wire == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif wire == "pad":
        data = b" \n\t" + data + b"\r\n "
    return data


@FUZZ
@given(mutated_records())
def test_mutated_records_are_decided_alike(data: bytes) -> None:
    event(assert_same(data))


@st.composite
def records_with_event_ids(draw: st.DrawFn) -> bytes:
    raw = draw(valid_dicts(drop=False))
    raw["event_id"] = draw(event_ids(raw["group_id"]))
    return dumps(raw, ensure_ascii=draw(st.booleans()))


@st.composite
def records_with_timestamps(draw: st.DrawFn) -> bytes:
    raw = draw(valid_dicts(drop=False))
    key = draw(st.sampled_from(["occurred_at", "received_at"]))
    raw[key] = stamp = draw(timestamps())
    if key == "occurred_at" and draw(st.integers(0, 3)):
        raw.pop("received_at", None)  # else most times are too far ahead of it
    data = dumps(raw)
    if isinstance(stamp, str) and draw(st.booleans()):
        # the same text with its characters escaped: what the decoder reads is the same
        escaped = "".join(f"\\u{ord(c):04x}" for c in stamp)
        data = data.replace(json.dumps(stamp).encode(), f'"{escaped}"'.encode())
    return data


@st.composite
def records_with_rules(draw: st.DrawFn) -> bytes:
    raw = draw(valid_dicts(drop=False))
    raw["type"] = "ruleset.updated"
    raw["schema_version"] = 1
    raw["payload"] = {
        "version": draw(st.integers(1, 5) | scalars),
        "rules": draw(st.dictionaries(rules_keys, rules_values, max_size=3)),
    }
    return dumps(raw, ensure_ascii=draw(st.booleans()))


@FUZZ
@given(records_with_event_ids())
def test_event_ids_are_decided_alike(data: bytes) -> None:
    event(assert_same(data))


@FUZZ
@given(records_with_timestamps())
def test_timestamps_are_decided_alike(data: bytes) -> None:
    event(assert_same(data))


@FUZZ
@given(records_with_rules())
def test_rules_are_decided_alike(data: bytes) -> None:
    event(assert_same(data))


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_decided_alike(data: bytes) -> None:
    assert_same(data)


# ------------------------------------------------------------------ the event_id pattern


def contract_pattern() -> str:
    field = models._Envelope.model_fields["event_id"]
    patterns = [m.pattern for m in field.metadata if getattr(m, "pattern", None)]
    assert len(patterns) == 1
    return str(patterns[0])


def not_after_a(accepts: Callable[[str], bool], chars: str) -> set[str]:
    """The characters c of `chars` for which "a" + c is refused (by halving)."""
    if accepts("a" + chars):
        return set()
    if len(chars) == 1:
        return {chars}
    half = len(chars) // 2
    return not_after_a(accepts, chars[:half]) | not_after_a(accepts, chars[half:])


def test_the_event_id_pattern_reads_every_code_point_as_the_contracts_does() -> None:
    by_pydantic = TypeAdapter(Annotated[str, Field(pattern=contract_pattern())])
    by_msgspec = Annotated[str, msgspec.Meta(pattern=fc.EVENT_ID_PATTERN)]

    def pydantic_accepts(text: str) -> bool:
        try:
            by_pydantic.validate_python(text)
        except ValidationError:
            return False
        return True

    def msgspec_accepts(text: str) -> bool:
        try:
            msgspec.convert(text, by_msgspec)
        except msgspec.ValidationError:
            return False
        return True

    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    refused = not_after_a(pydantic_accepts, every)
    assert refused == not_after_a(msgspec_accepts, every)
    assert "\n" in refused and "\u3000" in refused and "\x1c" not in refused
    for first in sorted(refused | set(WHITESPACE) | set("$a0-_:😀")):
        assert pydantic_accepts(first + "a") == msgspec_accepts(first + "a"), repr(first)
    for text in ["a\n", "a\n\n", "\na", "$", "a$", "$$", "", "a", "a b", "a\x1c"]:
        assert pydantic_accepts(text) == msgspec_accepts(text), repr(text)


# ------------------------------------------------------------------ the mirror


def shape_of_annotation(annotation: Any) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (types.UnionType,) or str(origin) == "typing.Union":
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1 and len(args) == 2, annotation
        return ("optional", shape_of_annotation(rest[0]))
    if origin is Literal:
        return ("literal", frozenset(args))
    if origin is list:
        return ("list", shape_of_annotation(args[0]))
    if origin is dict:
        return ("dict", shape_of_annotation(args[0]), shape_of_annotation(args[1]))
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("object", annotation.__name__)
    return {str: "str", int: "int", datetime: "datetime"}[annotation]


def shape_of_type(t: Any) -> Any:
    if isinstance(t, msgspec.inspect.UnionType):
        rest = [a for a in t.types if not isinstance(a, msgspec.inspect.NoneType)]
        assert len(rest) == 1 and len(t.types) == 2, t
        return ("optional", shape_of_type(rest[0]))
    if isinstance(t, msgspec.inspect.LiteralType):
        return ("literal", frozenset(t.values))
    if isinstance(t, msgspec.inspect.ListType):
        return ("list", shape_of_type(t.item_type))
    if isinstance(t, msgspec.inspect.DictType):
        return ("dict", shape_of_type(t.key_type), shape_of_type(t.value_type))
    if isinstance(t, msgspec.inspect.AnyType):
        return "any"
    if isinstance(t, msgspec.inspect.StructType):
        return ("object", t.cls.__name__)
    names: dict[type, str] = {
        msgspec.inspect.StrType: "str",
        msgspec.inspect.IntType: "int",
        msgspec.inspect.DateTimeType: "datetime",
    }
    return names[type(t)]


CONSTRAINTS = ("min_length", "max_length", "ge", "gt", "le", "lt", "multiple_of", "pattern")
# The contract's patterns, as spelled for Python's re (see fast_codec.EVENT_ID_PATTERN).
TRANSLATED = {r"^[^$\s][^\s]*$": fc.EVENT_ID_PATTERN}


def constraints_of_field(info: Any) -> dict[str, Any]:
    out = {}
    for item in info.metadata:
        found = {k: getattr(item, k) for k in CONSTRAINTS if getattr(item, k, None) is not None}
        assert found, f"a constraint fast_codec does not mirror: {item!r}"
        out.update(found)
    if "pattern" in out:
        out["pattern"] = TRANSLATED[out["pattern"]]
    return out


def constraints_of_type(t: Any) -> dict[str, Any]:
    if isinstance(t, msgspec.inspect.UnionType):
        (t,) = [a for a in t.types if not isinstance(a, msgspec.inspect.NoneType)]
    return {k: getattr(t, k) for k in CONSTRAINTS if getattr(t, k, None) is not None}


PAIRS = sorted(fc._MODEL_OF.items(), key=lambda pair: pair[0].__name__)


def test_every_model_of_the_contract_has_its_struct() -> None:
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        seen.add(model)
        for info in model.model_fields.values():
            for part in [info.annotation, *get_args(info.annotation)]:
                for t in [part, *get_args(part)]:
                    if isinstance(t, type) and issubclass(t, BaseModel) and t not in seen:
                        walk(t)

    for model in models.EVENT_TYPES.values():
        walk(model)
    assert seen == set(fc._MODEL_OF.values())
    assert set(fc.EVENT_TYPES) == set(models.EVENT_TYPES) == set(CURRENT_VERSIONS)
    for etype, struct in fc.EVENT_TYPES.items():
        assert struct.type == etype
        assert fc._MODEL_OF[struct] is models.EVENT_TYPES[etype]
        info = msgspec.inspect.type_info(struct)
        assert isinstance(info, msgspec.inspect.StructType)
        assert (info.tag_field, info.tag) == ("type", etype)


@pytest.mark.parametrize(("struct", "model"), PAIRS, ids=[s.__name__ for s, _ in PAIRS])
def test_the_struct_mirrors_the_model(struct: type[msgspec.Struct], model: type[BaseModel]) -> None:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    assert info.forbid_unknown_fields and struct.__struct_config__.frozen
    fields = {f.name: f for f in info.fields}
    contract = {n: f for n, f in model.model_fields.items() if n != "type"}
    assert list(fields) == list(contract), "same fields in the same order"
    for name, field in contract.items():
        mine = fields[name]
        assert shape_of_type(mine.type) == shape_of_annotation(field.annotation), name
        assert constraints_of_type(mine.type) == constraints_of_field(field), name
        assert mine.required == field.is_required(), name
        if field.default_factory is not None:
            assert mine.default_factory is not msgspec.NODEFAULT, name
            assert canon(mine.default_factory()) == canon(field.default_factory()), name  # type: ignore[call-arg]
        elif field.default is not PydanticUndefined:
            assert canon(mine.default) == canon(field.default), name
    # what `build` leans on
    assert model.__private_attributes__ == {}
    assert model.__pydantic_post_init__ is None
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("frozen") is True


# The validators of the contract and where fast_codec repeats them: a new one fails here
# until fast_codec checks it too.
KNOWN_VALIDATORS = {
    ("_Envelope", "field_validators", "_v_occ"): "fast_codec._Envelope.__post_init__ (_utc)",
    ("_Envelope", "model_validators", "_owned_and_timely"): "_Envelope.__post_init__",
    ("RulesetUpdated", "field_validators", "_safe_keys"): "RulesetUpdated.__post_init__",
    ("EnforcementRecorded", "field_validators", "_safe_params"): "CallRecord.__post_init__",
    ("EnforcementRecorded", "field_validators", "_v_at"): "EnforcementRecorded.__post_init__",
}


def test_fast_codec_knows_every_validator_of_the_contract() -> None:
    found = set()
    every: set[type[BaseModel]] = {*fc._MODEL_OF.values(), models._Envelope}
    for model in every:
        decorators = model.__pydantic_decorators__
        for kind in ("validators", "field_validators", "root_validators", "model_validators"):
            for name in getattr(decorators, kind):
                owner = next(c for c in model.__mro__ if name in c.__dict__)
                found.add((owner.__name__, kind, name))
    assert found == set(KNOWN_VALIDATORS)


def test_upcast_changes_nothing_at_the_current_versions() -> None:
    """Why the fast path may skip `upcast` for a record at its type's current version."""
    for data in corpus():
        raw = json.loads(data)
        assert raw["schema_version"] == CURRENT_VERSIONS[raw["type"]]
        assert upcast(raw) == raw


# ------------------------------------------------------------------ the engine on Structs


def test_the_engine_decides_the_same_on_structs() -> None:
    """The engine reads attributes only: on Structs it decides what it decides on models,
    and its state (snapshots) ends the same."""
    rules = [
        {**raw, "event_id": f"rules-{i}"}
        for i, raw in enumerate(full_dicts())
        if raw["type"] == "ruleset.updated"
    ]
    stream = [encode_event(event_from_dict(raw)) for raw in rules] + list(corpus())
    runs = []
    for decode in (decode_event, fc.decode_event_fast):
        engine, state = Engine(default_ruleset()), PartitionState()
        decisions = [d for data in stream for d in engine.apply(state, decode(data))]  # type: ignore[arg-type]
        runs.append((decisions, state.to_json()))
    assert runs[0][0], "the stream causes decisions"
    assert runs[0] == runs[1]
