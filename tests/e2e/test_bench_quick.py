"""`modstream bench --quick` as a smoke test: every stage runs and measures a real figure
for each of its rows, beside a measured baseline where the row has one. It asserts no
speed (these machines are shared; speeds are for `make bench`).

The bench run takes up to 20 minutes on two cores: it is marked `slow`, so `make test`
skips it and `make test-slow` runs it; the checks of the table run everywhere."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each row's figure, and whether it is measured beside a baseline.
ROWS = {
    "events/s accepted over HTTP": True,
    "ingest peak RSS": False,
    "moderation peak RSS": False,
    "events/s, one process": True,
    "events/s, two processes": True,
    "reporting peak RSS": False,
    "fold events/s": True,
    "MongoDB writes per 1,000 records": True,
    "latency p50": False,
    "latency p95": False,
    "latency p99": False,
    "activity projection from": False,
    "what-if replay of": False,
}
HEADER = ["stage", "figure", "value", "unit", "baseline", "baseline value", "ratio"]


def number(cell: str) -> float:
    """A figure as written by tools/bench.py (`1,234.5`); NaN when it is not a number."""
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return math.nan


def table_rows(markdown: str) -> list[dict[str, str]]:
    """The figures table of docs/benchmarks.md as dicts keyed by its header."""
    lines = [line.strip() for line in markdown.splitlines() if line.strip().startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    start = next(i for i, row in enumerate(cells) if row[: len(HEADER)] == HEADER)
    header = cells[start]
    return [dict(zip(header, row, strict=True)) for row in cells[start + 2 :]]


def check_figures(markdown: str) -> list[str]:
    """What is wrong with the figures (empty when every row has a positive value and, where
    it has a baseline, a positive baseline value)."""
    rows = table_rows(markdown)
    problems: list[str] = []
    for label, has_baseline in ROWS.items():
        found = [r for r in rows if r["figure"].startswith(label)]
        if len(found) != 1:
            problems.append(f"{label}: {len(found)} rows")
            continue
        row = found[0]
        value = number(row["value"])
        if not value > 0:  # also catches NaN
            problems.append(f"{label}: value {row['value']!r} is not a positive number")
        if has_baseline:
            base = number(row["baseline value"])
            if not row["baseline"] or not base > 0:
                problems.append(
                    f"{label}: baseline {row['baseline']!r} = {row['baseline value']!r} "
                    "is not a positive number"
                )
            elif not number(row["ratio"]) >= 0:
                problems.append(f"{label}: ratio {row['ratio']!r}")
    return problems


def test_figure_checks_refuse_missing_or_empty_figures() -> None:
    good = "\n".join(
        [
            "| " + " | ".join([*HEADER, "target", "note"]) + " |",
            "|---|---|---:|---|---|---:|---:|---|---|",
            *(
                f"| s | {label} x | 12.5 | u | {'base' if b else ''} | {'3.0' if b else ''} | "
                f"{'4.17' if b else ''} |  |  |"
                for label, b in ROWS.items()
            ),
        ]
    )
    assert check_figures(good) == []
    assert check_figures(good.replace("| 12.5 |", "| nan |", 1))
    assert check_figures(good.replace("| 12.5 |", "| 0.0 |", 1))
    assert check_figures(good.replace("| 3.0 |", "|  |", 1))
    assert check_figures(good.replace("| s | latency p99 x", "| s | latency p98 x"))


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quick_bench_measures_every_figure(tmp_path: Path) -> None:
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
    problems = check_figures(table)
    assert problems == [], "\n".join(problems) + "\n" + table
    assert "identical decisions" in table  # one vs two moderation processes
