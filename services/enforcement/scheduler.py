"""Later calls the platforms cannot keep for us: a timed Discord ban's lift, the renewal
of a mute (or Telegram ban) longer than the platform holds, and the reminder to admins
that a OneBot ban (which cannot expire) has run out.

What is due and when comes from the decisions alone (each item is written with its
decision's ledger entry, due at `decided_at + duration_s` or the cap), so it is
deterministic from the stream and survives restarts: the items live in the store, and
any replica takes a due one under a lease. Each item is its own outbox: its record is
written on the item before it is published, and published again under the same id until
the broker has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from faststream.kafka import KafkaBroker

from services.enforcement.bots import Bots
from services.enforcement.calls import Step, Target
from services.enforcement.executor import SERVICE, Enforcer, call_dicts, record_event
from services.enforcement.plan import Scheduled, StepRecord, record_event_id, renewal_plan
from services.enforcement.store import EnforcementStore
from shared.logging import get_logger
from shared.metrics import ENFORCEMENT_OUTCOMES, ENFORCEMENT_SCHEDULED
from shared.settings import Settings

# How long a replica holds a due item: longer than its call with retries can take (the
# rate-limit budget, the attempts and their backoff).
LEASE_S = 1800.0
# A lift or renewal that cannot be made now (transient failures used up, calls switched
# off) is tried again after this, doubling, at most an hour apart: it is never dropped.
RETRY_FIRST_S = 30.0
RETRY_MAX_S = 3600.0


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        enforcer: Enforcer,
        store: EnforcementStore,
        broker: KafkaBroker,
        bots: Bots,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.enforcer = enforcer
        self.store = store
        self.broker = broker
        self.bots = bots
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.log = get_logger(service=SERVICE)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Poll for due items until stopped; a store or broker failure waits a poll."""
        while not self._stop.is_set():
            try:
                await self.publish_pending()
                while await self.run_due_once():
                    pass
                ENFORCEMENT_SCHEDULED.set(await self.store.pending_scheduled())
            except Exception as err:  # the loop must outlive an outage of the store
                self.log.warning("scheduler pass failed; retrying", error=repr(err))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.enforcement_schedule_poll_s)

    async def run_due_once(self) -> bool:
        """Carry out one due item, if any; whether one was found."""
        now = self.clock()
        item = await self.store.claim_due(now, self.owner, LEASE_S)
        if item is None:
            return False
        record = await self._carry_out(item)
        if record is not None:
            await self._publish(item["_id"], record)
        return True

    async def publish_pending(self) -> None:
        """Records written on items but not yet acknowledged (a crash came between)."""
        for item in await self.store.unpublished_scheduled():
            await self._publish(item["_id"], item["record"])

    async def _publish(self, item_id: str, record: dict[str, Any]) -> None:
        await (
            await self.broker.publish(
                json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(),
                self.settings.events_topic,
                key=f"{record['platform']}:{record['group_id']}".encode(),
                no_confirm=True,
            )
        )
        await self.store.set_scheduled(item_id, {"published": True})

    async def _carry_out(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """The item's call and its record (None: it waits for another try, or another
        replica took it over)."""
        target = Target(**item["target"])
        phase = item["phase"]
        step = None if item["step"] is None else Step(**item["step"])
        client, may_call = self.bots.client(target.platform, item.get("bot"))
        live = may_call and client is not None and not self.settings.enforcement_force_dry_run
        records: list[StepRecord] = []
        next_item: Scheduled | None = None
        outcome = "executed"
        error = None
        note = None
        if step is None:
            outcome = "unsupported"
            error = (
                "the ban has ended, but OneBot v11 cannot lift a refused rejoin: "
                "the group's admins must re-admit the member by hand"
            )
        elif client is None or not live:
            # The kill switch or missing credentials: a lift or renewal must not be lost,
            # so it waits (no record) until the enforcer may call again.
            await self._later(item, "calls are off (kill switch or no credentials)")
            return None
        else:
            if phase == "renew":
                step, next_item = renewal_plan(
                    Scheduled(phase, item["due_at"], step, item["final_until"]),
                    now=self.clock(),
                    platform=target.platform,
                )
            result, attempts = await self.enforcer.call_step(client, step, target, item.get("bot"))
            if result.outcome == "transient":
                await self._later(item, result.error or "transient")
                return None
            rec = StepRecord(step.kind, result.call, dict(result.params), "failed")
            rec.status, rec.error, rec.attempts = result.status, result.error, attempts
            if result.outcome in ("done", "already", "unsupported"):
                rec.result = result.outcome
            records.append(rec)
            if rec.result == "unsupported":
                outcome, error = "unsupported", result.error
            elif rec.result == "failed":
                outcome, error = "failed", result.error
        payload: dict[str, Any] = {
            "decision_id": item["decision_id"],
            "action": item["action"],
            "outcome": outcome,
            "platform_call": "; ".join(r.call for r in records),
            "attempts": sum(r.attempts for r in records),
            "phase": phase,
            "mode": "live",
            "calls": call_dicts(records),
        }
        if error:
            payload["error"] = error
        if item.get("rule_id"):
            payload["rule_id"] = item["rule_id"]
        if item.get("bot"):
            payload["bot"] = item["bot"]
        if next_item is not None and outcome == "executed":
            note = "renewed again before this piece ends"
        if note:
            payload["note"] = note
        record = record_event(
            event_id=record_event_id(item["decision_id"], phase, int(item["seq"])),
            group_key=item["group_key"],
            user_id=item["user_id"],
            now=self.clock(),
            payload=payload,
        )
        fields = {"status": "recorded", "record": record, "published": False}
        if not await self.store.finish_scheduled(item["_id"], self.owner, fields):
            current = await self.store.schedule.find_one({"_id": item["_id"]})
            if current is None or current.get("status") != "cancelled":
                return None  # another replica holds it now and records it
            # Cancelled while its call ran: the call happened, so it is on record; nothing
            # is scheduled after it.
            await self.store.set_scheduled(item["_id"], fields)
            next_item = None
        if next_item is not None and outcome == "executed":
            seq = int(item["seq"]) + 1
            base_id = item["_id"].rsplit("|", 2)[0]
            await self.store.add_scheduled(
                [
                    {
                        **{
                            k: v
                            for k, v in item.items()
                            if k not in ("record", "published", "owner", "tries")
                        },
                        "_id": f"{base_id}|renew|{seq}",
                        "seq": seq,
                        "due_at": next_item.due_at,
                        "status": "pending",
                        "lease_until": 0.0,
                        "step": asdict(next_item.step) if next_item.step else None,
                    }
                ]
            )
        ENFORCEMENT_OUTCOMES.labels(target.platform, item["action"], outcome).inc()
        self.log.info(
            "scheduled call carried out",
            event_id=record["event_id"],
            group_key=item["group_key"],
            decision_id=item["decision_id"],
            phase=phase,
            outcome=outcome,
        )
        return record

    async def _later(self, item: dict[str, Any], why: str) -> None:
        """Try the item again later (backoff up to an hour), unless it was cancelled."""
        tries = int(item.get("tries", 0)) + 1
        delay = min(RETRY_FIRST_S * 2 ** (tries - 1), RETRY_MAX_S)
        fields = {"status": "pending", "due_at": self.clock() + delay, "tries": tries}
        if await self.store.finish_scheduled(item["_id"], self.owner, fields):
            self.log.warning(
                "scheduled call postponed",
                group_key=item["group_key"],
                decision_id=item["decision_id"],
                phase=item["phase"],
                why=why,
                retry_in_s=delay,
            )
