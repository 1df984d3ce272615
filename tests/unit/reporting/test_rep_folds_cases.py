"""violations, complaints, operators, spotchecks and groups folds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import IndexModel

from services.reporting.figures import merge_cases
from services.reporting.folds import FOLDS, fold_decision, fold_event, index_specs
from services.reporting.folds.base import Batch, field_key, unfield_key
from services.reporting.generations import PROJECTIONS
from shared.events import EVENT_TYPES, Event
from tests.support.folds import GROUP, SHANGHAI, decision


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
        fold_event(batch, e, SHANGHAI, Settings(spot_checks_per_day=settings_n), only=only)
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


def test_decisions_go_to_one_week_list_and_one_month_of_counters() -> None:
    batch = Batch()
    fold_decision(batch, decision("2026-01-05T01:00:00+00:00", "ban", "9", 2), SHANGHAI)
    fold_decision(batch, decision("2026-01-04T20:00:00+00:00", "mute", "9", 1), SHANGHAI)
    assert batch.inserts == {}
    assert sorted(k for k in batch.docs if k[0] == "violations") == [
        ("violations", f"{GROUP}|decisions|2026-W02"),
        ("violations", f"{GROUP}|month|2026-01"),
    ]
    items = batch.docs[("violations", f"{GROUP}|decisions|2026-W02")].to_update()["$push"]["items"]
    # sorted by time in the store too, so the list does not depend on arrival or batching
    assert items["$sort"] == {"at": 1, "decision_id": 1} and "$slice" not in items
    first, second = items["$each"]
    assert (first["decision_id"], second["decision_id"]) == ("d1", "d2")
    assert first["kind"] == "decision" and first["group_key"] == GROUP
    assert first["user_key"] == "telegram:9" and first["day"] == "2026-01-05"
    assert first["rule_id"] == "ads.link" and first["cause_event_ids"] == ["ev1"]
    month = batch.docs[("violations", f"{GROUP}|month|2026-01")].to_update()
    # the rule id holds a '.', escaped so MongoDB does not read it as a path
    day = "days.2026-01-05"
    assert {k: v for k, v in month["$inc"].items() if k.startswith(day)} == {
        f"{day}.total": 2,
        f"{day}.by_rule.ads%2Elink": 2,
        f"{day}.by_action.mute": 1,
        f"{day}.by_action.ban": 1,
    }
    offender = "offenders.telegram:9"
    assert month["$inc"][f"{offender}.count"] == 2
    assert month["$min"][f"{offender}.first_at"].hour == 20
    assert month["$max"][f"{offender}.last_at"].hour == 1


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
    month = batch.docs[("violations", f"{GROUP}|month|2026-01")].to_update()
    s = month["$set"]["manual.s1"]
    assert (s["by"], s["role"], s["action"], s["user_key"]) == (
        "ops",
        "admin",
        "mute",
        "telegram:9",
    )
    r = month["$set"]["revocations.s1"]
    assert r["revoke_reason"] == "appeal" and r["revoked_by"] == "5"
    assert month["$inc"]["days.2026-01-05.revoked"] == 1
    ops = batch.docs[("operators", f"{GROUP}|2026-01")].to_update()
    admin, revoker = f"operators.{field_key('admin|ops')}", f"operators.{field_key('unknown|5')}"
    assert ops["$inc"] == {
        f"{admin}.sanctions_applied": 1,
        f"{admin}.by_action.mute": 1,
        f"{revoker}.sanctions_revoked": 1,
    }
    assert ops["$set"][f"{revoker}.operator"] == "5" and ops["$set"][f"{admin}.role"] == "admin"


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
    ops = batch.docs[("operators", f"{GROUP}|2026-01")].to_update()
    assert ops["$inc"] == {
        "operators.operator|77.sanctions_applied": 1,
        "operators.operator|77.by_action.warn": 1,
    }


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
    update = batch.docs[("complaints", f"{GROUP}|2026-01")].to_update()
    case = update["$set"]["cases.c1"]
    assert case["reporter"] == "telegram:3" and case["target"] == "telegram:9"
    assert case["month"] == "2026-01"
    assert update["$set"]["resolutions.c1.outcome"] == "upheld"
    assert update["$min"]["resolutions.c1.resolved_at"].hour == 5
    assert update["$push"] == {"resolved_ids": {"$each": ["c1"], "$sort": 1}}
    [read] = merge_cases([{"month": "2026-01", "cases": {"c1": case}}], [], GROUP)
    assert read["resolved"] is False  # without its resolution the case is open


def test_cases_join_filings_and_resolutions_of_different_months() -> None:
    at = datetime(2026, 1, 31, 23, tzinfo=UTC)
    january = {
        "month": "2026-01",
        "cases": {"c%2E1": {"complaint_id": "c.1", "filed_at": at, "target": "telegram:9"}},
    }
    february = {
        "month": "2026-02",
        "resolutions": {
            "c%2E1": {"complaint_id": "c.1", "outcome": "upheld", "resolved_at": at},
            "c2": {"complaint_id": "c2", "outcome": "rejected", "resolved_at": at},
        },
    }
    cases = merge_cases([january, february], [january, february], GROUP)
    assert [(c["complaint_id"], c["resolved"], c.get("outcome")) for c in cases] == [
        ("c.1", True, "upheld"),
        ("c2", True, "rejected"),  # resolved, never filed: listed after the filed ones
    ]
    filed_in_january = merge_cases([january], [february], GROUP, only_filed=True)
    assert [c["complaint_id"] for c in filed_in_january] == ["c.1"]


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
    update = batch.docs[("complaints", f"{GROUP}|2026-01")].to_update()
    assert set(update) == {"$set", "$setOnInsert"}
    filing = {"month": "2026-01", "cases": {"c1": update["$set"]["cases.c1"]}}
    [case] = merge_cases([filing], [filing], GROUP)
    assert case["resolved"] is False and case["category"] == "abuse"


def test_spot_check_sample_is_the_smallest_hashes_and_bounded() -> None:
    events = [msg("2026-01-05T02:00:00Z", n) for n in range(20)]
    batch = run(events, settings_n=3, only={"spotchecks"})
    update = batch.docs[("spotchecks", f"{GROUP}|2026-01")].to_update()
    push = update["$push"]["days.2026-01-05.sample"]
    assert push["$slice"] == 3 and push["$sort"] == {"h": 1}
    assert len(push["$each"]) == 3
    assert update["$inc"] == {"days.2026-01-05.messages": 20}
    # the same messages in another order give the same sample: it does not depend on
    # arrival order, so a replay (or a differently batched run) agrees
    again = run(list(reversed(events)), settings_n=3, only={"spotchecks"})
    same = again.docs[("spotchecks", f"{GROUP}|2026-01")].to_update()["$push"][
        "days.2026-01-05.sample"
    ]
    assert [c["event_id"] for c in same["$each"]] == [c["event_id"] for c in push["$each"]]
    hashes = [c["h"] for c in push["$each"]]
    assert hashes == sorted(hashes)


def test_spot_checks_disabled_still_count_messages() -> None:
    batch = run([msg("2026-01-05T02:00:00Z", 1)], settings_n=0, only={"spotchecks"})
    update = batch.docs[("spotchecks", f"{GROUP}|2026-01")].to_update()
    assert "$push" not in update and update["$inc"] == {"days.2026-01-05.messages": 1}


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


def test_no_update_names_a_path_and_its_prefix() -> None:
    """MongoDB rejects an update naming one path twice, or a path and a path under it
    (`days.X` and `days.X.messages`), across all its operators."""
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
    fold_decision(batch, decision("2026-01-05T02:00:00+00:00"), SHANGHAI)
    fold_decision(batch, decision("2026-01-05T03:00:00+00:00", n=2), SHANGHAI)
    assert len(batch.docs) >= 8
    for key, delta in batch.docs.items():
        paths = sorted(name for fields in delta.to_update().values() for name in fields)
        assert len(paths) == len(set(paths)), key
        for shorter in paths:
            clash = [p for p in paths if p.startswith(shorter + ".")]
            assert clash == [], (key, shorter, clash)
