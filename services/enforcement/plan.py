"""The enforcer's pure core: a decision -> the platform steps that carry it out, and the
steps' results -> one outcome.

Nothing here reads a clock or the network: `now` is passed in, and every time a step
carries is computed from the decision itself (`decided_at + duration_s`), so a repeat of
a sanction call after a crash asks for the same absolute expiry, which is what makes the
repeat harmless. What a platform cannot hold (OneBot and Discord bans do not expire;
OneBot mutes stop at 30 days, Discord timeouts at 28, Telegram's at 366) is planned here
too: a capped mute is renewed and a timed Discord ban lifted by the scheduler, and a
timed OneBot ban is applied without its expiry, recorded `partial`, with a reminder to
the group's admins at its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from services.enforcement.calls import SEND_STEPS, Step, StepKind, Target
from services.enforcement.notices import notice_text
from shared.events import Decision, EnforcementMode, EnforcementOutcome, EnforcementPhase

# The longest mute (and timed ban) each platform holds, a little under its documented
# cap: OneBot's set_group_ban refuses 2592000 s; Discord refuses a timeout 28 days ahead
# (exactly 28 d failed in practice: clock skew); Telegram makes anything past 366 days
# permanent. A longer sanction is applied for the cap and renewed before it ends.
MUTE_CAP_S: dict[str, int] = {
    "onebot": 2_591_000,
    "discord": 28 * 86_400 - 3_600,
    "telegram": 365 * 86_400,
}
BAN_CAP_S: dict[str, int] = {"telegram": 365 * 86_400}
# Renewals are due this long before the capped sanction ends, so there is no gap.
RENEW_AHEAD_S = 600
# Platforms whose bans cannot carry an expiry.
BANS_WITHOUT_EXPIRY = frozenset({"onebot", "discord"})

StepWhen = Literal["always", "undeliverable"]
SANCTIONS: frozenset[str] = frozenset({"mute", "unmute", "kick", "ban", "unban", "remove_message"})


@dataclass(frozen=True, slots=True)
class PlannedStep:
    step: Step
    # The decision's own effect (the sanction, the removal, a warn's notice) or a notice
    # around it: the outcome follows the primary step.
    primary: bool
    # "undeliverable": a group notice that stands in when the private one cannot be
    # delivered (it runs only then, and only once).
    when: StepWhen = "always"


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A later call for this decision: lift a timed Discord ban, renew a capped mute or
    ban, remind admins that a OneBot ban has run out (or was revoked)."""

    phase: EnforcementPhase
    due_at: float
    # None for a reminder: no platform call; its record opens a queue item for admins.
    step: Step | None
    # renew: the sanction's real end (the renewal plans the next capped piece up to it);
    # None: it has no end, and is renewed for as long as no revoke cancels it
    final_until: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    decision_id: str
    action: str
    mode: EnforcementMode
    target: Target
    steps: tuple[PlannedStep, ...]
    scheduled: tuple[Scheduled, ...] = ()
    # Set when the decision cannot be carried out at all (no message id to remove, its
    # time was over, ...): no call is made and the outcome is `failed` with this reason.
    refused: str | None = None
    # The platform cannot do the primary effect: `unsupported` with this reason.
    unsupported: str | None = None
    # Done, but not all of it (a ban without its expiry): `partial` with this note.
    partial: str | None = None
    notes: tuple[str, ...] = ()
    # Pending scheduled calls of this member that this decision makes moot (an unmute
    # cancels a mute's renewals, an unban a ban's lift).
    cancels: tuple[EnforcementPhase, ...] = ()


def split_group_key(group_key: str) -> tuple[str, str]:
    platform, _, group_id = group_key.partition(":")
    return platform, group_id


def target_of(decision: Decision) -> Target:
    platform, group_id = split_group_key(decision.group_key)
    return Target(
        platform=platform,
        group_id=group_id,
        user_id=decision.target_user_id,
        message_id=decision.target_message_id,
        channel_id=decision.channel_id,
    )


def effective_mode(
    decision: Decision, *, force_dry_run: bool, has_credentials: bool
) -> tuple[EnforcementMode, list[str]]:
    """The mode a decision runs in, and why when it is not the group's own."""
    notes: list[str] = []
    mode: EnforcementMode
    if decision.enforcement is None:
        mode = "dry_run"
        notes.append("decided before decisions carried the group's enforcement mode: dry_run")
    else:
        mode = decision.enforcement
    if mode == "live" and force_dry_run:
        mode = "dry_run"
        notes.append("the deployment's kill switch forces dry_run")
    if mode == "live" and not has_credentials:
        mode = "dry_run"
        notes.append("no credentials for this platform's bot: dry_run")
    return mode, notes


def plan_decision(
    decision: Decision,
    *,
    mode: EnforcementMode,
    now: float,
    max_age_s: float,
    notes: tuple[str, ...] = (),
) -> Plan:
    """The steps that carry `decision` out on its group's platform, in order: notices
    first (a reply must precede the removal of the message it replies to, and a member
    cannot be messaged once banned), then the decision's own effect."""
    target = target_of(decision)
    platform = target.platform
    action = decision.action
    lang = decision.language or "zh-CN"
    key = decision.decision_id
    base = Plan(decision.decision_id, action, mode, target, (), notes=notes)
    decided = decision.decided_at.timestamp()
    # No duration, or 0, is a sanction without an end (moderation reads it so too).
    until = int(decided) + decision.duration_s if decision.duration_s else None

    if action == "escalate":
        return replace(
            base, notes=(*notes, "no platform call: the escalation waits for the group's admins")
        )
    if mode == "live" and now - decided > max_age_s:
        return replace(
            base,
            refused=f"decided at {decision.decided_at.isoformat()}, more than "
            f"{max_age_s:.0f} s ago: too late to carry out",
        )
    if mode == "live" and action in ("mute", "ban") and until is not None and until <= now:
        return replace(base, refused=f"its time was over (until {until}) before it was carried out")
    if action == "remove_message" and not decision.target_message_id:
        return replace(base, refused="the decision names no message to remove")

    notice = notice_text(lang, action, decision.rule_id, decision.reason, decision.duration_s)
    notices: list[PlannedStep] = []
    if decision.notify and action in ("remove_message", "mute", "kick", "ban"):
        notices = [
            PlannedStep(Step("notice_private", text=notice, key=f"{key}:dm"), primary=False),
            PlannedStep(
                Step("notice_group", text=notice, reply=True, key=f"{key}:fallback"),
                primary=False,
                when="undeliverable",
            ),
        ]
    reason = decision.reason[:512]
    scheduled: list[Scheduled] = []
    partial = None
    unsupported = None
    cancels: tuple[EnforcementPhase, ...] = ()
    kind: StepKind
    step_until = until

    if action == "warn":
        primary = Step("notice_group", text=notice, reply=bool(target.message_id), key=key)
        notices = []
    elif action == "remove_message":
        primary = Step("delete_message", key=key, reason=reason)
    elif action in ("mute", "ban"):
        kind = "mute" if action == "mute" else "ban"
        cap = (MUTE_CAP_S if kind == "mute" else BAN_CAP_S).get(platform)
        # Longer than the platform holds (or without an end, where mutes must have one):
        # the first piece now, the rest renewed before each piece ends.
        endless_mute = kind == "mute" and until is None
        if cap is not None and ((until is not None and until - decided > cap) or endless_mute):
            step_until = int(decided) + cap
            scheduled.append(
                Scheduled(
                    "renew",
                    step_until - RENEW_AHEAD_S,
                    Step(kind, until=until, key=f"{key}:renew", reason=reason),
                    final_until=until,
                )
            )
        # A new sanction replaces what was planned for the member's earlier ones (a timed
        # ban's lift must not undo a later permanent ban).
        cancels = ("lift", "renew", "remind") if kind == "ban" else ("renew",)
        if kind == "ban" and until is not None and platform in BANS_WITHOUT_EXPIRY:
            step_until = None
            if platform == "discord":
                scheduled.append(
                    Scheduled("lift", until, Step("unban", key=f"{key}:lift", reason=reason))
                )
            else:
                partial = (
                    "OneBot bans do not expire: the member is kicked and refused on rejoin; "
                    "the group's admins are reminded to re-admit them when the ban ends"
                )
                scheduled.append(Scheduled("remind", until, None))
        primary = Step(kind, until=step_until, key=key, reason=reason)
    elif action == "unmute":
        primary = Step("unmute", key=key, reason=reason)
        cancels = ("renew",)
    elif action == "unban":
        primary = Step("unban", key=key, reason=reason)
        cancels = ("lift", "renew", "remind")
    else:  # kick
        primary = Step("kick", key=key, reason=reason)

    if platform == "slack" and primary.kind in ("mute", "ban", "unban"):
        unsupported = (
            f"Slack has no per-member {primary.kind}: the group's admins must act in Slack"
        )
        # The member still hears of the decision (the platform notes say so).
        if not notices and primary.kind != "unban":
            notices = [
                PlannedStep(Step("notice_private", text=notice, key=f"{key}:dm"), primary=False)
            ]
    steps = (*notices, PlannedStep(primary, primary=True))
    return replace(
        base,
        steps=steps,
        scheduled=tuple(scheduled),
        unsupported=unsupported,
        partial=partial,
        cancels=cancels,
    )


def renewal_plan(item: Scheduled, *, now: float, platform: str) -> tuple[Step, Scheduled | None]:
    """The next capped piece of a long sanction, and the renewal after it if still short."""
    assert item.step is not None
    final = item.final_until
    cap = (MUTE_CAP_S if item.step.kind == "mute" else BAN_CAP_S)[platform]
    piece_end = int(now) + cap if final is None else min(final, int(now) + cap)
    step = replace(item.step, until=piece_end)
    if final is not None and piece_end >= final:
        return step, None
    return step, Scheduled("renew", piece_end - RENEW_AHEAD_S, item.step, final_until=final)


# ------------------------------------------------------------------ results -> outcome

StepResult = Literal["done", "already", "failed", "unsupported", "unknown", "dry_run", "skipped"]


@dataclass(slots=True)
class StepRecord:
    """What became of one planned step (the ledger keeps one per step)."""

    kind: str
    call: str
    params: dict[str, object] = field(default_factory=dict)
    result: StepResult = "skipped"
    status: int | None = None
    error: str | None = None
    attempts: int = 0
    undeliverable: bool = False


def outcome_of(plan: Plan, records: list[StepRecord]) -> tuple[EnforcementOutcome, str | None]:
    """One outcome for the decision, and the error that explains it."""
    if plan.refused is not None:
        return "failed", plan.refused
    if plan.mode == "dry_run":
        return "dry_run", None
    primary = [r for s, r in zip(plan.steps, records, strict=True) if s.primary]
    notices = [r for s, r in zip(plan.steps, records, strict=True) if not s.primary]
    if plan.unsupported is not None:
        return "unsupported", plan.unsupported
    outcome: EnforcementOutcome = "executed"
    error = None
    for record in primary:
        if record.result == "failed":
            return "failed", record.error
        if record.result == "unsupported":
            return "unsupported", record.error
        if record.result == "unknown":
            outcome, error = "unknown", record.error
    if outcome == "executed" and any(r.result == "unknown" for r in notices):
        outcome = "unknown"
        error = next(r.error for r in notices if r.result == "unknown")
    if outcome == "executed" and plan.partial is not None:
        return "partial", plan.partial
    if outcome == "executed" and notices and not any(r.result == "done" for r in notices):
        failed = [r for r in notices if r.result == "failed"]
        if failed:
            return "partial", f"the notice to the member failed: {failed[-1].error}"
    return outcome, error


def is_send(kind: str) -> bool:
    return kind in SEND_STEPS


def record_event_id(decision_id: str, phase: EnforcementPhase = "apply", seq: int = 0) -> str:
    """The id of a decision's enforcement record: derived, so a republished record is the
    same event and every reader drops the repeat."""
    if phase == "apply":
        return f"enforcement:{decision_id}"
    return f"enforcement:{decision_id}:{phase}:{seq}"
