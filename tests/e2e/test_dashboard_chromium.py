"""The dashboard in a real browser: a simulated community streamed through the running
services, then headless Chromium opens GET / with the token in the URL fragment and must
draw every chart from the scoped API. The DOM after the page's script ran is read with
--dump-dom, and a screenshot is kept as a test artifact."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.ingest.rules_client import ruleset_event
from tests.support.stack import start_dev_stack
from tools.catchup import wait_caught_up
from tools.demo import DEMO_START, demo_rule_sets, post_all
from tools.simulator import simulate

pytestmark = pytest.mark.integration

SEED = 7
EVENTS = 3000


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium on PATH: apt-get install -y chromium (Debian package)")
    return found


def browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",  # we run as root in CI containers
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


class BodyAttrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.status_class: str | None = None
        self._in_status = False
        self.status = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.body = dict(attrs)
        if tag == "p" and dict(attrs).get("id") == "status":
            self._in_status = True
            self.status_class = dict(attrs).get("class")

    def handle_data(self, data: str) -> None:
        if self._in_status:
            self.status += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_status = False


@pytest.fixture(scope="module")
def community(servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    binary = chromium()  # skip before paying for a stack
    stack = start_dev_stack(servers, tmp_path_factory.mktemp("dashboard"))
    try:
        rules = [
            {
                **ruleset_event(key, 1, r, "demo-admin"),
                "occurred_at": (DEMO_START - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            }
            for key, r in demo_rule_sets(SEED).items()
        ]
        with httpx.Client(base_url=stack.ingest_url, timeout=60) as client:
            post_all(client, stack, rules, lambda n: None)
            sent = post_all(client, stack, simulate(SEED, EVENTS, DEMO_START), lambda n: None)
        assert sent == EVENTS
        asyncio.run(wait_caught_up(stack.settings, timeout=180))
        yield stack, binary
    finally:
        stack.stop()


def busiest_group(stack: Any) -> str:
    resp = httpx.get(
        f"{stack.reporting_url}/v1/groups",
        headers={"Authorization": f"Bearer {stack.tokens.auditor}"},
        timeout=30,
    )
    groups = resp.json()["items"]
    assert groups, "no group was folded"
    return str(max(groups, key=lambda g: g["messages"])["group_key"])


def test_dashboard_draws_every_chart(community: Any, artifacts_dir: Path, tmp_path: Path) -> None:
    stack, binary = community
    group = busiest_group(stack)
    # an auditor token: the dashboard is read-only and needs no more
    url = f"{stack.reporting_url}/#token={quote(stack.tokens.auditor)}&group={quote(group)}"

    dom = browser(binary, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    (artifacts_dir / "dashboard.dom.html").write_text(dom.stdout, encoding="utf-8")
    page = BodyAttrs()
    page.feed(dom.stdout)
    assert page.status_class != "error", f"the page shows an error: {page.status}"
    assert page.body.get("data-charts-ready") == "true", (page.status, dom.stdout[-1500:])
    counts = json.loads(page.body.get("data-charts") or "{}")
    assert counts["group"] == group
    for chart in ("messages", "active_users", "joins", "leaves", "violations"):
        assert counts[chart] > 0, (chart, counts)
    assert stack.tokens.auditor not in dom.stdout  # the fragment was dropped from the page

    shot = artifacts_dir / "dashboard.png"
    shot.unlink(missing_ok=True)
    png = browser(
        binary,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        url,
    )
    assert png.returncode == 0, png.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000  # a page of drawn charts, not blank


def test_dashboard_without_token_asks_for_one(community: Any, tmp_path: Path) -> None:
    stack, binary = community
    dom = browser(binary, tmp_path / "profile-none", "--dump-dom", f"{stack.reporting_url}/")
    page = BodyAttrs()
    page.feed(dom.stdout)
    assert page.body.get("data-charts-ready") in (None, "")
    assert "token" in page.status.lower()


def test_dashboard_with_a_platform_token_shows_the_refusal(community: Any, tmp_path: Path) -> None:
    stack, binary = community
    url = f"{stack.reporting_url}/#token={quote(stack.tokens.platform)}"
    dom = browser(binary, tmp_path / "profile-platform", "--dump-dom", url)
    page = BodyAttrs()
    page.feed(dom.stdout)
    assert page.status_class == "error" and "403" in page.status, page.status
    assert page.body.get("data-charts-ready") in (None, "")
