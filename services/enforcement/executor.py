"""Carrying one decision out: plan, intent on the ledger, the calls with pacing and
retries, the outcome as an `enforcement.recorded` event in the ledger's outbox.

The order of writes is what makes "one effect per decision" hold across a crash at any
point: the plan is on the ledger before the first call; a send is marked `sending` before
it goes and its result written after, so a restart that finds `sending` records `unknown`
and never sends twice; a sanction call is repeated after a crash only because the same
call again (same absolute expiry, the same removal) changes nothing; the record is
written to the ledger before it is published and published again, under the same id,
until the broker has it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from services.enforcement.bots import Bots
from services.enforcement.calls import CallResult, PlatformClient, Step, Target
from services.enforcement.limiter import StoreLimiter, rate_keys
from services.enforcement.plan import (
    Plan,
    PlannedStep,
    Scheduled,
    StepRecord,
    effective_mode,
    is_send,
    outcome_of,
    plan_decision,
    record_event_id,
    split_group_key,
)
from services.enforcement.store import EnforcementStore, ledger_id
from shared.backoff import Backoff
from shared.events import Decision, EnforcementPhase
from shared.logging import get_logger
from shared.metrics import (
    ENFORCEMENT_CALL_SECONDS,
    ENFORCEMENT_CALLS,
    ENFORCEMENT_OUTCOMES,
    ENFORCEMENT_RETRIES,
)
from shared.settings import Settings

SERVICE = "enforcement"
ACTOR = {"name": "enforcement", "role": "system"}
# A decision older than this (live groups) is not carried out: the enforcer was away for
# long, or its ledger was lost and it re-reads an old stream; acting a day late would
# surprise everyone, and re-acting on history would be worse.
MAX_AGE_S = 86_400.0
# A send that met a 5xx or a timeout is not tried again after this long: Discord's nonce
# guards against a duplicate only for a few minutes.
SEND_RETRY_S = 120.0
# A 429 that says "retry after 0" still waits this long (and counts toward the budget).
MIN_RETRY_AFTER_S = 0.1
LOST = "sent, but the answer was lost in a restart: not sent again"


def plan_to_doc(plan: Plan) -> dict[str, Any]:
    return asdict(plan)


def plan_from_doc(doc: dict[str, Any]) -> Plan:
    def step(d: dict[str, Any] | None) -> Step | None:
        return None if d is None else Step(**d)

    return Plan(
        decision_id=doc["decision_id"],
        action=doc["action"],
        mode=doc["mode"],
        target=Target(**doc["target"]),
        steps=tuple(
            PlannedStep(step(s["step"]), s["primary"], s["when"])  # type: ignore[arg-type]
            for s in doc["steps"]
        ),
        scheduled=tuple(
            Scheduled(s["phase"], s["due_at"], step(s["step"]), s["final_until"])
            for s in doc["scheduled"]
        ),
        refused=doc["refused"],
        unsupported=doc["unsupported"],
        partial=doc["partial"],
        notes=tuple(doc["notes"]),
        cancels=tuple(doc["cancels"]),
    )


def record_event(
    *,
    event_id: str,
    group_key: str,
    user_id: str,
    now: float,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The envelope of an event the enforcer makes (actor: the service, role system)."""
    platform, group_id = split_group_key(group_key)
    at = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    return {
        "event_id": event_id,
        "type": "enforcement.recorded",
        "schema_version": 1,
        "occurred_at": at,
        "received_at": at,
        "platform": platform,
        "group_id": group_id,
        "user_id": user_id,
        "actor": ACTOR,
        "payload": payload,
    }


def call_line(records: list[StepRecord]) -> str:
    return "; ".join(r.call for r in records if r.result != "skipped")[:4096]


def call_dicts(records: list[StepRecord]) -> list[dict[str, Any]]:
    """The steps as the record's `calls` (shared.events.CallRecord)."""
    return [
        {
            "step": r.kind,
            "call": r.call or "none",
            "params": r.params,
            "result": r.result,
            "status": r.status,
            "error": None if r.error is None else r.error[:4096],
            "attempts": r.attempts,
        }
        for r in records
    ]


def payload_of(
    plan: Plan,
    records: list[StepRecord],
    *,
    rule_id: str | None,
    bot: str | None,
    phase: EnforcementPhase = "apply",
) -> dict[str, Any]:
    outcome, error = outcome_of(plan, records)
    notes = list(plan.notes)
    if plan.scheduled:
        notes.extend(
            f"{s.phase} due {datetime.fromtimestamp(s.due_at, UTC).isoformat()}"
            for s in plan.scheduled
        )
    payload: dict[str, Any] = {
        "decision_id": plan.decision_id,
        "action": plan.action,
        "outcome": outcome,
        "platform_call": call_line(records),
        "attempts": sum(r.attempts for r in records),
        "phase": phase,
        "mode": plan.mode,
        "calls": call_dicts(records),
    }
    if error:
        payload["error"] = error[:4096]
    if rule_id:
        payload["rule_id"] = rule_id
    if bot:
        payload["bot"] = bot
    if plan.scheduled:
        payload["scheduled_at"] = (
            datetime.fromtimestamp(min(s.due_at for s in plan.scheduled), UTC)
            .isoformat()
            .replace("+00:00", "Z")
        )
    if notes:
        payload["note"] = "; ".join(notes)[:4096]
    return payload


class Enforcer:
    """Carries decisions out; shared by the consumer (apply) and the scheduler."""

    def __init__(
        self,
        settings: Settings,
        store: EnforcementStore,
        limiter: StoreLimiter,
        bots: Bots,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        self.limiter = limiter
        self.bots = bots
        self.clock = clock
        self.sleep = sleep
        self.log = get_logger(service=SERVICE)

    # ------------------------------------------------------------------ one decision

    async def carry_out(self, decision: Decision) -> dict[str, Any] | None:
        """The decision's record to publish (None: its group is `off`, the record is
        published already, or another replica holds the decision)."""
        if decision.enforcement == "off":
            return None
        platform, _ = split_group_key(decision.group_key)
        client, may_call = self.bots.client(platform, decision.bot)
        if client is None:
            may_call = False
        mode, notes = effective_mode(
            decision,
            force_dry_run=self.settings.enforcement_force_dry_run,
            has_credentials=may_call,
        )
        entry_id = ledger_id(decision.group_key, decision.decision_id)
        plan = plan_decision(
            decision, mode=mode, now=self.clock(), max_age_s=MAX_AGE_S, notes=tuple(notes)
        )
        records = [StepRecord(kind=s.step.kind, call="") for s in plan.steps]
        quiet = plan.mode == "dry_run" or plan.refused is not None or client is None
        if quiet:
            doc = self._quiet_entry(decision, plan, records, client, entry_id)
        else:
            doc = {
                "_id": entry_id,
                "group_key": decision.group_key,
                "decision_id": decision.decision_id,
                "state": "open",
                "plan": plan_to_doc(plan),
                "steps": [asdict(r) | {"state": "pending"} for r in records],
                "opened_at": self.clock(),
            }
        # The intent (or, when nothing will be called, the whole entry) before any call;
        # an entry already there (a restart, a redelivery) is the one in force.
        entry = await self.store.open_entry(doc)
        if entry.get("state") == "recorded":
            if entry is doc:
                await self._cancel(decision, plan)
                self._count(plan, doc["record"]["payload"]["outcome"])
            return None if entry.get("published") else dict(entry["record"])
        # Open: this run's intent, or an earlier run's that a crash interrupted. Its plan
        # is in force (its times were fixed then), whatever this run would plan now.
        plan = plan_from_doc(entry["plan"])
        records = [StepRecord(**_plain(r)) for r in entry["steps"]]
        states = [str(r.get("state", "pending")) for r in entry["steps"]]
        stopped = None
        if client is None or not may_call:
            stopped = "the group's bot has no credentials any more: not carried out"
        elif self.settings.enforcement_force_dry_run:
            stopped = "the kill switch was turned on before this step: not carried out"
        if stopped is not None:
            for record, state in zip(records, states, strict=True):
                if state == "sending":
                    record.result, record.error = "unknown", LOST
                elif state != "final":
                    record.result, record.error = "failed", stopped
        else:
            assert client is not None
            taken = await self._run_steps(entry_id, plan, records, states, client, decision.bot)
            if not taken:
                return None  # another replica is carrying this decision out
        return await self._finish(decision, plan, records, entry_id)

    def _quiet_entry(
        self,
        decision: Decision,
        plan: Plan,
        records: list[StepRecord],
        client: PlatformClient | None,
        entry_id: str,
    ) -> dict[str, Any]:
        """The finished entry of a decision that makes no call: dry_run's description of
        the calls, or the reason it is refused."""
        now = self.clock()
        if plan.refused is None and client is not None:
            for planned, step_record in zip(plan.steps, records, strict=True):
                if planned.when != "always":
                    continue
                call, params = client.describe(planned.step, plan.target, now)
                step_record.call, step_record.params = call, dict(params)
                step_record.result = "dry_run"
        payload = payload_of(plan, records, rule_id=decision.rule_id, bot=decision.bot)
        record = record_event(
            event_id=record_event_id(decision.decision_id),
            group_key=decision.group_key,
            user_id=decision.target_user_id,
            now=now,
            payload=payload,
        )
        return {
            "_id": entry_id,
            "group_key": decision.group_key,
            "decision_id": decision.decision_id,
            "state": "recorded",
            "plan": plan_to_doc(plan),
            "steps": [asdict(r) | {"state": "final"} for r in records],
            "record": record,
            "published": False,
            "opened_at": now,
        }

    async def _cancel(self, decision: Decision, plan: Plan) -> None:
        if plan.cancels:
            await self.store.cancel_scheduled(
                decision.group_key,
                decision.target_user_id,
                list(plan.cancels),
                decision.decided_at.timestamp(),
                keep=decision.decision_id,
            )

    async def _finish(
        self, decision: Decision, plan: Plan, records: list[StepRecord], entry_id: str
    ) -> dict[str, Any]:
        now = self.clock()
        payload = payload_of(plan, records, rule_id=decision.rule_id, bot=decision.bot)
        # What this decision replaces goes first, then what it schedules itself.
        await self._cancel(decision, plan)
        if payload["outcome"] in ("executed", "partial", "unknown"):
            await self._schedule(decision, plan)
        record = record_event(
            event_id=record_event_id(decision.decision_id),
            group_key=decision.group_key,
            user_id=decision.target_user_id,
            now=now,
            payload=payload,
        )
        # Only an open entry is finished: a replica that finished it first has its record
        # in force, and that one (the same event id) is the one published.
        stored = await self.store.finish(
            entry_id, record, [asdict(r) | {"state": "final"} for r in records]
        )
        self._count(plan, stored["payload"]["outcome"])
        self.log.info(
            "decision carried out",
            event_id=stored["event_id"],
            group_key=decision.group_key,
            decision_id=decision.decision_id,
            action=plan.action,
            outcome=stored["payload"]["outcome"],
            error=stored["payload"].get("error"),
        )
        return stored

    async def _schedule(self, decision: Decision, plan: Plan) -> None:
        items = []
        for seq, item in enumerate(plan.scheduled):
            items.append(
                {
                    "_id": f"{ledger_id(decision.group_key, decision.decision_id)}|{item.phase}|{seq}",
                    "group_key": decision.group_key,
                    "decision_id": decision.decision_id,
                    "user_id": decision.target_user_id,
                    "rule_id": decision.rule_id,
                    "bot": decision.bot,
                    "action": plan.action,
                    "phase": item.phase,
                    "seq": seq,
                    "due_at": item.due_at,
                    "decided_at": decision.decided_at.timestamp(),
                    "step": None if item.step is None else asdict(item.step),
                    "final_until": item.final_until,
                    "target": asdict(plan.target),
                    "language": decision.language,
                    "status": "pending",
                    "lease_until": 0.0,
                }
            )
        await self.store.add_scheduled(items)

    def _count(self, plan: Plan, outcome: str) -> None:
        ENFORCEMENT_OUTCOMES.labels(plan.target.platform, plan.action, outcome).inc()

    # ------------------------------------------------------------------ the steps

    async def _run_steps(
        self,
        entry_id: str,
        plan: Plan,
        records: list[StepRecord],
        states: list[str],
        client: PlatformClient,
        bot: str | None,
    ) -> bool:
        """The steps not finished yet, in order; False when another replica took a send
        first (it carries the decision out, this run stands back)."""
        for i, planned in enumerate(plan.steps):
            record = records[i]
            state = states[i]
            if state == "final":
                continue
            if planned.when == "undeliverable":
                before = records[i - 1] if i else None
                if before is None or not before.undeliverable:
                    record.result = "skipped"
                    states[i] = "final"
                    continue
            send = is_send(planned.step.kind)
            if send and state == "sending":
                # It may have gone out; its answer was lost with the process.
                record.result, record.error = "unknown", LOST
                states[i] = "final"
                await self._save(entry_id, i, record, "final")
                continue
            if send:
                call, params = client.describe(planned.step, plan.target, self.clock())
                record.call, record.params = call, dict(params)
                # Pending -> sending, only if still pending: of two replicas that meet one
                # decision (a rebalance while a batch ran), one sends.
                if not await self.store.claim_send(entry_id, i, asdict(record)):
                    return False
            result, attempts = await self._call(client, planned.step, plan.target, bot)
            record.attempts += attempts
            _apply(record, result, send, attempts)
            states[i] = "final"
            if send:
                # A send's result is written at once: the window in which a restart would
                # call a delivered notice `unknown` stays one store write wide. A sanction
                # call's result rides on the finishing write: repeating it is harmless.
                await self._save(entry_id, i, record, "final")
        return True

    async def _save(self, entry_id: str, i: int, record: StepRecord, state: str) -> None:
        await self.store.set_step(entry_id, i, asdict(record) | {"state": state})

    async def call_step(
        self, client: PlatformClient, step: Step, target: Target, bot: str | None
    ) -> tuple[CallResult, int]:
        return await self._call(client, step, target, bot)

    async def _call(
        self, client: PlatformClient, step: Step, target: Target, bot: str | None
    ) -> tuple[CallResult, int]:
        """One step, paced and retried: transient answers again after the platform's wait
        (or a backoff), a bounded number of times; a send that may have arrived is never
        repeated. A rate limit is the platform saying when, not a failure: it does not use
        up the attempts, only a budget of waiting (ENFORCEMENT_RATE_LIMIT_BUDGET_S)."""
        chat = None if step.kind == "notice_private" else target.group_id
        keys = rate_keys(self.settings.enforcement_rates, target.platform, bot or "", chat)
        backoff = Backoff(0.25, self.settings.enforcement_backoff_max_s)
        attempts = failures = 0
        waited = 0.0
        first = time.monotonic()
        send = is_send(step.kind)
        while True:
            attempts += 1
            await self.limiter.acquire(keys)
            started = time.monotonic()
            result = await client.execute(step, target, self.clock())
            ENFORCEMENT_CALL_SECONDS.labels(target.platform).observe(time.monotonic() - started)
            ENFORCEMENT_CALLS.labels(
                target.platform,
                step.kind,
                "config_error" if result.config_error else result.outcome,
            ).inc()
            if result.config_error:
                self.log.error(
                    "the platform refused the bot's credentials: check the settings",
                    platform=target.platform,
                    bot=bot or "(default)",
                    error=result.error,
                )
            if result.outcome != "transient":
                return result, attempts
            if send and result.maybe_delivered:
                return result, attempts
            if send and result.retry_after is None and time.monotonic() - first > SEND_RETRY_S:
                # A platform's own duplicate guard (Discord's nonce) lasts minutes: past
                # that, a send whose answer was lost is not tried again.
                return replace(result, maybe_delivered=True), attempts
            if result.retry_after is not None:
                wait = max(result.retry_after, MIN_RETRY_AFTER_S)
                waited += wait
                if waited > self.settings.enforcement_rate_limit_budget_s:
                    return result, attempts
                ENFORCEMENT_RETRIES.labels(target.platform, "rate_limited").inc()
                # The chat (or, for a private notice, the bot) waits, on every replica.
                await self.limiter.hold(keys[-1:], self.clock() + wait)
                continue
            failures += 1
            if failures >= self.settings.enforcement_max_attempts:
                return result, attempts
            ENFORCEMENT_RETRIES.labels(target.platform, "transient").inc()
            await self.sleep(backoff.next())


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "state"}


def _apply(record: StepRecord, result: CallResult, send: bool, attempts: int) -> None:
    record.call = result.call
    record.params = dict(result.params)
    record.status = result.status
    record.error = result.error
    record.undeliverable = result.undeliverable
    if result.outcome in ("done", "already", "unsupported"):
        record.result = result.outcome
    elif result.outcome == "transient" and send and result.maybe_delivered:
        record.result = "unknown"
        record.error = f"the answer was lost ({result.error}): not sent again"
    elif result.outcome == "transient":
        record.result = "failed"
        record.error = f"gave up after {attempts} attempts: {result.error}"
    else:
        record.result = "failed"


__all__ = ["SERVICE", "Enforcer"]
