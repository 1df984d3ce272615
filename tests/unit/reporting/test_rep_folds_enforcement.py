"""The enforcement and queue folds: decided against what the enforcer recorded, on the
group's day, per rule and action; the scheduler's records apart; the latest dry runs;
queue items for what needs a person; revokes counted as enforcement, never as violations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.reporting import enforcement_figures as ef
from services.reporting.folds import enforcement, fold_decision, fold_event
from services.reporting.folds.base import Batch, GroupContext
from shared.events import Decision, Event
from shared.settings import Settings
from tests.support.folds import GROUP, SHANGHAI, decision, enforced, of, store

SETTINGS = Settings()
MONTH = f"{GROUP}|month|2026-01"


def fold(records: Sequence[Event | Decision], ctx: GroupContext = SHANGHAI) -> Batch:
    batch = Batch()
    for record in records:
        if isinstance(record, Decision):
            fold_decision(batch, record, ctx)
        else:
            fold_event(batch, record, ctx, SETTINGS)
    return batch


def month(records: Sequence[Event | Decision]) -> dict[str, Any]:
    return store([fold(records)])[("enforcement", MONTH)]


def test_decisions_count_as_decided_on_the_local_day_escalations_do_not() -> None:
    doc = month(
        [
            decision("2026-01-04T20:00:00+00:00", "mute", n=1),  # 04:00 on 5 Jan in Shanghai
            decision("2026-01-05T01:00:00+00:00", "mute", n=2),
            decision("2026-01-05T02:00:00+00:00", "escalate", n=3),
            # the enforcer's record of the escalation: no platform call, not counted
            enforced("2026-01-05T02:00:01Z", "executed", "escalate", 3, platform_call=""),
            decision("2026-01-05T03:00:00+00:00", "ban", n=4, enforcement="off"),
        ]
    )
    day = doc["days"]["2026-01-05"]["ads%2Elink"]
    assert day == {"mute": {"decided": 2}, "ban": {"decided": 1, "off": 1}}
    assert "2026-01-04" not in doc["days"]
    assert (doc["group_key"], doc["platform"], doc["month"]) == (GROUP, "telegram", "2026-01")
    assert (doc["start"], doc["end"]) == ("2026-01-01", "2026-01-31")


def test_apply_outcomes_and_the_schedulers_records_are_counted_apart() -> None:
    doc = month(
        [
            enforced("2026-01-05T01:00:01Z", "executed", "ban", 1),
            enforced("2026-01-05T01:00:02Z", "failed", "ban", 2, error="not enough rights"),
            enforced("2026-01-05T01:00:03Z", "unsupported", "ban", 3),
            enforced("2026-01-05T01:00:04Z", "executed", "ban", 1, phase="lift"),
            enforced("2026-01-05T01:00:05Z", "failed", "ban", 1, phase="lift"),
            enforced("2026-01-05T01:00:06Z", "executed", "ban", 1, phase="remind"),
        ]
    )
    ban = doc["days"]["2026-01-05"]["ads%2Elink"]["ban"]
    assert ban["apply"] == {"executed": 1, "failed": 1, "unsupported": 1}
    assert ban["scheduled"] == {"lift": {"executed": 1, "failed": 1}, "remind": {"executed": 1}}
    assert "decided" not in ban


def test_decided_against_done_per_rule_platform_and_action() -> None:
    docs = of(
        store(
            [
                fold(
                    [
                        decision("2026-01-05T01:00:00+00:00", "mute", n=1),
                        decision("2026-01-05T01:00:00+00:00", "mute", n=2),
                        decision("2026-01-05T01:00:00+00:00", "mute", n=3),
                        decision("2026-01-05T01:00:00+00:00", "remove_message", n=4),
                    ]
                ),
                fold(
                    [
                        enforced("2026-01-05T01:00:01Z", "executed", "mute", 1),
                        enforced("2026-01-05T01:00:01Z", "partial", "mute", 2),
                        enforced("2026-01-05T01:00:02Z", "executed", "remove_message", 4),
                    ]
                ),
            ]
        ),
        "enforcement",
    )
    page = ef.enforcement_page(GROUP, docs, None, None, 20)
    rows = {r["action"]: r for r in page["items"]}
    assert {r["rule_id"] for r in page["items"]} == {"ads.link"}
    assert {r["platform"] for r in page["items"]} == {"telegram"}
    mute = rows["mute"]
    assert (mute["decided"], mute["executed"], mute["partial"], mute["failed"]) == (3, 1, 1, 0)
    assert (mute["recorded"], mute["unrecorded"]) == (2, 1)  # d3: no record yet
    assert page["totals"]["decided"] == 4 and page["totals"]["executed"] == 2
    assert page["mode"] == "live" and page["would_have"] == []
    assert ef.enforcement_page(GROUP, docs, "2026-01-06", None, 20)["items"] == []


def test_dry_run_lists_the_latest_records_whatever_the_batches() -> None:
    records = [
        enforced(f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z", "dry_run", "warn", i)
        for i in range(enforcement.DRY_RUN_KEPT + 15)
    ]
    one = store([fold(records)])
    # The same records in batches of 7, and again in reverse order within a batch.
    split = store([fold(records[i : i + 7]) for i in range(0, len(records), 7)])
    backwards = store([fold(list(reversed(records)))])
    assert one == split == backwards
    docs = of(one, "enforcement")
    kept = docs[0]["dry_run"]
    assert len(kept) == enforcement.DRY_RUN_KEPT
    listed = ef.would_have(docs, None, None, 10)
    newest = records[-1]
    assert [i["decision_id"] for i in listed] == [
        f"d{n}" for n in range(len(records) - 1, len(records) - 11, -1)
    ]
    assert listed[0]["platform_call"] == "POST /sendMessage"
    assert listed[0]["at"] == newest.occurred_at and "k" not in listed[0]
    page = ef.enforcement_page(GROUP, docs, None, None, 5)
    assert page["mode"] == "dry_run" and page["totals"]["dry_run"] == len(records)
    assert len(page["would_have"]) == 5


def test_unmute_and_unban_are_enforcement_never_violations() -> None:
    batch = fold(
        [
            decision("2026-01-05T01:00:00+00:00", "unmute", n=1, revokes="d0"),
            decision("2026-01-05T01:00:00+00:00", "unban", n=2, revokes="s-7"),
        ]
    )
    touched = {collection for collection, _ in batch.docs}
    assert "violations" not in touched and "users" not in touched
    docs = store([batch])
    counts = docs[("enforcement", MONTH)]["days"]["2026-01-05"]["ads%2Elink"]
    assert counts == {"unmute": {"decided": 1}, "unban": {"decided": 1}}
    # activity counts decisions by action: a revoke shows as what it is, not as a violation
    assert docs[("activity", MONTH)]["decisions"] == {"unmute": 1, "unban": 1}


def test_a_sanction_and_its_revoke_leave_one_violation() -> None:
    docs = store(
        [
            fold(
                [
                    decision("2026-01-05T01:00:00+00:00", "mute", n=1),
                    decision("2026-01-05T02:00:00+00:00", "unmute", n=2, revokes="d1"),
                ]
            )
        ]
    )
    violations = docs[("violations", f"{GROUP}|month|2026-01")]
    assert violations["days"]["2026-01-05"]["total"] == 1
    assert violations["offenders"]["telegram:42"]["by_action"] == {"mute": 1}
    week = docs[("violations", f"{GROUP}|decisions|2026-W02")]
    assert [i["action"] for i in week["items"]] == ["mute"]
    users = docs[("users", f"{GROUP}|2026-01")]["weeks"]["2026-W02"]["telegram:42"]
    assert users == {"violations": 1, "decisions": {"mute": 1}}


def test_queue_items_open_for_what_needs_a_person() -> None:
    records = [
        enforced("2026-01-05T01:00:00Z", "executed", "ban", 1),
        enforced("2026-01-05T01:00:01Z", "dry_run", "ban", 2),
        enforced("2026-01-05T01:00:02Z", "failed", "ban", 3, error="NOT_MANAGEABLE"),
        enforced("2026-01-05T01:00:03Z", "unsupported", "mute", 4),
        enforced("2026-01-05T01:00:04Z", "partial", "warn", 5),
        enforced("2026-01-05T01:00:05Z", "unknown", "warn", 6),
        enforced("2026-01-05T01:00:06Z", "executed", "mute", 7, phase="remind", note="renew"),
        enforced("2026-01-05T01:00:07Z", "failed", "ban", 8, phase="lift"),
    ]
    items = of(store([fold(records)]), "queue")
    assert sorted(i["ref"] for i in items) == ["d3", "d4", "d5", "d6", "d7"]
    failed = next(i for i in items if i["ref"] == "d3")
    assert failed["_id"] == f"{GROUP}|enforcement|{records[2].event_id}"
    assert failed["id"] == records[2].event_id
    assert (failed["kind"], failed["status"], failed["group_key"]) == ("enforcement", "open", GROUP)
    assert failed["opened_at"] == records[2].occurred_at
    context = failed["context"]
    assert context["error"] == "NOT_MANAGEABLE" and context["outcome"] == "failed"
    assert context["action"] == "ban" and context["platform_call"] == "POST /sendMessage"
    assert (context["target_user_id"], context["user_key"]) == ("42", "telegram:42")
    remind = next(i for i in items if i["ref"] == "d7")
    assert remind["context"]["phase"] == "remind" and remind["context"]["note"] == "renew"


def test_a_record_folded_again_opens_no_second_item() -> None:
    record = enforced("2026-01-05T01:00:02Z", "failed", "ban", 3)
    docs = store([fold([record])])
    assert store([fold([record])], dict(docs)) == docs  # insert-once: nothing changes


def test_records_of_a_utc_group_count_on_the_utc_day() -> None:
    record = enforced("2026-01-04T23:30:00Z", "executed", "warn", 1)
    doc = store([fold([record], GroupContext(GROUP))])[("enforcement", MONTH)]
    assert list(doc["days"]) == ["2026-01-04"]
    doc = store([fold([record])])[("enforcement", MONTH)]
    assert list(doc["days"]) == ["2026-01-05"]


def test_a_record_without_a_rule_counts_under_no_rule() -> None:
    docs = of(store([fold([enforced("2026-01-05T01:00:00Z", rule_id=None)])]), "enforcement")
    [row] = ef.enforcement_rows(docs, None, None)
    assert row["rule_id"] is None and row["executed"] == 1


def test_a_dry_run_that_could_not_be_planned_is_failed_but_still_a_dry_run() -> None:
    records = [
        enforced("2026-01-05T01:00:00Z", "dry_run", "mute", 1),
        enforced(
            "2026-01-05T01:00:01Z",
            "failed",
            "remove_message",
            2,
            mode="dry_run",
            error="the decision names no message to remove",
        ),
    ]
    page = ef.enforcement_page(GROUP, of(store([fold(records)]), "enforcement"), None, None, 20)
    assert page["mode"] == "dry_run"
    assert page["totals"]["modes"] == {"dry_run": 2}
    assert (page["totals"]["dry_run"], page["totals"]["failed"]) == (1, 1)


def test_a_manual_sanctions_decision_is_enforced_but_counted_once_as_a_sanction() -> None:
    """Moderation turns a person's sanction into a decision (rule `manual`) so the
    enforcer carries it out; the sanction itself is counted from its event."""
    act = decision("2026-01-05T01:00:00+00:00", "mute", n=1).model_copy(
        update={"rule_id": "manual"}
    )
    batch = fold([act])
    assert {c for c, _ in batch.docs} == {"enforcement", "activity", "groups"}
    counts = store([batch])[("enforcement", MONTH)]["days"]["2026-01-05"]["manual"]
    assert counts == {"mute": {"decided": 1}}
