"""`modstream demo`: the dev stack, the demo rule sets, a simulated community streamed through
ingest over HTTP, then a summary read back over the reporting API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from services.ingest.rules_client import ruleset_event
from shared.settings import Settings
from tools.catchup import positions, wait_caught_up
from tools.devstack import DevStack
from tools.simulator import (
    BANNED_KEYWORDS_EN,
    BANNED_KEYWORDS_ZH,
    community_groups,
    group_settings,
    simulate,
)

DEMO_START = datetime(2026, 9, 1, tzinfo=UTC)
DEFAULT_EVENTS = 50_000
BATCH = 500


def demo_rule_sets(seed: int) -> dict[str, dict[str, Any]]:
    """Each simulated group's rules: the default, its language and clock, the banned words."""
    from shared.rules import (
        deep_merge,
        default_ruleset,
        effective_rules,
        load_ruleset_file,
    )

    demo_file = Path(__file__).resolve().parents[2] / "deploy" / "rules" / "demo.yaml"
    groups_override: dict[str, dict[str, Any]] = {}
    default: Any = default_ruleset()
    if demo_file.exists():
        groups_override, raw_default = load_ruleset_file(demo_file)
        if raw_default:
            default = effective_rules(default, raw_default)
    out = {}
    for group_key, meta in group_settings(community_groups(seed)).items():
        override = {
            "language": meta["language"],
            "timezone": meta["timezone"],
            "detectors": {
                "community-banned": {
                    "kind": "keywords",
                    "category": "ads",
                    "keywords": sorted(set(BANNED_KEYWORDS_EN) | set(BANNED_KEYWORDS_ZH)),
                }
            },
        }
        override = deep_merge(override, groups_override.get(group_key, {}))
        out[group_key] = effective_rules(default, override).model_dump(mode="json")
    return out


def token_for(event: dict[str, Any], stack: DevStack) -> str:
    """Manual moderation is posted with the role it claims; the rest as the platform."""
    etype = event["type"]
    if etype == "sanction.applied":
        return (
            stack.tokens.admin if event["payload"]["by_role"] == "admin" else stack.tokens.operator
        )
    if etype in ("complaint.resolved", "sanction.revoked"):
        return stack.tokens.operator
    if etype == "ruleset.updated":
        return stack.tokens.admin
    return stack.tokens.platform


def batches(
    events: Iterable[dict[str, Any]], stack: DevStack, size: int = BATCH
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    chunk: list[dict[str, Any]] = []
    for token, run in groupby(events, key=lambda e: token_for(e, stack)):
        for e in run:
            chunk.append(e)
            if len(chunk) >= size:
                yield token, chunk
                chunk = []
        if chunk:
            yield token, chunk
            chunk = []


def post_all(
    client: httpx.Client,
    stack: DevStack,
    events: Iterable[dict[str, Any]],
    advance: Callable[[int], None],
) -> int:
    sent = 0
    for token, chunk in batches(events, stack):
        for _attempt in range(20):
            resp = client.post(
                "/v1/events", json=chunk, headers={"Authorization": f"Bearer {token}"}
            )
            if resp.status_code in (202, 200):
                break
            if resp.status_code in (503, 429):
                time.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            raise RuntimeError(f"ingest refused a batch: {resp.status_code} {resp.text[:500]}")
        else:
            raise RuntimeError("ingest stayed unavailable")
        sent += len(chunk)
        advance(len(chunk))
    return sent


def summary_table(stack: DevStack) -> Table:
    headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
    table = Table(title="community summary (read over the reporting API)")
    for col in (
        "group",
        "lang",
        "messages",
        "active users (max/day)",
        "joins",
        "leaves",
        "decisions",
        "complaints open/resolved",
    ):
        table.add_column(col, justify="right" if col not in ("group", "lang") else "left")
    with httpx.Client(base_url=stack.reporting_url, headers=headers, timeout=30) as client:
        groups = client.get("/v1/groups").json().get("items", [])
        for g in groups:
            key = g["group_key"]
            days = client.get(
                f"/v1/groups/{key}/activity", params={"granularity": "day", "limit": 1000}
            ).json()["items"]
            complaints = client.get(f"/v1/groups/{key}/complaints").json()
            figures = complaints.get("figures", {})
            table.add_row(
                key,
                g.get("language", ""),
                str(sum(d["messages"] for d in days)),
                str(max((d["active_users"] for d in days), default=0)),
                str(sum(d["joins"] for d in days)),
                str(sum(d["leaves"] for d in days)),
                str(sum(sum(d.get("decisions", {}).values()) for d in days)),
                f"{figures.get('open', '?')}/{figures.get('resolved', '?')}",
            )
    return table


def enforcement_table(stack: DevStack) -> Table:
    """What the enforcer would have done (the demo runs it dry: no platform is called)."""
    headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
    table = Table(title="enforcement (dry run: what it would have called)")
    for col in ("group", "decided", "would have done", "unsupported", "example call"):
        table.add_column(col, justify="left" if col in ("group", "example call") else "right")
    with httpx.Client(base_url=stack.reporting_url, headers=headers, timeout=30) as client:
        for g in client.get("/v1/groups").json().get("items", []):
            key = g["group_key"]
            page = client.get(f"/v1/groups/{key}/enforcement", params={"limit": 1}).json()
            totals = page.get("totals", {})
            example: dict[str, Any] = next(iter(page.get("would_have") or []), {})
            table.add_row(
                key,
                str(totals.get("decided", 0)),
                str(totals.get("dry_run", 0)),
                str(totals.get("unsupported", 0)),
                f"{example.get('action', '')}: {example.get('platform_call', '')}"[:70],
            )
    return table


def run_demo(
    console: Console,
    workdir: Path,
    *,
    events: int | None,
    seed: int,
    settings: Settings,
    keep_running: bool,
    wait: Callable[[], None],
) -> None:
    total = events or DEFAULT_EVENTS
    stack = DevStack.from_settings(workdir, settings)
    # The demo's community is simulated: its decisions must never reach a real platform,
    # whatever credentials the environment holds.
    stack.extra_env["MODSTREAM_ENFORCEMENT_FORCE_DRY_RUN"] = "true"
    missing = [r for r in ("admin", "operator", "platform") if not getattr(stack.tokens, r)]
    if missing:
        raise SystemExit(
            f"the demo posts as {', '.join(missing)}: MODSTREAM_TOKENS_FILE "
            f"{stack.tokens_file} needs a plaintext token for each, scoped to '*'"
        )
    try:
        with console.status("starting the embedded broker, store and services..."):
            stack.start()
        settings = settings.model_copy(
            update={
                "kafka_bootstrap": stack.kafka_bootstrap or "",
                "mongo_url": stack.mongo_url or "",
            }
        )
        rules = demo_rule_sets(seed)
        rule_events = [
            {
                **ruleset_event(key, 1, r, "demo-admin"),
                "occurred_at": (DEMO_START - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            }
            for key, r in rules.items()
        ]
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeRemainingColumn(),
            console=console,
        )
        started = time.monotonic()
        with progress, httpx.Client(base_url=stack.ingest_url, timeout=60) as client:
            task = progress.add_task(
                "streaming the simulated community", total=total + len(rule_events), rate="-"
            )

            def advance(n: int) -> None:
                done = progress.tasks[0].completed + n
                rate = done / max(time.monotonic() - started, 1e-6)
                progress.update(task, advance=n, rate=f"{rate:,.0f}")

            post_all(client, stack, rule_events, advance)
            post_all(client, stack, simulate(seed, total, DEMO_START), advance)
            fold = progress.add_task(
                "moderation, enforcement, reporting catching up",
                total=total + len(rule_events),
                rate="-",
            )

            async def follow() -> None:
                async def tick() -> None:
                    while True:
                        pos = await positions(settings)
                        progress.update(
                            fold, completed=min(pos.moderation_done, pos.reporting_events_done)
                        )
                        await asyncio.sleep(0.5)

                ticker = asyncio.create_task(tick())
                try:
                    await wait_caught_up(settings, timeout=900, enforcement=True)
                finally:
                    ticker.cancel()

            asyncio.run(follow())
            progress.update(fold, completed=total + len(rule_events))
        console.print(f"streamed {total:,} events in {time.monotonic() - started:,.1f}s")
        console.print(summary_table(stack))
        console.print(enforcement_table(stack))
        _where_to_look(console, stack)
        if keep_running:
            console.print("[green]the stack keeps running[/]: Ctrl-C to stop")
            wait()
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping..."):
            stack.stop()


def _where_to_look(console: Console, stack: DevStack) -> None:
    table = Table(title="where to look", show_header=False)
    for key, value in stack.describe().items():
        table.add_row(key, value)
    groups_hint = f"{stack.reporting_url}/v1/groups (Authorization: Bearer <admin token>)"
    table.add_row("dashboard", f"{stack.reporting_url}/ (paste the admin token)")
    table.add_row("API", groups_hint)
    console.print(table)
