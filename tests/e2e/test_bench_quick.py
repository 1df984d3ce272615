"""`modstream bench --quick` as a smoke test: every stage runs and writes its row beside its
baseline. It asserts no speed (these machines are shared; speeds are for `make bench`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROWS = [
    "events/s accepted over HTTP",
    "ingest peak RSS",
    "moderation peak RSS",
    "events/s, one process",
    "events/s, two processes",
    "reporting peak RSS",
    "fold events/s",
    "MongoDB writes per 1,000 records",
    "latency p50",
    "latency p95",
    "latency p99",
    "activity projection from",
    "what-if replay of",
]


def test_quick_bench_fills_every_row(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODSTREAM_")}
    subprocess.run(
        [sys.executable, "-m", "services.cli", "bench", "--quick", "--out", str(out)],
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=1200,
        capture_output=True,
    )
    table = out.read_text()
    for row in ROWS:
        assert row in table, f"missing row: {row}"
    assert "identical decisions" in table  # one vs two moderation processes
    assert not re.search(r"\bnan\b", table), "a figure was not measured"
