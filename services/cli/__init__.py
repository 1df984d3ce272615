"""The `modstream` command: one verb per service and per operator task."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.settings import get_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="modstream: moderation and reporting for chat communities",
)
rules_app = typer.Typer(no_args_is_help=True, help="Rule sets: validate and apply")
audit_app = typer.Typer(no_args_is_help=True, help="Audit: verify the archive, trace a user")
app.add_typer(rules_app, name="rules")
app.add_typer(audit_app, name="audit")
# Piped output (CI logs, `make demo | tee`) gets room for the tables instead of 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=160)


@app.command(hidden=True)
def topics() -> None:
    """Create the topics if missing (idempotent)."""
    from shared.topics import ensure_topics

    created = asyncio.run(ensure_topics(get_settings()))
    console.print(f"topics created: {', '.join(created) or 'none (all existed)'}")


@app.command()
def ingest() -> None:
    """Run the ingest HTTP service."""
    from services.ingest.app import run

    run()


@app.command()
def moderation() -> None:
    """Run one moderation consumer (run several to scale out)."""
    from services.moderation.app import run

    run()


@app.command()
def enforcement() -> None:
    """Run one enforcement consumer: decisions -> the platforms' bot APIs (run several to
    scale out; they share the pacing and the schedule through the store)."""
    from services.enforcement.app import run

    run()


@app.command()
def reporting(
    consume: Annotated[bool, typer.Option(help="also run the fold consumer")] = True,
) -> None:
    """Run the reporting service: fold consumer + query API + dashboard."""
    from services.reporting.app import run

    run(consume=consume)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _print_stack(stack: object) -> None:
    table = Table(title="modstream dev stack", show_header=False)
    for key, value in stack.describe().items():  # type: ignore[attr-defined]
        table.add_row(key, value)
    console.print(table)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(0.5)


@app.command()
def dev(
    workdir: Annotated[Path, typer.Option(help="logs and tokens go here")] = Path(".modstream/dev"),
    moderation_instances: Annotated[
        int, typer.Option("--moderation", help="moderation processes")
    ] = 1,
) -> None:
    """Embedded broker + store + all services; Ctrl-C or SIGTERM stops everything."""
    from tools.devstack import DevStack

    stack = DevStack.from_settings(workdir, get_settings(), moderation_instances)
    # Stop children on TERM even while starting up.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.start()
        _print_stack(stack)
        console.print("[green]running[/]: Ctrl-C to stop")
        _wait_for_signal()
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping...")
        stack.stop()


@app.command()
def demo(
    events: Annotated[
        int | None, typer.Option(help="stream N events, print the summary and stop")
    ] = None,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 7,
    workdir: Annotated[Path, typer.Option()] = Path(".modstream/demo"),
) -> None:
    """The dev stack + a simulated community, then a summary read over the reporting API."""
    from tools.demo import run_demo

    signal.signal(signal.SIGTERM, _interrupt)
    run_demo(
        console,
        workdir,
        events=events,
        seed=seed,
        settings=get_settings(),
        keep_running=events is None,
        wait=_wait_for_signal,
    )


@rules_app.command("check")
def rules_check(file: Path) -> None:
    """Validate a rule-set file; errors name the line and field."""
    from services.ingest.rules_client import check_file

    try:
        groups = check_file(file)
    except ValueError as err:
        console.print(f"[red]invalid[/]: {err}")
        raise typer.Exit(1) from err
    console.print(f"[green]valid[/]: {len(groups)} group rule set(s)")


@rules_app.command("apply")
def rules_apply(
    file: Path,
    url: Annotated[str | None, typer.Option(help="ingest URL")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="MODSTREAM_API_TOKEN", help="admin token")
    ] = None,
) -> None:
    """Publish `ruleset.updated` for every group in FILE through ingest (admin token)."""
    from services.ingest.rules_client import apply_file

    settings = get_settings()
    try:
        results = apply_file(file, url or settings.ingest_url, token or "")
    except ValueError as err:
        console.print(f"[red]not applied[/]: {err}")
        raise typer.Exit(1) from err
    for group_key, version, status in results:
        console.print(f"{group_key}: version {version} {status}")


@app.command()
def report(
    group: str,
    month: str,
    fmt: Annotated[str, typer.Option("--format", help="json|md|html|csv")] = "md",
    out: Annotated[Path | None, typer.Option(help="write to this file")] = None,
) -> None:
    """The monthly operations report (运营报告) of a group, read from the projections."""
    from services.reporting.report_file import write_report

    try:
        text = asyncio.run(write_report(get_settings(), group, month, fmt))
    except ValueError as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(2) from err
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"written to {out}")
    else:
        sys.stdout.write(text)


@app.command()
def rebuild(
    projection: str,
    drop_old: Annotated[
        bool, typer.Option(help="drop the old generation after the switch")
    ] = False,
    no_switch: Annotated[bool, typer.Option(help="build only; keep serving the old one")] = False,
) -> None:
    """Rebuild a projection from the start of the stream into new collections (blue/green)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from services.reporting.rebuild import rebuild as do_rebuild

    settings = get_settings()
    started = time.monotonic()
    columns = (
        TextColumn("[bold]rebuilding " + projection),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} records/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("rebuild", total=None, rate="-")

        def advance(done: int, total: int) -> None:
            rate = done / max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

        try:
            result = asyncio.run(
                do_rebuild(
                    settings, projection, switch=not no_switch, drop_old=drop_old, progress=advance
                )
            )
        except ValueError as err:
            console.print(f"[red]{err}[/]")
            raise typer.Exit(2) from err
    console.print(
        f"{projection}: generation {result.old_generation} -> {result.new_generation}, "
        f"{result.records:,} records in {result.seconds:,.1f}s "
        f"({result.records_per_s:,.0f}/s), {result.writes:,} writes"
        + ("" if no_switch else "; reads switched")
    )


@app.command()
def bench(
    quick: Annotated[
        bool, typer.Option(help="small sizes: a smoke test, not a measurement")
    ] = False,
    out: Annotated[Path, typer.Option(help="where the table goes")] = Path("docs/benchmarks.md"),
    stage: Annotated[list[str] | None, typer.Option(help="only these stages")] = None,
) -> None:
    """Every stage beside its raw baseline, in one run; writes docs/benchmarks.md."""
    from tools.bench import run_bench

    signal.signal(signal.SIGTERM, _interrupt)  # stop what it started, as on Ctrl-C
    run_bench(console, quick, out, stage)


def _register_audit() -> None:
    from services.cli.audit import register

    register(app, audit_app)


_register_audit()


def main() -> None:
    app()
