"""A scripted group history with exactly the decisions it must produce.

Used by the unit tests against the pure engine and, unchanged, by the integration tests
against the real broker: publish `scripted_history()` to the events topic, read the
decisions of that group back, and compare (action, rule_id, target_user_id) in order with
`expected_decisions()`. The engine must run the built-in default rules (or
deploy/rules/default.yaml, which is the same).

The story (one zh-CN group, default rules; the rule change switches it to English):
 1. two established members chat; a spammer joins and posts a WeChat ad, a part-time
    job ad with an invite link, then an image (new members may not post media);
 2. a flooder posts ten messages in five seconds: the 9th is flooding (warned), the
    10th is only removed (a flood counts on the ladder once per window);
 3. a troll insults someone (warned); three members complain about the troll, which
    reaches the complaint threshold: a second warning and an escalation with the case;
 4. an operator mutes the troll by hand (a manual decision), then revokes it while the
    mute is in force (unmute); the troll insults again: 3rd violation (the revoked
    sanction no longer counts) -> mute 1h;
 5. a redelivered event (same event id) changes nothing;
 6. an admin switches the group to English, adds "idiot" and lowers the flood limit
    to 5 (v1); an invalid v2 and a stale v1 are ignored;
 7. "you idiot" (v1 rules, English reasons); the same ad three times -> repeat;
 8. someone offers guns for sale: serious -> remove, ban, escalate;
 9. the complaint case is rejected on review, so its violation leaves the troll's
    ladder; the troll insults once more -> 3rd violation again -> mute 1h;
10. the flooder posts 6 messages quickly: over the new limit of 5; mention spam.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import (
    Actor,
    Attachment,
    ComplaintFiled,
    ComplaintFiledEvent,
    ComplaintResolved,
    ComplaintResolvedEvent,
    Event,
    MemberJoinedEvent,
    MessagePosted,
    MessagePostedEvent,
    RulesetUpdated,
    RulesetUpdatedEvent,
    SanctionApplied,
    SanctionAppliedEvent,
    SanctionRevoked,
    SanctionRevokedEvent,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

ALICE, BOB, CAROL, DAVE = "1001", "1002", "1003", "1004"
SPAMMER, FLOODER, TROLL, SELLER = "6666", "7777", "8888", "5555"
OPERATOR, ADMIN = "9001", "9002"

RULES_V1: dict[str, Any] = {
    "language": "en",
    "detectors": {
        "abuse-words": {
            "kind": "keywords",
            "category": "abuse",
            "keywords": ["傻逼", "煞笔", "操你妈", "fuck you", "asshole", "idiot"],
        },
        "flood": {"max_messages": 5},
    },
}
RULES_V2_INVALID: dict[str, Any] = {"detectors": {"flood": {"max_messages": 0}}}


class _Script:
    def __init__(self, platform: str, group_id: str, id_prefix: str) -> None:
        self.platform = platform
        self.group_id = group_id
        self.prefix = id_prefix
        self.events: list[Event] = []
        self.n = 0

    def _env(self, user_id: str, at_s: float, actor: Actor | None = None) -> dict[str, Any]:
        self.n += 1
        return {
            "event_id": f"{self.prefix}-{self.n:03d}",
            "schema_version": 1,
            "occurred_at": START + timedelta(seconds=at_s),
            "platform": self.platform,
            "group_id": self.group_id,
            "user_id": user_id,
            "actor": actor,
        }

    def say(
        self,
        user_id: str,
        at_s: float,
        text: str,
        *,
        mentions: int = 0,
        image: bool = False,
    ) -> None:
        env = self._env(user_id, at_s)
        payload = MessagePosted(
            message_id=f"{self.prefix}-m{self.n:03d}",
            text=text,
            mentions=[str(2000 + i) for i in range(mentions)],
            attachments=[Attachment(kind="image", url="https://cdn.example/a.png")]
            if image
            else [],
        )
        env["schema_version"] = 2
        self.events.append(MessagePostedEvent(**env, payload=payload))

    def join(self, user_id: str, at_s: float) -> None:
        self.events.append(MemberJoinedEvent(**self._env(user_id, at_s)))

    def complain(self, reporter: str, at_s: float, complaint_id: str, target: str) -> None:
        payload = ComplaintFiled(
            complaint_id=f"{self.prefix}-{complaint_id}",
            target_user_id=target,
            category="abuse",
            reason="keeps insulting people",
        )
        self.events.append(ComplaintFiledEvent(**self._env(reporter, at_s), payload=payload))

    def resolve(self, at_s: float, complaint_id: str, outcome: str) -> None:
        actor = Actor(name="ops-lead", role="operator")
        payload = ComplaintResolved(
            complaint_id=f"{self.prefix}-{complaint_id}",
            outcome=outcome,  # type: ignore[arg-type]
            note="reviewed the chat log",
        )
        self.events.append(
            ComplaintResolvedEvent(**self._env(OPERATOR, at_s, actor), payload=payload)
        )

    def sanction(self, at_s: float, sanction_id: str, target: str) -> None:
        actor = Actor(name="ops-lead", role="operator")
        payload = SanctionApplied(
            sanction_id=f"{self.prefix}-{sanction_id}",
            target_user_id=target,
            action="mute",
            duration_s=600,
            reason="manual mute after the complaints",
            by_role="operator",
        )
        self.events.append(
            SanctionAppliedEvent(**self._env(OPERATOR, at_s, actor), payload=payload)
        )

    def revoke(self, at_s: float, sanction_id: str) -> None:
        actor = Actor(name="ops-lead", role="operator")
        payload = SanctionRevoked(
            sanction_id=f"{self.prefix}-{sanction_id}", reason="muted the wrong member"
        )
        self.events.append(
            SanctionRevokedEvent(**self._env(OPERATOR, at_s, actor), payload=payload)
        )

    def rules(self, at_s: float, version: int, rules: dict[str, Any]) -> None:
        actor = Actor(name="group-admin", role="admin")
        payload = RulesetUpdated(version=version, rules=rules)
        self.events.append(RulesetUpdatedEvent(**self._env(ADMIN, at_s, actor), payload=payload))

    def redeliver(self, index: int) -> None:
        self.events.append(self.events[index])


def scripted_history(
    platform: str = "telegram", group_id: str = "-1009001", id_prefix: str = "scn"
) -> list[Event]:
    """The events of the story above; pass another group/prefix for a fresh run."""
    s = _Script(platform, group_id, id_prefix)
    # 1. chat, a spammer joins and advertises
    s.say(ALICE, 0, "大家好，今天的分享会几点开始？")
    s.say(BOB, 10, "晚上8点，老地方见")
    s.join(SPAMMER, 20)
    s.say(SPAMMER, 30, "加微信 vip_8888 领取福利")
    s.say(SPAMMER, 40, "兼职日结，详情进群 t.me/+JoinNow123")
    s.say(SPAMMER, 50, "看图", image=True)
    # 2. a flooder: ten messages in five seconds
    for i in range(10):
        s.say(FLOODER, 60 + i * 0.5, f"第{i + 1}条")
    # 3. a troll, and a complaint wave against them
    s.say(TROLL, 100, "你就是个傻逼")
    s.complain(ALICE, 110, "cmp-1", TROLL)
    s.complain(BOB, 120, "cmp-2", TROLL)
    s.complain(CAROL, 130, "cmp-3", TROLL)
    # 4. a manual mute, revoked; the troll again
    s.sanction(200, "s-1", TROLL)
    s.revoke(300, "s-1")
    s.say(TROLL, 400, "傻 逼 吧 你")
    # 5. a redelivered event changes nothing
    s.redeliver(3)
    # 6. the rules change midway; an invalid and a stale update are ignored
    s.rules(500, 1, RULES_V1)
    s.rules(510, 2, RULES_V2_INVALID)
    s.rules(520, 1, {"language": "zh-CN"})
    # 7. under v1
    s.say(DAVE, 600, "you IDIOT")
    s.say(BOB, 700, "Cheap followers, order now: code 1")
    s.say(BOB, 710, "cheap followers , order now : code 2")
    s.say(BOB, 720, "Cheap followers, order now: code 3")
    # 8. a serious violation
    s.say(SELLER, 800, "出售枪支，价格私聊")
    # 9. the complaint case is rejected; the troll insults once more
    s.resolve(900, "cmp-2", "rejected")
    s.say(TROLL, 1000, "ｓｂ，傻逼")
    # 10. the new flood limit, and mention spam
    for i in range(6):
        s.say(FLOODER, 1100 + i, f"msg {i}")
    s.say(DAVE, 1200, "everyone look", mentions=6)
    return s.events


def expected_decisions() -> list[tuple[str, str, str]]:
    """(action, rule_id, target_user_id) of every decision, in the order emitted."""
    return [
        # 1. spammer: WeChat ad (1st), job ad (2nd), image as a new member (3rd)
        ("remove_message", "contacts", SPAMMER),
        ("warn", "contacts", SPAMMER),
        ("remove_message", "spam-words", SPAMMER),
        ("warn", "spam-words", SPAMMER),
        ("remove_message", "new-members", SPAMMER),
        ("mute", "new-members", SPAMMER),
        # 2. flooder: the 9th message floods, the 10th is only removed
        ("remove_message", "flood", FLOODER),
        ("warn", "flood", FLOODER),
        ("remove_message", "flood", FLOODER),
        # 3. troll: insult (1st), complaint threshold (2nd) + escalation with the case
        ("remove_message", "abuse-words", TROLL),
        ("warn", "abuse-words", TROLL),
        ("warn", "complaints", TROLL),
        ("escalate", "complaints", TROLL),
        # 4. the manual mute and its revoke are decisions; the revoked mute does not
        # count: 3rd violation
        ("mute", "manual", TROLL),
        ("unmute", "manual", TROLL),
        ("remove_message", "abuse-words", TROLL),
        ("mute", "abuse-words", TROLL),
        # 7. v1 rules
        ("remove_message", "abuse-words", DAVE),
        ("warn", "abuse-words", DAVE),
        ("remove_message", "repeat", BOB),
        ("warn", "repeat", BOB),
        # 8. serious
        ("remove_message", "illegal-goods", SELLER),
        ("ban", "illegal-goods", SELLER),
        ("escalate", "illegal-goods", SELLER),
        # 9. case rejected: the troll is back at a 3rd violation
        ("remove_message", "abuse-words", TROLL),
        ("mute", "abuse-words", TROLL),
        # 10. 6 messages > 5 (flooder's 2nd violation), mention spam (dave's 2nd)
        ("remove_message", "flood", FLOODER),
        ("warn", "flood", FLOODER),
        ("remove_message", "mentions", DAVE),
        ("warn", "mentions", DAVE),
    ]
