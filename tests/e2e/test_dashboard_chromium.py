"""The dashboard in a real browser: a simulated community streamed through the running
services, then headless Chromium opens GET / with the token in the URL fragment and must
draw every chart from the scoped API. The DOM after the page's script ran is read with
--dump-dom, and a screenshot is kept as a test artifact.

The busiest group's decisions are also "enforced": records published to the events topic
as the enforcer publishes them (the first half in dry run, then live with a few failures),
so the page must show decided against executed and failed, and what would have been done."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.ingest.rules_client import ruleset_event
from shared.codec import encode_event
from shared.events import EnforcementRecordedEvent
from shared.kafka import make_producer, read_to_end
from shared.settings import Settings
from tests.support.enforcement import records as topic_records
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
        self._in: str | None = None
        self.status = ""
        self.enforcement = ""
        self.would_have: list[str] = []  # the decision ids of the dry-run list, in order

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body = found
        if tag == "p" and found.get("id") in ("status", "enforcement-figures"):
            self._in = found["id"]
            if self._in == "status":
                self.status_class = found.get("class")
        if tag == "tr" and found.get("data-decision-id"):
            self.would_have.append(str(found["data-decision-id"]))

    def handle_data(self, data: str) -> None:
        if self._in == "status":
            self.status += data
        elif self._in == "enforcement-figures":
            self.enforcement += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in = None


def api_get(stack: Any, path: str) -> Any:
    resp = httpx.get(
        f"{stack.reporting_url}{path}",
        headers={"Authorization": f"Bearer {stack.tokens.auditor}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def stand_in_records(group: str, decisions: list[dict[str, Any]]) -> list[Any]:
    """What a live enforcer records for a group's decisions: executed, but for two
    failures, one call the platform does not have and one partly done."""
    platform, group_id = group.split(":", 1)
    decisions = sorted(decisions, key=lambda d: (d["decided_at"], d["decision_id"]))
    first = ["failed", "failed", "unsupported", "partial"]
    out = []
    for i, d in enumerate(decisions):
        outcome = first[i] if i < len(first) else "executed"
        at = datetime.fromisoformat(d["decided_at"].replace("Z", "+00:00")) + timedelta(seconds=2)
        out.append(
            EnforcementRecordedEvent.model_validate(
                {
                    "event_id": f"enf-{d['decision_id']}",
                    "schema_version": 1,
                    "occurred_at": at,
                    "received_at": at,
                    "platform": platform,
                    "group_id": group_id,
                    "user_id": d["target_user_id"],
                    "actor": {"name": "enforcement", "role": "system"},
                    "payload": {
                        "decision_id": d["decision_id"],
                        "action": d["action"],
                        "outcome": outcome,
                        "mode": "live",
                        "rule_id": d["rule_id"],
                        "platform_call": f"POST /{d['action']}?user={d['target_user_id']}",
                        "attempts": 1,
                        "error": "403 not enough rights" if outcome == "failed" else None,
                    },
                }
            )
        )
    return out


async def publish(settings: Settings, records: list[Any]) -> None:
    """To the events topic, keyed by group, as the enforcer publishes."""
    producer = make_producer(settings, client_id="test-enforcer")
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(
                settings.events_topic, encode_event(r), key=r.group_key.encode()
            )
    finally:
        await producer.stop()


def by_messages(events: list[dict[str, Any]]) -> list[str]:
    """Group keys, most messages first."""
    counts = Counter(
        f"{e['platform']}:{e['group_id']}" for e in events if e["type"] == "message.posted"
    )
    return [g for g, _ in counts.most_common()]


def decisions_of(stack: Any, group: str) -> list[dict[str, Any]]:
    """The group's decisions on the decisions topic (each once) that ask for a platform
    action: every one but escalations (revokes and a person's acts included)."""
    found: dict[str, dict[str, Any]] = {}
    for record in asyncio.run(read_to_end(stack.settings, stack.settings.decisions_topic)):
        d = json.loads(record.value or b"{}")
        if d.get("group_key") == group and d.get("action") != "escalate":
            found.setdefault(d["decision_id"], d)
    return list(found.values())


def wait_enforced(stack: Any, group: str, timeout: float = 120.0) -> None:
    """Until the stack's enforcer has recorded every decision of the group."""
    deadline = time.monotonic() + timeout
    while True:
        totals = api_get(stack, f"/v1/groups/{quote(group)}/enforcement")["totals"]
        if totals["recorded"] and not totals["unrecorded"]:
            return
        assert time.monotonic() < deadline, f"enforcement of {group} incomplete: {totals}"
        time.sleep(1)


@dataclass
class Community:
    stack: Any
    binary: str
    dry: str  # the busiest group, enforced by the stack's own enforcer (dry run)
    live: str  # its enforcement off; the records a live enforcer makes are published
    stand_in: list[Any]


@pytest.fixture(scope="module")
def community(servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    binary = chromium()  # skip before paying for a stack
    stack = start_dev_stack(servers, tmp_path_factory.mktemp("dashboard"))
    try:
        events = list(simulate(SEED, EVENTS, DEMO_START))
        dry, live = by_messages(events)[:2]
        rule_sets = demo_rule_sets(SEED)
        rule_sets[live]["enforcement"] = {**rule_sets[live]["enforcement"], "mode": "off"}
        rules = [
            {
                **ruleset_event(key, 1, r, "demo-admin"),
                "occurred_at": (DEMO_START - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            }
            for key, r in rule_sets.items()
        ]
        with httpx.Client(base_url=stack.ingest_url, timeout=60) as client:
            post_all(client, stack, rules, lambda n: None)
            sent = post_all(client, stack, events, lambda n: None)
        assert sent == EVENTS
        asyncio.run(wait_caught_up(stack.settings, timeout=180))
        assert busiest_group(stack) == dry
        wait_enforced(stack, dry)
        stand_in = stand_in_records(live, decisions_of(stack, live))
        assert len(stand_in) >= 5
        asyncio.run(publish(stack.settings, stand_in))
        asyncio.run(wait_caught_up(stack.settings, timeout=120))
        yield Community(stack, binary, dry, live, stand_in)
    finally:
        stack.stop()


def busiest_group(stack: Any) -> str:
    groups = api_get(stack, "/v1/groups")["items"]
    assert groups, "no group was folded"
    return str(max(groups, key=lambda g: g["messages"])["group_key"])


def dashboard(community: Community, group: str, profile: Path) -> tuple[BodyAttrs, str]:
    """The page for one group as Chromium left it after its script ran."""
    stack = community.stack
    url = f"{stack.reporting_url}/#token={quote(stack.tokens.auditor)}&group={quote(group)}"
    dom = browser(community.binary, profile, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = BodyAttrs()
    page.feed(dom.stdout)
    assert page.status_class != "error", f"the page shows an error: {page.status}"
    assert page.body.get("data-charts-ready") == "true", (page.status, dom.stdout[-1500:])
    return page, dom.stdout


def figures_line(records: list[Any], decided: int, mode: str) -> str:
    """What the page says of a group's enforcement, from the enforcer's records."""
    outcomes = Counter(r["payload"]["outcome"] for r in records)
    waiting = sum(outcomes[o] for o in ("failed", "unsupported", "partial", "unknown"))
    return (
        f"{decided} decided, {outcomes['executed']} executed, "
        f"{outcomes['dry_run']} would have been (dry run), {outcomes['failed']} failed, "
        f"{outcomes['unsupported']} unsupported, {outcomes['partial']} partial, "
        f"{outcomes['unknown']} unknown; mode {mode}; {waiting} open in the queue"
    )


def applied(records: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """The group's apply records of platform actions, each once."""
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        key = f"{r['platform']}:{r['group_id']}"
        p = r["payload"]
        if key == group and p.get("phase", "apply") == "apply" and p["action"] != "escalate":
            seen.setdefault(r["event_id"], r)
    return list(seen.values())


def test_dashboard_draws_every_chart(
    community: Community, artifacts_dir: Path, tmp_path: Path
) -> None:
    stack, group = community.stack, community.dry
    page, dom = dashboard(community, group, tmp_path / "profile-dom")
    (artifacts_dir / "dashboard.dom.html").write_text(dom, encoding="utf-8")
    counts = json.loads(page.body.get("data-charts") or "{}")
    assert counts["group"] == group
    for chart in ("messages", "active_users", "joins", "leaves", "violations", "enforcement"):
        assert counts[chart] > 0, (chart, counts)
    assert stack.tokens.auditor not in dom  # the fragment was dropped from the page

    # What the stack's enforcer did in dry run, as the page shows it: decided against
    # what it recorded, and the latest would-dos (newest first).
    records = applied(asyncio.run(topic_records(stack.settings)), group)
    decided = len(decisions_of(stack, group))
    assert page.enforcement == figures_line(records, decided, "dry_run")
    dry = sorted(
        (r for r in records if r["payload"]["outcome"] == "dry_run"), key=lambda r: r["event_id"]
    )
    dry.sort(key=lambda r: datetime.fromisoformat(r["occurred_at"]), reverse=True)
    assert dry and page.would_have == [r["payload"]["decision_id"] for r in dry[:20]]
    assert counts["would_have"] == len(page.would_have)
    assert dry[0]["payload"]["platform_call"] in dom

    shot = artifacts_dir / "dashboard.png"
    shot.unlink(missing_ok=True)
    url = f"{stack.reporting_url}/#token={quote(stack.tokens.auditor)}&group={quote(group)}"
    png = browser(
        community.binary,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        "--hide-scrollbars",
        url,
    )
    assert png.returncode == 0, png.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000  # a page of drawn charts, not blank


def test_dashboard_shows_a_live_groups_enforcement(community: Community, tmp_path: Path) -> None:
    """Decided against executed and failed, and the open enforcement items, for a group a
    live enforcer acted in (its records published by the test: the stack's enforcer
    leaves the group alone, its rules turn enforcement off)."""
    stack, group = community.stack, community.live
    records = asyncio.run(topic_records(stack.settings))
    ours = {r.event_id for r in community.stand_in}
    assert {r["event_id"] for r in applied(records, group)} == ours  # nothing of the stack's
    page, _ = dashboard(community, group, tmp_path / "profile-live")
    counts = json.loads(page.body.get("data-charts") or "{}")
    published = [r.model_dump(mode="json") for r in community.stand_in]
    assert page.enforcement == figures_line(published, len(decisions_of(stack, group)), "live")
    assert counts["enforcement"] > 0 and counts["queue_open"] == 4
    assert counts["would_have"] == 0 and page.would_have == []


def test_dashboard_without_token_asks_for_one(community: Community, tmp_path: Path) -> None:
    stack, binary = community.stack, community.binary
    dom = browser(binary, tmp_path / "profile-none", "--dump-dom", f"{stack.reporting_url}/")
    page = BodyAttrs()
    page.feed(dom.stdout)
    assert page.body.get("data-charts-ready") in (None, "")
    assert "token" in page.status.lower()


def test_dashboard_with_a_platform_token_shows_the_refusal(
    community: Community, tmp_path: Path
) -> None:
    stack, binary = community.stack, community.binary
    url = f"{stack.reporting_url}/#token={quote(stack.tokens.platform)}"
    dom = browser(binary, tmp_path / "profile-platform", "--dump-dom", url)
    page = BodyAttrs()
    page.feed(dom.stdout)
    assert page.status_class == "error" and "403" in page.status, page.status
    assert page.body.get("data-charts-ready") in (None, "")
