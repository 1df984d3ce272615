"""The moderation engine: (partition state, event) -> decisions, deterministically.

Everything here is a function of the event history and the rules: times are the events'
`occurred_at`, ids are hashes of the causing event, and the order of decisions for one
event is fixed (remove the message, then the ladder step, then any escalation). So a
replay, a restart from a snapshot, or a second instance yields the same decisions with
the same ids, and downstream drops the repeats.

Moderation is the one judge: manual acts (a sanction, a revoke) become decisions here
too, so enforcement reads one topic. Each decision carries what enforcement needs without
another lookup (the message and its channel, the group's enforcement mode, notify and bot
in the rules that decided), stamped at decision time like the timezone and language.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.moderation import complaints as cases
from services.moderation import ladder as ladders
from services.moderation import sanctions as active
from services.moderation.compiled import CompiledRules, compile_rules
from services.moderation.detectors.base import Hit, MessageContext
from services.moderation.expiry import case_due, expire_group, expire_repeats
from services.moderation.reasons import complaint_text, reason, violation_text
from services.moderation.state import (
    EXPIRY_CASE,
    EXPIRY_JOINED,
    EXPIRY_TIMES,
    GroupState,
    PartitionState,
)
from shared import fast_codec as fast
from shared.events import (
    MANUAL_RULE,
    ComplaintFiledEvent,
    ComplaintResolvedEvent,
    Decision,
    MemberJoinedEvent,
    MemberLeftEvent,
    MessagePostedEvent,
    RulesetUpdatedEvent,
    SanctionAppliedEvent,
    SanctionRevokedEvent,
)
from shared.fast_codec import AnyEvent, build
from shared.normalise import MessageText
from shared.rules import RulesError, RuleSet, effective_rules, ruleset_data

__all__ = ["Engine", "PartitionState", "decision_id"]

# How often (event time) the whole partition is swept for state no rule can still use.
SWEEP_EVERY_S = 300.0
COMPILED_CACHE_SIZE = 1024

RejectedRules = Callable[[str, str, str], None]  # (group key, event id, why)


def decision_id(event_id: str, rule_id: str, action: str) -> str:
    digest = hashlib.sha1(f"{event_id}|{rule_id}|{action}".encode()).hexdigest()
    return f"d-{digest[:24]}"


class Engine:
    def __init__(
        self,
        default_rules: RuleSet,
        *,
        on_rejected_rules: RejectedRules | None = None,
    ) -> None:
        self.default_rules = default_rules
        self.default_data = ruleset_data(default_rules)
        self.default_compiled = compile_rules(default_rules, 0)
        self.on_rejected_rules = on_rejected_rules
        self._cache: OrderedDict[tuple[str, int, str], CompiledRules] = OrderedDict()
        self._handlers: dict[
            str, Callable[[PartitionState, GroupState, Any, float], list[Decision]]
        ]
        self._handlers = {
            "message.posted": self._on_message,
            "member.joined": self._on_joined,
            "member.left": self._on_left,
            "complaint.filed": self._on_complaint,
            "complaint.resolved": self._on_resolved,
            "sanction.applied": self._on_sanction,
            "sanction.revoked": self._on_revoked,
            "ruleset.updated": self._on_ruleset,
            # The enforcer's record of what it did: nothing for the judge to decide.
            "enforcement.recorded": lambda state, g, ev, at: [],
        }

    # ------------------------------------------------------------------ entry point

    def apply(self, state: PartitionState, event: AnyEvent) -> list[Decision]:
        """Fold one event into the state; the decisions it causes, in a fixed order.

        An event this state has already applied yields nothing (a redelivery, or a retry
        ingest published twice). Ids are owned by their group: the same id in another
        group is another event.
        """
        if not state.mark_seen(f"{event.event_id} {event.group_key}"):
            return []
        at = event.occurred_at.timestamp()
        g = state.group(event.group_key)
        if at > g.clock:
            g.clock = at
        if at > state.clock:
            state.clock = at
        decisions = self._handlers[event.type](state, g, event, at)
        if state.clock - state.swept_at >= SWEEP_EVERY_S:
            self._sweep(state)
        return decisions

    def rules_for(self, state: PartitionState, group_key: str) -> CompiledRules:
        """The rules a group of this state currently runs under."""
        return self._rules(state.group(group_key), group_key)

    # ------------------------------------------------------------------ rules

    def _rules(self, g: GroupState, group_key: str) -> CompiledRules:
        owned = g.compiled
        if owned is not None and owned[0] is self:
            compiled: CompiledRules = owned[1]
            return compiled
        if g.rules_raw is None:
            compiled = self.default_compiled
        else:
            compiled = self._compile(group_key, g.version, g.rules_raw) or self.default_compiled
        g.compiled = (self, compiled)
        return compiled

    def _compile(self, group_key: str, version: int, raw: dict[str, Any]) -> CompiledRules | None:
        digest = hashlib.sha1(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        key = (group_key, version, digest)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        try:
            rules = effective_rules(self.default_data, raw, source=f"{group_key} v{version}")
        except (RulesError, ValueError, TypeError) as err:  # bad data must not stop the stream
            if self.on_rejected_rules is not None:
                self.on_rejected_rules(group_key, f"v{version}", str(err))
            return None
        compiled = compile_rules(rules, version)
        self._cache[key] = compiled
        if len(self._cache) > COMPILED_CACHE_SIZE:
            self._cache.popitem(last=False)
        return compiled

    def _on_ruleset(
        self,
        state: PartitionState,
        g: GroupState,
        ev: RulesetUpdatedEvent | fast.RulesetUpdatedEvent,
        at: float,
    ) -> list[Decision]:
        p = ev.payload
        if p.version <= g.version:
            return []
        raw = json.loads(json.dumps(p.rules))  # a plain, JSON-safe copy for the snapshot
        compiled = self._compile(ev.group_key, p.version, raw)
        if compiled is None:  # invalid: keep the rules in force
            return []
        g.version = p.version
        g.rules_raw = raw
        g.compiled = (self, compiled)
        return []

    # ------------------------------------------------------------------ members

    def _on_joined(
        self,
        state: PartitionState,
        g: GroupState,
        ev: MemberJoinedEvent | fast.MemberJoinedEvent,
        at: float,
    ) -> list[Decision]:
        period = self._rules(g, ev.group_key).new_member_period
        if period:
            g.joined[ev.user_id] = at
            g.schedule(at + period, EXPIRY_JOINED, ev.user_id)
        return []

    def _on_left(
        self,
        state: PartitionState,
        g: GroupState,
        ev: MemberLeftEvent | fast.MemberLeftEvent,
        at: float,
    ) -> list[Decision]:
        g.joined.pop(ev.user_id, None)
        return []

    # ------------------------------------------------------------------ messages

    def _on_message(
        self,
        state: PartitionState,
        g: GroupState,
        ev: MessagePostedEvent | fast.MessagePostedEvent,
        at: float,
    ) -> list[Decision]:
        rules = self._rules(g, ev.group_key)
        user_id = ev.user_id
        horizon = rules.times_horizon
        if horizon:
            times = g.times.get(user_id)
            if times is None:
                g.times[user_id] = [at]
                g.schedule(at + horizon, EXPIRY_TIMES, user_id)
            else:
                if at >= times[-1]:
                    times.append(at)
                else:
                    insort(times, at)
                cutoff = at - horizon
                if times[0] <= cutoff:
                    del times[: bisect_right(times, cutoff)]
        p = ev.payload
        ctx = MessageContext(
            ev.event_id,
            at,
            ev.platform,
            ev.group_key,
            user_id,
            MessageText(p.text),
            len(p.mentions),
            p.attachments,
            g,
            state,
        )
        hits: list[Hit] = []
        for detector in rules.detectors:
            hit = detector.check(ctx)
            if hit is not None:
                hits.append(hit)
        if not hits:
            return []
        return self._message_decisions(rules, g, ev, at, hits)

    def _message_decisions(
        self,
        rules: CompiledRules,
        g: GroupState,
        ev: MessagePostedEvent | fast.MessagePostedEvent,
        at: float,
        hits: list[Hit],
    ) -> list[Decision]:
        """One message, one violation: the most severe hit decides, the message goes."""
        primary = next((h for h in hits if h.serious), next((h for h in hits if h.counts), hits[0]))
        lang = rules.language
        why = violation_text(lang, primary.rule_id, primary.kind, primary.matched, primary.detail)
        message_id = ev.payload.message_id
        channel_id = ev.payload.channel_id
        out = [
            self._decision(
                ev,
                rules,
                "remove_message",
                primary.rule_id,
                ev.user_id,
                reason(lang, "remove_message", why),
                matched=primary.matched,
                target_message_id=message_id,
                channel_id=channel_id,
            )
        ]
        if primary.serious or primary.counts:
            count = ladders.add_violation(g, ev.user_id, at, f"e:{ev.event_id}", rules.ladder)
            sanction = ladders.sanction_for(rules.ladder, count, primary.serious)
            out.extend(
                self._sanction_decisions(
                    g,
                    ev,
                    at,
                    rules,
                    sanction,
                    primary.rule_id,
                    ev.user_id,
                    why,
                    matched=primary.matched,
                    cause=[ev.event_id],
                    case_id=None,
                    target_message_id=message_id,
                    channel_id=channel_id,
                )
            )
        return out

    # ------------------------------------------------------------------ sanctions

    def _sanction_decisions(
        self,
        g: GroupState,
        ev: AnyEvent,
        at: float,
        rules: CompiledRules,
        sanction: ladders.Sanction,
        rule_id: str,
        target_user_id: str,
        why: str,
        *,
        matched: str | None,
        cause: list[str],
        case_id: str | None,
        target_message_id: str | None,
        channel_id: str | None = None,
    ) -> list[Decision]:
        lang = rules.language
        count = None if sanction.serious else sanction.count
        decided = self._decision(
            ev,
            rules,
            sanction.action,
            rule_id,
            target_user_id,
            reason(
                lang,
                sanction.action,
                why,
                count=count,
                duration_s=sanction.duration_s,
                serious=sanction.serious,
            ),
            duration_s=sanction.duration_s,
            matched=matched,
            cause=cause,
            case_id=case_id,
            target_message_id=target_message_id,
            channel_id=channel_id,
        )
        # a mute or ban of the engine's own can be revoked by its decision id
        active.remember(
            g,
            active.decision_ref(decided.decision_id),
            target_user_id,
            sanction.action,
            at,
            sanction.duration_s,
        )
        out = [decided]
        if sanction.escalate:
            out.append(
                self._decision(
                    ev,
                    rules,
                    "escalate",
                    rule_id,
                    target_user_id,
                    reason(lang, "escalate", why, count=count, serious=sanction.serious),
                    matched=matched,
                    cause=cause,
                    case_id=case_id,
                    target_message_id=target_message_id,
                    channel_id=channel_id,
                )
            )
        return out

    def _on_sanction(
        self,
        state: PartitionState,
        g: GroupState,
        ev: SanctionAppliedEvent | fast.SanctionAppliedEvent,
        at: float,
    ) -> list[Decision]:
        """A manual sanction is a violation on the ladder and a decision, with the person's
        own words as its reason, so enforcement carries it out like any other.

        The same sanction id posted again while it is on the target's ladder is the same
        act: it counts once, and it is decided once."""
        rules = self._rules(g, ev.group_key)
        p = ev.payload
        ref = active.manual_ref(p.sanction_id)
        history = ladders.live(
            g.violations.get(p.target_user_id, []), at, rules.ladder.expire_after
        )
        if any(r == ref for _, r in history):
            return []
        ladders.add_violation(g, p.target_user_id, at, ref, rules.ladder)
        active.remember(g, ref, p.target_user_id, p.action, at, p.duration_s)
        return [
            self._decision(
                ev,
                rules,
                p.action,
                MANUAL_RULE,
                p.target_user_id,
                p.reason,
                duration_s=p.duration_s,
                target_message_id=p.target_message_id,
            )
        ]

    def _on_revoked(
        self,
        state: PartitionState,
        g: GroupState,
        ev: SanctionRevokedEvent | fast.SanctionRevokedEvent,
        at: float,
    ) -> list[Decision]:
        """A revoke takes a manual sanction off the ladder; a mute or ban still in force
        (a manual one by its sanction id, the engine's own by its decision id) is lifted by
        an unmute or unban decision. Anything else (unknown, over, revoked before) needs
        nothing lifted."""
        p = ev.payload
        ladders.remove_violation(g, active.manual_ref(p.sanction_id))
        lifted = active.take_revoked(g, p.sanction_id, at)
        if lifted is None:
            return []
        target_user_id, action, _ = lifted
        return [
            self._decision(
                ev,
                self._rules(g, ev.group_key),
                active.LIFTS[action],
                MANUAL_RULE,
                target_user_id,
                p.reason,
                revokes=p.sanction_id,
            )
        ]

    # ------------------------------------------------------------------ complaints

    def _on_complaint(
        self,
        state: PartitionState,
        g: GroupState,
        ev: ComplaintFiledEvent | fast.ComplaintFiledEvent,
        at: float,
    ) -> list[Decision]:
        rules = self._rules(g, ev.group_key)
        p = ev.payload
        window = rules.complaints[1].window if rules.complaints else 0
        case = cases.file_complaint(
            g,
            ev.group_key,
            event_id=ev.event_id,
            complaint_id=p.complaint_id,
            reporter_id=ev.user_id,
            target_user_id=p.target_user_id,
            target_message_id=p.target_message_id,
            at=at,
            window=window,
        )
        if rules.complaints is None:
            return []
        rule_id, cfg = rules.complaints
        if not cases.reaches_threshold(case, at, cfg.reporters, cfg.window):
            return []
        case.triggered_at = at
        g.schedule(case_due(case, cfg.window, rules.ladder.expire_after), EXPIRY_CASE, case.case_id)
        lang = rules.language
        why = complaint_text(
            lang, cases.reporters_within(case, at, cfg.window), cfg.window, case.case_id
        )
        cause = list(case.event_ids)
        # the case's message, when its complaints named one (the channel is not known: a
        # complaint does not carry it)
        message_id = case.target[2:] if case.target.startswith("m:") else None
        out: list[Decision] = []
        escalated = False
        if cfg.sanction or cfg.serious:
            count = ladders.add_violation(
                g, case.target_user_id, at, f"c:{case.case_id}", rules.ladder
            )
            sanction = ladders.sanction_for(rules.ladder, count, cfg.serious)
            out.extend(
                self._sanction_decisions(
                    g,
                    ev,
                    at,
                    rules,
                    sanction,
                    rule_id,
                    case.target_user_id,
                    why,
                    matched=None,
                    cause=cause,
                    case_id=case.case_id,
                    target_message_id=message_id,
                )
            )
            escalated = sanction.escalate
        if cfg.escalate and not escalated:
            out.append(
                self._decision(
                    ev,
                    rules,
                    "escalate",
                    rule_id,
                    case.target_user_id,
                    reason(lang, "escalate", why),
                    cause=cause,
                    case_id=case.case_id,
                    target_message_id=message_id,
                )
            )
        return out

    def _on_resolved(
        self,
        state: PartitionState,
        g: GroupState,
        ev: ComplaintResolvedEvent | fast.ComplaintResolvedEvent,
        at: float,
    ) -> list[Decision]:
        case = cases.close_case(g, ev.payload.complaint_id)
        if case is not None and ev.payload.outcome == "rejected" and case.triggered_at is not None:
            ladders.remove_violation(g, f"c:{case.case_id}")
        return []

    # ------------------------------------------------------------------ output

    def _decision(
        self,
        ev: AnyEvent,
        rules: CompiledRules,
        action: str,
        rule_id: str,
        target_user_id: str,
        why: str,
        *,
        duration_s: int | None = None,
        matched: str | None = None,
        cause: list[str] | None = None,
        case_id: str | None = None,
        target_message_id: str | None = None,
        channel_id: str | None = None,
        revokes: str | None = None,
    ) -> Decision:
        # Built without validating again: every value is the engine's own or comes from a
        # validated event (a validated Decision cost more than deciding; the tests compare
        # the two). Every field of Decision, in its order.
        decided_at: datetime = ev.occurred_at
        enforcement = rules.rules.enforcement
        decision: Decision = build(
            Decision,
            {
                "schema_version": 2,
                "decision_id": decision_id(ev.event_id, rule_id, action),
                "group_key": ev.group_key,
                "target_user_id": target_user_id,
                "action": action,
                "duration_s": duration_s,
                "rule_id": rule_id,
                "ruleset_version": rules.version,
                "reason": why,
                "cause_event_ids": cause if cause is not None else [ev.event_id],
                "decided_at": decided_at,
                "case_id": case_id,
                "matched": matched,
                "timezone": rules.rules.timezone,
                "language": rules.language,
                "target_message_id": target_message_id,
                "channel_id": channel_id,
                "enforcement": enforcement.mode,
                "notify": enforcement.notify,
                "bot": enforcement.bot,
                "revokes": revokes,
            },
        )
        return decision

    # ------------------------------------------------------------------ bounds

    def _sweep(self, state: PartitionState) -> None:
        """Drop state no rule can use anymore, so idle members do not pile up: only what
        the expiry index says is due (services/moderation/expiry.py)."""
        now = state.clock
        state.swept_at = now
        for group_key, g in state.groups.items():
            expire_group(g, now, self._rules(g, group_key))
        expire_repeats(state, now)
