"""``madoguchi issuance sync …``: export eligibility, import receipts and reservations.

Key directory: ``--key-dir``, else ``MADOGUCHI_KEY_DIR``, else ``var/keys/issuance``; the
reservation zone's public keys must be pinned there (``madoguchi keys trust``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from api.core.audit.commands import CommandEntry, logged_command
from api.core.settings import Zone
from api.core.sync_cli import key_dir_option, refusals_exit, resolve_key_dir
from api.core.zone_cli import zone_settings
from api.issuance.exchange.eligibility import (
    export_eligibility,
    import_receipt,
    recipient_keys,
)
from api.issuance.exchange.reservations import (
    import_reservation_bundle,
    import_reservation_csv,
    is_bundle,
)
from api.issuance.exchange.schemas import ReservationImportReport
from api.issuance.progress.cli import run_in_transaction
from sync_format import TrustStore, ZoneSecretKeys, load_secret_keys


def _keys(key_dir: Path | None) -> tuple[ZoneSecretKeys, TrustStore]:
    directory = resolve_key_dir(Zone.ISSUANCE.value, key_dir)
    return load_secret_keys(directory), TrustStore.load(directory)


@click.group("sync")
def issuance_sync_commands() -> None:
    """Eligibility bundles out, reservation bundles and receipts in."""


@issuance_sync_commands.command("export")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the bundle into (the USB stick).",
)
@click.option("--full", is_flag=True, help="Write a full bundle even when a delta would do.")
@key_dir_option
@refusals_exit
def export_command(out_dir: Path, full: bool, key_dir: Path | None) -> None:
    """Write the next eligibility bundle: full the first time, then deltas."""
    with logged_command(Zone.ISSUANCE, "sync export") as entry:
        entry.note(full=full)
        keys, trusted = _keys(key_dir)
        report = run_in_transaction(
            lambda session: export_eligibility(
                session,
                out_dir,
                sender=keys,
                recipient=recipient_keys(trusted),
                actor=entry.staff,
                full=full,
            )
        )
        entry.resource_ids.append(f"sequence={report.sequence}")
        entry.note(
            bundle_id=report.bundle_id,
            mode=report.mode,
            base_sequence=report.base_sequence,
            upserts=report.upserts,
            revocations=report.revocations,
            digest=report.digest,
        )
        base = f" from {report.base_sequence}" if report.base_sequence else ""
        click.echo(
            f"eligibility bundle {report.sequence} ({report.mode}{base}): {report.upserts} "
            f"bookable, {report.revocations} revoked\n  {report.file}\n  digest {report.digest}"
        )


@issuance_sync_commands.command("import-receipt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@key_dir_option
@refusals_exit
def import_receipt_command(file: Path, key_dir: Path | None) -> None:
    """Import a receipt FILE: mark exports applied and show what the other zone refused."""
    with logged_command(Zone.ISSUANCE, "sync import-receipt") as entry:
        keys, trusted = _keys(key_dir)
        report = run_in_transaction(
            lambda session: import_receipt(session, file, keys=keys, trusted=trusted)
        )
        entry.resource_ids.extend(f"sequence={result.sequence}" for result in report.results)
        entry.note(
            receipts=len(report.results),
            applied=sum(result.outcome == "applied" for result in report.results),
            failed=sum(result.failed for result in report.results),
        )
        for result in report.results:
            click.echo(
                f"bundle {result.sequence}: {result.outcome}; imported {result.imported}, "
                f"updated {result.updated}, ignored {result.ignored}, failed {result.failed}"
            )
            for failed_id, reason in result.failures:
                click.echo(f"  refused by the reservation zone: {failed_id}: {reason}")


def _echo_import(report: ReservationImportReport) -> None:
    click.echo(f"{report.source}: {report.outcome}: {report.reason}")
    for problem in report.problems:
        click.echo(f"  problem: {problem.describe()}")
    click.echo(
        f"  imported {report.imported}, updated {report.updated}, ignored {report.ignored}, "
        f"failed {report.failed}; reserved {report.reserved}, back from reserved "
        f"{report.unreserved}"
    )
    for failure in report.failures:
        click.echo(
            f"  not applied: {failure.reservation_id} ({failure.confirmation_code}): "
            f"{failure.reason}"
        )
    if report.receipt_file:
        click.echo(f"  receipt for the reservation zone: {report.receipt_file}")


@issuance_sync_commands.command("import-reservations")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Preview: report what would change, change nothing.")
@click.option(
    "--receipt-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the receipt bundle (default: beside FILE).",
)
@click.option("--force-gap", is_flag=True, help="Apply a delta even though bundles are missing.")
@key_dir_option
@refusals_exit
def import_reservations_command(
    file: Path, dry_run: bool, receipt_dir: Path | None, force_gap: bool, key_dir: Path | None
) -> None:
    """Import a reservation bundle or a 予約一覧CSV (detected from the content)."""
    data = file.read_bytes()
    with logged_command(Zone.ISSUANCE, "sync import-reservations") as entry:
        bundle = is_bundle(data)
        entry.note(
            source="bundle" if bundle else "csv",
            dry_run=dry_run,
            force_gap=force_gap,
            sha256=hashlib.sha256(data).hexdigest(),
        )
        if bundle:
            keys, trusted = _keys(key_dir)
            report = run_in_transaction(
                lambda session: import_reservation_bundle(
                    session,
                    file,
                    keys=keys,
                    trusted=trusted,
                    actor=entry.staff,
                    receipt_dir=receipt_dir or file.parent,
                    dry_run=dry_run,
                    force_gap=force_gap,
                )
            )
        else:
            tz = zone_settings(Zone.ISSUANCE).tz
            report = run_in_transaction(
                lambda session: import_reservation_csv(
                    session, data, file_name=file.name, tz=tz, actor=entry.staff, dry_run=dry_run
                )
            )
        _note_import(entry, report)
        _echo_import(report)


def _note_import(entry: CommandEntry, report: ReservationImportReport) -> None:
    """A reservation import's counts for its access-log entry (not the IDs its rows name)."""
    if report.sequence is not None:
        entry.resource_ids.append(f"sequence={report.sequence}")
    entry.note(
        result=report.outcome,
        imported=report.imported,
        updated=report.updated,
        ignored=report.ignored,
        failed=report.failed,
        reserved=report.reserved,
        unreserved=report.unreserved,
        problems=len(report.problems),
    )
