"""Event builders for the moderation unit tests (not a test module)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from services.moderation.engine import Engine, PartitionState
from shared.events import (
    Attachment,
    ComplaintFiled,
    ComplaintFiledEvent,
    ComplaintResolved,
    ComplaintResolvedEvent,
    Decision,
    Event,
    MemberJoinedEvent,
    MemberLeftEvent,
    MessagePosted,
    MessagePostedEvent,
    RulesetUpdated,
    RulesetUpdatedEvent,
    SanctionApplied,
    SanctionAppliedEvent,
    SanctionRevoked,
    SanctionRevokedEvent,
)
from shared.rules import RuleSet, default_ruleset, effective_rules

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GROUP = "-1001"
GROUP_KEY = f"telegram:{GROUP}"
_ids = itertools.count(1)


def _env(user: str, at: float, group: str, platform: str) -> dict[str, Any]:
    return {
        "event_id": f"t-{next(_ids)}",
        "schema_version": 1,
        "occurred_at": T0 + timedelta(seconds=at),
        "platform": platform,
        "group_id": group,
        "user_id": user,
    }


def msg(
    text: str,
    user: str = "u1",
    at: float = 0,
    *,
    group: str = GROUP,
    platform: str = "telegram",
    mentions: int = 0,
    media: bool = False,
    channel: str | None = None,
) -> MessagePostedEvent:
    env = _env(user, at, group, platform)
    return MessagePostedEvent(
        **env,
        payload=MessagePosted(
            message_id=f"m-{env['event_id']}",
            text=text,
            channel_id=channel,
            mentions=[f"x{i}" for i in range(mentions)],
            attachments=[Attachment(kind="image", url="https://c.example/p.png")] if media else [],
        ),
    )


def joined(user: str, at: float = 0, group: str = GROUP) -> MemberJoinedEvent:
    return MemberJoinedEvent(**_env(user, at, group, "telegram"))


def left(user: str, at: float = 0, group: str = GROUP) -> MemberLeftEvent:
    return MemberLeftEvent(**_env(user, at, group, "telegram"))


def complaint(
    reporter: str, target: str, at: float, cid: str, message_id: str | None = None
) -> ComplaintFiledEvent:
    return ComplaintFiledEvent(
        **_env(reporter, at, GROUP, "telegram"),
        payload=ComplaintFiled(
            complaint_id=cid, target_user_id=target, target_message_id=message_id, category="abuse"
        ),
    )


def resolved(cid: str, outcome: str, at: float) -> ComplaintResolvedEvent:
    return ComplaintResolvedEvent(
        **_env("op", at, GROUP, "telegram"),
        payload=ComplaintResolved(complaint_id=cid, outcome=outcome),  # type: ignore[arg-type]
    )


def sanction(
    sid: str,
    target: str,
    at: float,
    action: str = "mute",
    *,
    duration_s: int | None = None,
    reason: str = "by hand",
    message_id: str | None = None,
) -> SanctionAppliedEvent:
    """A manual act; a mute lasts 600 s unless `duration_s` says otherwise."""
    if duration_s is None and action == "mute":
        duration_s = 600
    return SanctionAppliedEvent(
        **_env("op", at, GROUP, "telegram"),
        payload=SanctionApplied(
            sanction_id=sid,
            target_user_id=target,
            action=action,  # type: ignore[arg-type]
            duration_s=duration_s,
            reason=reason,
            by_role="operator",
            target_message_id=message_id,
        ),
    )


def revoked(sid: str, at: float, reason: str = "mistake") -> SanctionRevokedEvent:
    return SanctionRevokedEvent(
        **_env("op", at, GROUP, "telegram"),
        payload=SanctionRevoked(sanction_id=sid, reason=reason),
    )


def rules_update(version: int, rules: dict[str, Any], at: float = 0) -> RulesetUpdatedEvent:
    return RulesetUpdatedEvent(
        **_env("admin", at, GROUP, "telegram"),
        payload=RulesetUpdated(version=version, rules=rules),
    )


def only(detectors: dict[str, Any], **top: Any) -> RuleSet:
    """The default ladder with just the given detectors, to test one detector at a time."""
    base = default_ruleset().model_dump(mode="json")
    base["detectors"] = {}
    return effective_rules(base, {"detectors": detectors, **top})


class Run:
    """An engine and one partition state; `feed` returns the decisions of the events."""

    def __init__(self, rules: RuleSet | None = None) -> None:
        self.engine = Engine(rules or default_ruleset())
        self.state = PartitionState()

    def feed(self, *events: Event) -> list[Decision]:
        out: list[Decision] = []
        for e in events:
            out.extend(self.engine.apply(self.state, e))
        return out


def actions(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.action, d.rule_id) for d in decisions]
