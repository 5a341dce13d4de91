"""``madoguchi issuance progress …``: result files and the derived-phase check."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.audit.commands import logged_command
from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.errors import DomainError
from api.core.settings import Zone
from api.core.zone_cli import zone_settings
from api.issuance.progress.schemas import Mismatch, ProgressReport
from api.issuance.progress.services import import_results, verify_progress

T = TypeVar("T")


def run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run work in one transaction on the issuance database (committed if it returns).

    A DomainError is printed with its details and exits with status 1; nothing is kept.
    """
    settings = zone_settings(Zone.ISSUANCE)
    config = create_sqlalchemy_config(Zone.ISSUANCE, resolve_database_url(settings), null_pool=True)

    async def run() -> T:
        async with config.get_session() as session, session.begin():
            return await work(session)

    try:
        return asyncio.run(run())
    except DomainError as error:
        click.echo(f"refused: {error.message}", err=True)
        if error.details is not None:
            click.echo(msgspec.json.format(msgspec.json.encode(error.details)).decode(), err=True)
        raise SystemExit(1) from error


def echo_progress_report(report: ProgressReport) -> None:
    """Print what a batch of progress changes did or would do."""
    state = "recorded" if report.committed else "not recorded (dry run)"
    click.echo(
        f"{report.requested} rows: {report.applied} to apply, {report.unchanged} unchanged, "
        f"{len(report.refused)} refused; {state}"
    )
    for problem in report.problems:
        click.echo(f"  problem: {problem.describe()}")
    for refused in report.refused:
        where = f"line {refused.line}: " if refused.line else ""
        click.echo(f"  refused: {where}{refused.reservation_id} {refused.action}: {refused.reason}")


@click.group("progress")
def progress_commands() -> None:
    """Record card progress from result files; check the derived phases."""


@progress_commands.command("import-results")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["presetup", "issued"]),
    required=True,
    help="presetup = 交付前設定結果, issued = 交付済結果.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; record nothing.")
def import_results_command(file: Path, kind: str, dry_run: bool) -> None:
    """Import a result FILE all or nothing (the same file again changes nothing)."""
    data = file.read_bytes()
    with logged_command(Zone.ISSUANCE, "progress import-results") as entry:
        entry.note(kind=kind, dry_run=dry_run, sha256=hashlib.sha256(data).hexdigest())
        report = run_in_transaction(
            lambda session: import_results(
                session,
                data,
                "presetup" if kind == "presetup" else "issued",
                actor=entry.staff,
                dry_run=dry_run,
            )
        )
        entry.note(
            requested=report.requested,
            applied=report.applied,
            unchanged=report.unchanged,
            refused=len(report.refused),
            problems=len(report.problems),
            committed=report.committed,
        )
        echo_progress_report(report)
        if report.refused or report.problems:
            entry.outcome = "refused"
            raise SystemExit(1)


@progress_commands.command("verify")
def verify_command() -> None:
    """Replay every card's events and compare with the stored phases (exit 1 on mismatch)."""
    with logged_command(Zone.ISSUANCE, "progress verify") as entry:
        mismatches: list[Mismatch] = run_in_transaction(verify_progress)
        entry.note(mismatches=len(mismatches))
        for mismatch in mismatches:
            click.echo(
                f"resident {mismatch.resident_id}: stored {mismatch.stored}, "
                f"derived {mismatch.derived}"
            )
        click.echo(f"{len(mismatches)} mismatches")
        if mismatches:
            entry.outcome = "mismatch"  # the check ran; what it found is the exit status
            raise SystemExit(1)
