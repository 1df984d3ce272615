"""`modstream dev` stopped with SIGTERM leaves no broker, store or service process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_dev_stack_sigterm_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODSTREAM_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "dev", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "running" in line or proc.poll() is not None:
                break
        output = "".join(lines)
        assert "running" in output, output
        tree = descendants(proc.pid)
        commands = " ".join(
            Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ") for p in tree if alive(p)
        )
        # The broker, the store and the three services all ran as separate processes.
        for part in (
            "tansu",
            "secantus",
            "services.cli ingest",
            "services.cli moderation",
            "services.cli reporting",
        ):
            assert part in commands, f"{part} not running: {commands}"
        ingest_url = next(row.split("│")[2].strip() for row in lines if "ingest API" in row)
        assert httpx.get(f"{ingest_url}/healthz", timeout=10).status_code == 200

        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        time.sleep(0.5)
        left = [p for p in tree if alive(p)]
        assert left == [], f"orphans: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
