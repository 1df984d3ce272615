"""`python -m tools.simulator`: print a sample community as JSON lines, or just its stats.

Handy for eyeballing the demo data and for measuring generation speed without a broker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import datetime

from tools.simulator.community import simulate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.simulator")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--start", default="2026-01-01T00:00:00Z", help="RFC 3339, UTC")
    parser.add_argument("--groups", type=int, default=12)
    parser.add_argument(
        "--stats", action="store_true", help="count types and time, print no events"
    )
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    stream = simulate(args.seed, args.events, start, args.groups)
    if not args.stats:
        for event in stream:
            sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        return 0
    began = time.perf_counter()
    types: Counter[str] = Counter()
    first = last = ""
    for event in stream:
        types[event["type"]] += 1
        first = first or event["occurred_at"]
        last = event["occurred_at"]
    elapsed = time.perf_counter() - began
    total = sum(types.values())
    rate = total / max(elapsed, 1e-9)
    print(f"{total} events in {elapsed:.2f} s ({rate:,.0f}/s), {first} .. {last}")
    for event_type, n in types.most_common():
        print(f"  {event_type:20s} {n:9d} {100 * n / max(total, 1):6.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
