"""The auditor's commands: `modstream replay`, `modstream audit verify`, `modstream audit user`,
and the one-off `modstream audit migrate`.

All of them but migrate read only: replay consumes without a group id and produces
nothing, verify and user read the archive. An auditor can run them against production
safely. Migrate rewrites an archive of the earlier release into chunks, once, with
reporting stopped.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shared.settings import get_settings

console = Console()


def parse_when(value: str, option: str) -> datetime:
    """A date (midnight UTC) or an RFC 3339 time; a time without zone is read as UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (2026-03-01) or a time (2026-03-01T08:00:00Z)",
            param_hint=option,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _comparison_table(title: str, comp: Any, strict: bool) -> Table:
    table = Table(title=title, show_header=False)
    table.add_row("recorded decisions", str(comp.recorded))
    table.add_row("replayed decisions", str(comp.replayed))
    if strict:
        style = "green" if comp.reproduced_pct == 100 else "red"
        table.add_row(
            "reproduced identically", f"[{style}]{comp.identical} ({comp.reproduced_pct}%)[/]"
        )
    else:
        table.add_row("unchanged", str(comp.identical + comp.equivalent))
    table.add_row("added", f"[green]{len(comp.added)}[/]")
    table.add_row("removed", f"[red]{len(comp.removed)}[/]")
    table.add_row("changed", f"[yellow]{len(comp.changed)}[/]")
    return table


def _changes_table(title: str, comp: Any, causes: dict[str, Any], limit: int = 50) -> Table:
    table = Table(title=title)
    for col in ("when", "what", "user", "rule", "recorded", "replayed", "causing message"):
        table.add_column(col)
    for ch in comp.changes[:limit]:
        before = f"{ch.before.action}" if ch.before else "-"
        after = f"{ch.after.action}" if ch.after else "-"
        texts = [causes[e].text for e in ch.cause_event_ids if e in causes]
        table.add_row(
            ch.decision.decided_at.isoformat().replace("+00:00", "Z"),
            ch.kind,
            ch.user_key,
            ch.rule_id,
            before,
            after,
            " | ".join(t[:80] for t in texts),
        )
    return table


def replay_command(
    frm: Annotated[str, typer.Option("--from", help="start of the period (date or RFC 3339)")],
    to: Annotated[str, typer.Option("--to", help="end of the period, exclusive")],
    group: Annotated[
        list[str] | None, typer.Option("--group", help="group key (repeatable); default all")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="what-if rules file (rules apply format)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="write the result: FILE.html or FILE.json")
    ] = None,
    source: Annotated[
        str, typer.Option(help="auto | topic | archive: where the history is read from")
    ] = "auto",
) -> None:
    """Re-run moderation over a period's history; compare with what was decided.

    Without --rules: the recorded rules (rule changes in the stream apply when they
    happened); every recorded decision should be reproduced with the same id. With
    --rules FILE: what those rules would have decided instead. Changes nothing live.
    """
    from services.moderation.replay import ReplayError, replay
    from services.moderation.replay_render import write_result
    from shared.rules import RulesError

    start, end = parse_when(frm, "--from"), parse_when(to, "--to")
    try:
        result = asyncio.run(replay(get_settings(), start, end, group, rules, source=source))
    except (ReplayError, RulesError) as err:
        console.print(f"[red]replay failed[/]: {err}")
        raise typer.Exit(2) from err
    for note in result.notes:
        console.print(f"[dim]{note}[/]")
    console.print(
        f"{result.events_read} events read from the {result.events_source}, "
        f"decisions from the {result.decisions_source}"
    )
    console.print(_comparison_table("with the recorded rules", result.reproduction, strict=True))
    if result.reproduction.changes:
        console.print(_changes_table("not reproduced", result.reproduction, result.causes))
    if result.what_if is not None:
        console.print(_comparison_table(f"with {result.rules_file}", result.what_if, strict=False))
        if result.what_if.changes:
            console.print(_changes_table("what would change", result.what_if, result.causes))
    if out is not None:
        write_result(result, out)
        console.print(f"written to {out}")


def verify_command(
    group: Annotated[str | None, typer.Option("--group", help="only this group's chains")] = None,
) -> None:
    """Check the archive's hash chains: exit 1 and name every break (altered, deleted,
    inserted or reordered records) with its group, stream and position."""
    from services.audit.verify import verify_report
    from shared.archive import ArchiveFormatError
    from shared.mongo import database, make_mongo

    async def run() -> Any:
        settings = get_settings()
        mongo = make_mongo(settings)
        try:
            return await verify_report(database(mongo, settings), group)
        finally:
            await mongo.close()

    try:
        report = asyncio.run(run())
    except ArchiveFormatError as err:
        console.print(f"[red]cannot verify[/]: {err}")
        raise typer.Exit(2) from err
    _print_verify(report)


def _print_verify(report: Any) -> None:
    """The verify result; exit 1 when a chain is broken."""
    if report.ok:
        console.print(
            f"[green]intact[/]: {report.chains} chain(s), {report.records} record(s) "
            f"in {report.chunks} chunk(s) verified"
        )
        return
    table = Table(title=f"{len(report.breaks)} broken chain(s) of {report.chains}")
    for col in ("group", "stream", "seq", "what", "detail", "record"):
        table.add_column(col)
    for b in report.breaks:
        table.add_row(b.group_key, b.stream, str(b.seq), f"[red]{b.kind}[/]", b.detail, b.id or "")
    console.print(table)
    raise typer.Exit(1)


def migrate_command() -> None:
    """Rewrite an archive of the earlier release (one document per record) into chunks,
    preserving the chain, then verify it. Stop reporting first. The old documents are
    kept in `archive_format1` until you drop that collection."""
    from services.audit.migrate import migrate_archive
    from services.audit.verify import verify_report
    from shared.archive import ArchiveFormatError
    from shared.mongo import database, make_mongo

    async def run() -> tuple[Any, Any]:
        settings = get_settings()
        mongo = make_mongo(settings)
        try:
            db = database(mongo, settings)
            done = await migrate_archive(db)
            return done, await verify_report(db)
        finally:
            await mongo.close()

    try:
        done, report = asyncio.run(run())
    except ArchiveFormatError as err:
        console.print(f"[red]not migrated[/]: {err}")
        raise typer.Exit(2) from err
    if done.already:
        console.print("the archive is already stored in chunks: nothing to do")
    elif done.kept_in is None:
        console.print("the archive is empty: nothing to migrate")
    else:
        console.print(
            f"migrated {done.records} record(s) into {done.chunks} chunk(s); the old "
            f"documents are in {done.kept_in!r}: drop it once you have checked the archive"
        )
    _print_verify(report)


def user_command(
    user_key: Annotated[str, typer.Argument(help="platform:user_id, e.g. telegram:42")],
    group: Annotated[
        list[str] | None, typer.Option("--group", help="only these groups (repeatable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the trail as JSON")] = False,
) -> None:
    """The audit trail of one user: flagged messages, decisions, sanctions, complaints."""
    from services.reporting.history import user_history
    from shared.mongo import database, make_mongo

    async def run() -> dict[str, Any]:
        settings = get_settings()
        mongo = make_mongo(settings)
        try:
            allowed = set(group) if group else None
            return await user_history(database(mongo, settings), user_key, allowed)
        finally:
            await mongo.close()

    trail = asyncio.run(run())
    if as_json:
        console.print_json(json.dumps(trail, ensure_ascii=False, default=str))
        return
    if not trail["timeline"]:
        console.print(f"nothing on record for {user_key}")
        return
    table = Table(title=f"audit trail of {user_key}")
    for col in ("when", "group", "what", "detail", "ref"):
        table.add_column(col)
    for row in trail["timeline"]:
        table.add_row(row["at"], row["group_key"], row["kind"], row["summary"], row["ref"])
    console.print(table)
    console.print(
        f"{len(trail['flagged_messages'])} flagged message(s), {len(trail['decisions'])} "
        f"decision(s), {len(trail['sanctions'])} sanction(s), "
        f"{len(trail['complaints'])} complaint(s)"
    )


def register(app: typer.Typer, audit_app: typer.Typer | None = None) -> None:
    """Add `replay` to `app` and `verify` / `user` to the `audit` group.

    Pass the CLI's existing `audit` Typer as `audit_app`; without it a new `audit` group
    is added to `app`.
    """
    app.command("replay")(replay_command)
    if audit_app is None:
        audit_app = typer.Typer(
            no_args_is_help=True, help="Audit: verify the archive, trace a user"
        )
        app.add_typer(audit_app, name="audit")
    audit_app.command("verify")(verify_command)
    audit_app.command("migrate")(migrate_command)
    audit_app.command("user")(user_command)
