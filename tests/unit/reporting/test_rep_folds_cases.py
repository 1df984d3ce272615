"""violations, complaints, operators, spotchecks and groups folds."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import IndexModel

from services.reporting.folds import FOLDS, fold_decision, fold_event, index_specs
from services.reporting.folds.base import Batch, GroupContext, field_key, unfield_key
from services.reporting.store import PROJECTIONS
from shared.events import EVENT_TYPES, Decision, Event

GROUP = "telegram:-1001"
CTX = GroupContext(GROUP, ZoneInfo("Asia/Shanghai"), "zh-CN")


def decision(at: str, action: str = "warn", target: str = "42", n: int = 0) -> Decision:
    return Decision(
        decision_id=f"d{n}",
        group_key=GROUP,
        target_user_id=target,
        action=action,  # type: ignore[arg-type]
        rule_id="ads.link",
        ruleset_version=1,
        reason="advertising",
        cause_event_ids=[f"ev{n}"],
        decided_at=datetime.fromisoformat(at),
    )


def ev(
    kind: str,
    at: str,
    n: int,
    user: str = "42",
    actor: dict[str, str] | None = None,
    **payload: Any,
) -> Event:
    body: dict[str, Any] = {
        "event_id": f"e{n}",
        "schema_version": 1,
        "occurred_at": at,
        "platform": "telegram",
        "group_id": "-1001",
        "user_id": user,
        "payload": payload,
    }
    if actor:
        body["actor"] = actor
    return EVENT_TYPES[kind].model_validate(body)  # type: ignore[return-value]


def msg(at: str, n: int, text: str = "hi") -> Event:
    return ev("message.posted", at, n, message_id=f"m{n}", text=text)


def run(events: list[Event], settings_n: int = 2, only: set[str] | None = None) -> Batch:
    from shared.settings import Settings

    batch = Batch()
    for e in events:
        fold_event(batch, e, CTX, Settings(spot_checks_per_day=settings_n), only=only)
    return batch


def test_every_projection_has_a_fold_and_valid_index_specs() -> None:
    assert set(FOLDS) == set(PROJECTIONS)
    specs = index_specs()
    assert set(specs) == set(PROJECTIONS)
    for models in specs.values():
        for keys, options in models:
            IndexModel(keys, **options)  # raises on a malformed spec
            assert keys[0][0] in {"group_key", "user_key", "reporter", "target"}
            assert options["name"]


def test_decision_is_inserted_once_with_counters_and_offender_doc() -> None:
    batch = Batch()
    fold_decision(batch, decision("2026-01-04T20:00:00+00:00", "mute", "9", 1), CTX)
    fold_decision(batch, decision("2026-01-05T01:00:00+00:00", "ban", "9", 2), CTX)
    doc = batch.inserts[("violations", "d1")]
    assert doc["kind"] == "decision" and doc["group_key"] == GROUP
    assert doc["user_key"] == "telegram:9" and doc["day"] == "2026-01-05"
    assert doc["rule_id"] == "ads.link" and doc["cause_event_ids"] == ["ev1"]
    daily = batch.docs[("violations", f"{GROUP}|day|2026-01-05")].to_update()
    # the rule id holds a '.', escaped so MongoDB does not read it as a path
    assert daily["$inc"] == {
        "total": 2,
        "by_rule.ads%2Elink": 2,
        "by_action.mute": 1,
        "by_action.ban": 1,
    }
    offender = batch.docs[("violations", f"{GROUP}|user|telegram:9")].to_update()
    assert offender["$inc"]["count"] == 2 and offender["$inc"]["by_month.2026-01"] == 2
    assert offender["$min"]["first_at"].hour == 20 and offender["$max"]["last_at"].hour == 1


def test_field_key_round_trips_dangerous_values() -> None:
    for value in ["$where", "a.b", "100%", "%2E", "", "普通规则"]:
        key = field_key(value)
        assert "." not in key and not key.startswith("$") and key
        assert unfield_key(key) == value


def test_manual_sanction_records_who_and_role_and_revocation() -> None:
    batch = run(
        [
            ev(
                "sanction.applied",
                "2026-01-05T02:00:00Z",
                1,
                actor={"name": "ops", "role": "admin"},
                sanction_id="s1",
                target_user_id="9",
                action="mute",
                duration_s=600,
                reason="flood",
                by_role="operator",
            ),
            ev(
                "sanction.revoked",
                "2026-01-05T03:00:00Z",
                2,
                user="5",
                sanction_id="s1",
                reason="appeal",
            ),
        ],
        only={"violations", "operators"},
    )
    s = batch.docs[("violations", f"{GROUP}|sanction|s1")].to_update()["$set"]
    assert (s["by"], s["role"], s["action"], s["user_key"]) == (
        "ops",
        "admin",
        "mute",
        "telegram:9",
    )
    assert s["revoke_reason"] == "appeal" and s["revoked_by"] == "5"
    ops = batch.docs[("operators", f"{GROUP}|2026-01|admin|ops")].to_update()
    assert ops["$inc"] == {"sanctions_applied": 1, "by_action.mute": 1}
    revoker = batch.docs[("operators", f"{GROUP}|2026-01|unknown|5")].to_update()
    assert revoker["$inc"] == {"sanctions_revoked": 1}


def test_sanction_without_actor_uses_platform_user_and_payload_role() -> None:
    batch = run(
        [
            ev(
                "sanction.applied",
                "2026-01-05T02:00:00Z",
                1,
                user="77",
                sanction_id="s2",
                target_user_id="9",
                action="warn",
                reason="r",
                by_role="operator",
            )
        ],
        only={"operators"},
    )
    assert ("operators", f"{GROUP}|2026-01|operator|77") in batch.docs


def test_complaint_case_from_filing_to_resolution_in_one_batch() -> None:
    batch = run(
        [
            ev(
                "complaint.filed",
                "2026-01-05T02:00:00Z",
                1,
                user="3",
                complaint_id="c1",
                target_user_id="9",
                category="spam",
                reason="ads",
            ),
            ev(
                "complaint.resolved",
                "2026-01-05T05:00:00Z",
                2,
                user="4",
                complaint_id="c1",
                outcome="upheld",
                note="done",
            ),
        ],
        only={"complaints"},
    )
    update = batch.docs[("complaints", f"{GROUP}|c1")].to_update()
    assert update["$set"]["reporter"] == "telegram:3" and update["$set"]["target"] == "telegram:9"
    assert update["$set"]["outcome"] == "upheld" and update["$set"]["month"] == "2026-01"
    assert update["$max"] == {"resolved": True}
    assert update["$min"]["resolved_at"].hour == 5
    assert "$setOnInsert" not in update or "resolved" not in update["$setOnInsert"]


def test_filing_alone_leaves_the_case_open() -> None:
    batch = run(
        [
            ev(
                "complaint.filed",
                "2026-01-05T02:00:00Z",
                1,
                complaint_id="c1",
                target_user_id="9",
                category="abuse",
            )
        ],
        only={"complaints"},
    )
    assert batch.docs[("complaints", f"{GROUP}|c1")].to_update()["$max"] == {"resolved": False}


def test_spot_check_sample_is_the_smallest_hashes_and_bounded() -> None:
    events = [msg("2026-01-05T02:00:00Z", n) for n in range(20)]
    batch = run(events, settings_n=3, only={"spotchecks"})
    update = batch.docs[("spotchecks", f"{GROUP}|2026-01-05")].to_update()
    push = update["$push"]["sample"]
    assert push["$slice"] == 3 and push["$sort"] == {"h": 1}
    assert len(push["$each"]) == 3
    assert update["$inc"] == {"messages": 20}
    # the same messages in another order give the same sample: it does not depend on
    # arrival order, so a replay (or a differently batched run) agrees
    again = run(list(reversed(events)), settings_n=3, only={"spotchecks"})
    same = again.docs[("spotchecks", f"{GROUP}|2026-01-05")].to_update()["$push"]["sample"]
    assert [c["event_id"] for c in same["$each"]] == [c["event_id"] for c in push["$each"]]
    hashes = [c["h"] for c in push["$each"]]
    assert hashes == sorted(hashes)


def test_spot_checks_disabled_still_count_messages() -> None:
    batch = run([msg("2026-01-05T02:00:00Z", 1)], settings_n=0, only={"spotchecks"})
    update = batch.docs[("spotchecks", f"{GROUP}|2026-01-05")].to_update()
    assert "$push" not in update and update["$inc"] == {"messages": 1}


def test_groups_learns_language_timezone_and_members() -> None:
    batch = run(
        [
            ev(
                "ruleset.updated",
                "2026-01-01T00:00:00Z",
                1,
                version=3,
                rules={"language": "zh-CN", "timezone": "Asia/Shanghai"},
            ),
            ev("member.joined", "2026-01-02T00:00:00Z", 2),
            ev("member.joined", "2026-01-02T00:00:00Z", 3),
            ev("member.left", "2026-01-03T00:00:00Z", 4),
        ],
        only={"groups"},
    )
    update = batch.docs[("groups", GROUP)].to_update()
    assert update["$set"] == {"language": "zh-CN", "timezone": "Asia/Shanghai"}
    assert update["$inc"] == {"joins": 2, "leaves": 1}
    assert update["$max"]["ruleset_version"] == 3
    assert update["$min"]["first_event_at"].day == 1 and update["$max"]["last_event_at"].day == 3


def test_no_document_sets_and_set_on_inserts_the_same_field() -> None:
    """MongoDB rejects an update naming a field under two operators."""
    events = [
        msg("2026-01-05T02:00:00Z", 1),
        ev(
            "complaint.filed",
            "2026-01-05T02:00:00Z",
            2,
            complaint_id="c1",
            target_user_id="9",
            category="spam",
        ),
        ev("complaint.resolved", "2026-01-05T03:00:00Z", 3, complaint_id="c1", outcome="rejected"),
        ev(
            "sanction.applied",
            "2026-01-05T02:00:00Z",
            4,
            sanction_id="s1",
            target_user_id="9",
            action="mute",
            reason="r",
            by_role="admin",
        ),
        ev("sanction.revoked", "2026-01-05T02:30:00Z", 5, sanction_id="s1", reason="r"),
        ev("ruleset.updated", "2026-01-01T00:00:00Z", 6, version=1, rules={"language": "en"}),
    ]
    batch = run(events)
    fold_decision(batch, decision("2026-01-05T02:00:00+00:00"), CTX)
    for key, delta in batch.docs.items():
        seen: dict[str, str] = {}
        for op, fields in delta.to_update().items():
            for name in fields:
                root = name.split(".")[0]
                assert root not in seen or seen[root] == op, (key, name, op, seen[root])
                seen[root] = op
