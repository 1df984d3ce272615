"""Decode cost per record: the slow path (pydantic) beside the fast one (msgspec), one run.

N simulated events are encoded as ingest publishes them (`shared.codec.encode_event`),
checked to decode to equal values on both paths, then each path decodes all of them a few
times; the best pass counts, in CPU time (process_time: a busy machine stretches wall
time, not this). Not a test (no timed assertions anywhere): run it and read it.
    uv run python -m tools.decode_bench [--events N] [--repeat R] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from shared import fast_codec
from shared.codec import decode_event, encode_event, event_from_dict
from tools.simulator import simulate

START = datetime(2026, 1, 26, tzinfo=UTC)


def records(seed: int, events: int) -> list[bytes]:
    return [encode_event(event_from_dict(raw)) for raw in simulate(seed, events, START)]


def best_pass_us(decode: Callable[[Any], Any], data: Sequence[Any], repeat: int) -> float:
    """Microseconds (CPU time) per item of the fastest of `repeat` passes over `data`."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        for item in data:
            decode(item)
        best = min(best, time.process_time() - started)
    return best / len(data) * 1e6


def check_equal(data: Sequence[bytes]) -> int:
    """How many records the fast path leaves to the slow one; raises on any difference."""
    slow_paths = 0
    for item in data:
        slow = decode_event(item)
        struct = fast_codec.decode_struct(item)
        if struct is None:
            slow_paths += 1
            struct = fast_codec.decode_event_fast(item)
        built = fast_codec.to_model(struct)
        constructed = fast_codec.to_model(struct, fast_codec.model_construct)
        if not built == constructed == fast_codec.decode_model_fast(item) == slow:
            raise SystemExit(f"the paths differ on {item[:200]!r}")
    return slow_paths


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    data = records(args.seed, args.events)
    slow_paths = check_equal(data)
    size = sum(map(len, data)) / len(data)
    print(f"{len(data)} simulated records, {size:.0f} bytes on average, best of {args.repeat}")
    print(f"records the fast path leaves to the slow one: {slow_paths}")

    slow = best_pass_us(decode_event, data, args.repeat)
    struct = best_pass_us(fast_codec.decode_event_fast, data, args.repeat)
    model = best_pass_us(fast_codec.decode_model_fast, data, args.repeat)
    structs = [fast_codec.decode_event_fast(item) for item in data]
    build = best_pass_us(fast_codec.to_model, structs, args.repeat)
    construct = best_pass_us(
        lambda s: fast_codec.to_model(s, fast_codec.model_construct), structs, args.repeat
    )
    rows = [
        ("slow: shared.codec.decode_event (json.loads + pydantic)", slow, True),
        ("fast: decode_event_fast (a msgspec Struct)", struct, True),
        ("fast: decode_model_fast (a pydantic model via build)", model, True),
        ("  of which Struct -> model by fast_codec.build", build, False),
        ("  Struct -> model by pydantic's model_construct instead", construct, False),
        ("fast: Struct + model_construct (decode + the line above)", struct + construct, True),
    ]
    for label, us, ratio in rows:
        versus = f"   {slow / us:4.1f}x faster" if ratio and us != slow else ""
        print(f"{label:58} {us:7.2f} µs/record{versus}")


if __name__ == "__main__":
    main()
