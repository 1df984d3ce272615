"""What the reporting fold tests share: one Telegram group in Shanghai and its decisions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.reporting.folds.base import GroupContext
from shared.events import Decision

GROUP = "telegram:-1001"
SHANGHAI = GroupContext(GROUP, ZoneInfo("Asia/Shanghai"), "zh-CN")


def decision(at: str, action: str = "warn", target: str = "42", n: int = 0) -> Decision:
    """Decision `d<n>` of GROUP's advertising rule against `target`, at `at` (ISO)."""
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
