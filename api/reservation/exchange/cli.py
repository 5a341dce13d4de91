"""``madoguchi reservation sync …``: apply eligibility bundles and receipts, export bookings.

Refusals print the reason and exit non-zero (a bundle file's refusal with the exit code
of its ``SyncFormatError``); nothing changes when a command is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.audit.commands import logged_command
from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.errors import DomainError
from api.core.settings import Zone, ZoneSettings
from api.core.zone_cli import zone_settings
from api.reservation.booking.config import load_booking_settings
from api.reservation.exchange.eligibility import EligibilityReport, import_eligibility
from api.reservation.exchange.export import export_reservations
from api.reservation.exchange.receipts import (
    ReceiptPlan,
    import_receipt,
    logged_counts,
    plan_receipt,
    write_receipt,
)
from api.reservation.exchange.streams import ExchangeKeys, key_dir, load_exchange_keys
from sync_format import Outcome, SyncFormatError

Result = TypeVar("Result")
key_dir_option = click.option(
    "--key-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MADOGUCHI_KEY_DIR",
    default=None,
    help="Key directory (env MADOGUCHI_KEY_DIR; default $MADOGUCHI_VAR_DIR/keys/reservation).",
)


def _run(
    settings: ZoneSettings,
    work: Callable[[AsyncSession], Awaitable[Result]],
    *,
    isolation: str | None = None,
) -> Result:
    """Run work in one transaction; report refusals and exit non-zero."""
    config = create_sqlalchemy_config(
        Zone.RESERVATION, resolve_database_url(settings), null_pool=True
    )

    async def run() -> Result:
        async with config.get_session() as session, session.begin():
            if isolation is not None:
                # Inside begin(): connection() outside it began the session's transaction
                # itself, and begin() then refused ("a transaction is already begun").
                await session.connection(execution_options={"isolation_level": isolation})
            return await work(session)

    try:
        return asyncio.run(run())
    except SyncFormatError as error:
        click.echo(f"refused ({type(error).__name__}): {error}", err=True)
        raise SystemExit(error.exit_code) from error
    except DomainError as error:
        click.echo(f"refused: {error.message}", err=True)
        raise SystemExit(1) from error


def _keys(settings: ZoneSettings, directory: Path | None) -> ExchangeKeys:
    try:
        return load_exchange_keys(key_dir(settings, directory))
    except SyncFormatError as error:
        click.echo(f"refused ({type(error).__name__}): {error}", err=True)
        raise SystemExit(error.exit_code) from error


def _echo_report(report: EligibilityReport) -> None:
    verb = "would be" if report.dry_run else "were"
    click.echo(f"{report.message} ({report.mode}, {report.records} records)")
    if report.outcome == Outcome.ALREADY_APPLIED:
        click.echo("nothing to do: this bundle is already applied")
        return
    click.echo(
        f"IDs that {verb} added: {report.new}, changed: {report.updated}, "
        f"unchanged: {report.unchanged}, revoked: {report.revoked} "
        f"(revocations of unknown or revoked IDs ignored: {report.ignored_revocations})"
    )
    click.echo(f"people who {verb} taken out of their bookings: {report.bookings_left}")


@click.group("sync")
def reservation_sync_commands() -> None:
    """Apply the issuance zone's bundles and write this zone's bundles for it."""


@reservation_sync_commands.command("import-eligibility")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Verify and preview; change nothing.")
@click.option("--force-gap", is_flag=True, help="Apply a delta although bundles are missing.")
@click.option(
    "--receipt-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the receipt (default: beside FILE).",
)
@key_dir_option
def import_eligibility_command(
    file: Path, dry_run: bool, force_gap: bool, receipt_dir: Path | None, key_dir: Path | None
) -> None:
    """Verify, preview and apply an eligibility bundle; write the receipt to carry back.

    Importing an applied bundle again changes nothing and writes its receipt again.
    """
    with logged_command(Zone.RESERVATION, "sync import-eligibility") as entry:
        entry.note(dry_run=dry_run, force_gap=force_gap)
        report, path = _import_eligibility(file, dry_run, force_gap, receipt_dir, key_dir)
        entry.resource_ids.append(f"sequence={report.sequence}")
        entry.note(
            result=report.outcome,
            mode=report.mode,
            records=report.records,
            new=report.new,
            updated=report.updated,
            unchanged=report.unchanged,
            revoked=report.revoked,
            ignored_revocations=report.ignored_revocations,
            bookings_left=report.bookings_left,
            receipt=path is not None,
        )
        _echo_report(report)
        if path is not None:
            click.echo(f"receipt: {path}: carry it to the issuance zone")


def _import_eligibility(
    file: Path, dry_run: bool, force_gap: bool, receipt_dir: Path | None, key_dir: Path | None
) -> tuple[EligibilityReport, Path | None]:
    """Apply (or preview) the bundle and write its receipt; the receipt's path if written."""
    settings = zone_settings(Zone.RESERVATION)
    keys = _keys(settings, key_dir)
    password_key = load_booking_settings(settings).password_key

    async def work(session: AsyncSession) -> tuple[EligibilityReport, ReceiptPlan | None]:
        report, bundle = await import_eligibility(
            session,
            file,
            keys,
            password_key=password_key,
            now=dt.datetime.now(settings.tz),
            dry_run=dry_run,
            force_gap=force_gap,
        )
        if dry_run:
            return report, None
        already = report.outcome == Outcome.ALREADY_APPLIED
        counts = await logged_counts(session, bundle) if already else report.receipt_counts
        return report, await plan_receipt(session, bundle, counts)

    report, plan = _run(settings, work)
    if plan is None:
        return report, None
    return report, write_receipt(plan, keys, receipt_dir or file.parent)


@reservation_sync_commands.command("export")
@click.option("--full", is_flag=True, help="Every booking, not only changes since the receipt.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the bundle and its 予約一覧CSV into.",
)
@key_dir_option
def export_command(full: bool, out: Path, key_dir: Path | None) -> None:
    """Write the next reservations bundle (delta since the last receipt, or full) and CSV."""
    settings = zone_settings(Zone.RESERVATION)
    with logged_command(Zone.RESERVATION, "sync export") as entry:
        entry.note(full=full)
        keys = _keys(settings, key_dir)

        async def work(session: AsyncSession) -> Any:
            return await export_reservations(
                session, keys, out, full=full, now=dt.datetime.now(settings.tz), tz=settings.tz
            )

        # The files take their names when _run commits (a rollback deletes them).
        report = _run(settings, work, isolation="REPEATABLE READ")
        entry.resource_ids.append(f"sequence={report.sequence}")
        entry.note(
            mode=report.mode,
            base_sequence=report.base_sequence,
            records=report.records,
            csv=report.csv is not None,
        )
        since = f" since {report.since.isoformat()}" if report.since else ""
        click.echo(
            f"{report.mode} reservations bundle {report.sequence}{since}: {report.records} records"
        )
        click.echo(f"bundle: {report.bundle}")
        if report.csv:
            click.echo(f"csv:    {report.csv}")


@reservation_sync_commands.command("import-receipt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@key_dir_option
def import_receipt_command(file: Path, key_dir: Path | None) -> None:
    """Apply the issuance zone's receipt for reservations bundles."""
    settings = zone_settings(Zone.RESERVATION)
    with logged_command(Zone.RESERVATION, "sync import-receipt") as entry:
        keys = _keys(settings, key_dir)

        async def work(session: AsyncSession) -> Any:
            return await import_receipt(session, file, keys, now=dt.datetime.now(settings.tz))

        report = _run(settings, work)
        entry.resource_ids.append(f"sequence={report.sequence}")
        entry.note(result=report.outcome, acknowledged=len(report.acknowledged))
        click.echo(report.message)
        click.echo(msgspec.json.encode(report).decode())
