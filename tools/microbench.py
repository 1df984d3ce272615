"""Micro-benchmark of the pure engine: 100k synthetic demo-like events through Engine.apply.

Not a test (no timed assertions anywhere): run it and read the figure.
    uv run python -m tools.microbench [--events N] [--groups G]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from services.moderation.engine import PartitionState
from services.moderation.factory import make_engine
from shared.events import (
    Attachment,
    ComplaintFiled,
    ComplaintFiledEvent,
    Event,
    MemberJoinedEvent,
    MessagePosted,
    MessagePostedEvent,
)
from shared.rules import default_ruleset

_CLEAN = [
    "大家好，今天的分享会几点开始？",
    "Thanks, that fixed it for me!",
    "有没有人知道这个报错怎么解决 TypeError: 'NoneType' object is not subscriptable",
    "晚上8点直播，记得来看",
    "I think the new release notes are at the usual place",
    "好的收到👍",
    "這個問題我昨天也遇到過，重啟就好了",
    "Can someone review my PR when you have a minute? It's small.",
    "周末一起去爬山吗",
    "lol",
]
_TAILS = [
    "",
    "哈哈",
    "谢谢",
    "!",
    "?",
    "ok",
    "嗯",
    "thanks",
    "+1",
    "🙂",
    "明天见",
    "good",
    "对",
    "yes",
]
_BAD = [
    "你是个傻逼",
    "加微信 abc_12345 领取福利",
    "兼职日结，日赚 500",
    "join us t.me/+AbCdEf123",
    "b a d w o r d s, b i t c h",
    "call me 138 0013 8000",
]


def synthetic_events(n: int, groups: int, seed: int = 7) -> list[Event]:
    rng = random.Random(seed)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    events: list[Event] = []
    for i in range(n):
        at = t0 + timedelta(milliseconds=i * 50)
        gid = f"-100{rng.randrange(groups)}"
        uid = str(rng.randrange(2000))
        r = rng.random()
        common = dict(
            event_id=f"bench-{i}",
            schema_version=1,
            occurred_at=at,
            platform="telegram",
            group_id=gid,
            user_id=uid,
        )
        if r < 0.02:
            events.append(MemberJoinedEvent(**common))  # type: ignore[arg-type]
        elif r < 0.025:
            events.append(
                ComplaintFiledEvent(
                    **common,  # type: ignore[arg-type]
                    payload=ComplaintFiled(
                        complaint_id=f"c{i}",
                        target_user_id=str(rng.randrange(50)),
                        category="abuse",
                    ),
                )
            )
        else:
            if rng.random() < 0.03:
                text = rng.choice(_BAD)
            else:  # vary the chat so ordinary members do not look like repeat spammers
                text = f"{rng.choice(_CLEAN)} {rng.choice(_TAILS)}{rng.choice(_TAILS)}"
            atts = [Attachment(kind="image", url="https://x/y.png")] if rng.random() < 0.05 else []
            mentions = [str(k) for k in range(rng.choice([0] * 12 + [1, 2, 3, 7]))]
            events.append(
                MessagePostedEvent(
                    **common,  # type: ignore[arg-type]
                    payload=MessagePosted(
                        message_id=f"m{i}", text=text, mentions=mentions, attachments=atts
                    ),
                )
            )
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=50)
    args = parser.parse_args()
    events = synthetic_events(args.events, args.groups)
    engine = make_engine(default_ruleset())
    state = PartitionState()
    decisions = 0
    started = time.perf_counter()
    for event in events:
        decisions += len(engine.apply(state, event))
    elapsed = time.perf_counter() - started
    print(
        f"{len(events)} events in {elapsed:.2f}s: {len(events) / elapsed:,.0f} events/s, "
        f"{decisions} decisions"
    )


if __name__ == "__main__":
    main()
