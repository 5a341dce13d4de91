"""``madoguchi <zone> audit``: verify the chain, export CSV, archive and prune."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import importlib
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from api.core.audit.archive import (
    ARCHIVE_FOLDER,
    ArchiveError,
    archive_and_prune,
    prune_cutoff,
    verify_archive,
)
from api.core.audit.chain import ChainReport
from api.core.audit.controller import export_csv
from api.core.audit.models import AccessLogMixin
from api.core.audit.plugin import create_access_log_engine
from api.core.audit.recorder import AccessLogRuntime, AccessLogWriter
from api.core.audit.service import AccessLogFilter, verify_database
from api.core.audit.witness import (
    Witness,
    WitnessError,
    read_witness,
    witness_problem,
    write_witness,
)
from api.core.settings import Zone

T = TypeVar("T")


def access_log_model(zone: Zone) -> type[AccessLogMixin]:
    """The zone's concrete access-log class (imported late: zone models import this package)."""
    module = importlib.import_module(f"api.{zone.value}.models")
    model: type[AccessLogMixin] = module.CORE_TABLES.access_log
    return model


def _engine(zone: Zone) -> AsyncEngine:
    # Imported here: zone_cli imports the zone apps, which import this package.
    from api.core.database import resolve_database_url  # noqa: PLC0415
    from api.core.zone_cli import zone_settings  # noqa: PLC0415

    return create_access_log_engine(resolve_database_url(zone_settings(zone)), null_pool=True)


def _run(engine: AsyncEngine, work: Coroutine[Any, Any, T]) -> T:
    async def run() -> T:
        try:
            return await work
        finally:
            await engine.dispose()

    return asyncio.run(run())


def describe(report: ChainReport, what: str) -> str:
    """One line saying whether ``what`` verified, naming the first bad entry if not."""
    if report.first_break is not None:
        return (
            f"{what}: BROKEN at entry {report.first_break.sequence}: "
            f"{report.first_break.reason} ({report.entries} entries verified before it)"
        )
    return (
        f"{what}: OK, {report.entries} entries from anchor {report.anchor_hash[:16]}…, "
        f"head sequence {report.last_sequence}, head hash {report.last_hash}"
    )


def verify_all(
    zone: Zone,
    archives: tuple[Path, ...],
    witness: Path | None = None,
    *,
    new_witness: bool = False,
) -> bool:
    """Verify archives (oldest first), that they join up, the live chain and the witness.

    Echoes each outcome. The witness file is replaced by the new head only when all held;
    a missing witness is a failure unless ``new_witness`` says this is the first verify.
    """
    intact = True
    previous_end: str | None = None
    for path in archives:
        header, report = verify_archive(path)
        click.echo(describe(report, str(path)))
        intact &= report.ok
        if previous_end is not None and header.anchor_hash != previous_end:
            click.echo(f"{path}: does not continue from the archive before it")
            intact = False
        previous_end = header.through_hash
    engine = _engine(zone)
    report = _run(engine, verify_database(engine, access_log_model(zone)))
    click.echo(describe(report, f"{zone.value} access log"))
    intact &= report.ok
    if previous_end is not None and report.anchor_hash != previous_end:
        click.echo("the access log does not continue from the last archive given")
        intact = False
    if witness is not None and intact:
        intact = _check_witness(zone, engine, report, witness, archives, new_witness=new_witness)
    return intact


def _check_witness(
    zone: Zone,
    engine: AsyncEngine,
    report: ChainReport,
    path: Path,
    archives: tuple[Path, ...],
    *,
    new_witness: bool,
) -> bool:
    try:
        seen = read_witness(path)
    except WitnessError as error:
        click.echo(str(error))
        return False
    if seen is None and not new_witness:
        # A lost witness must not pass as a first run: that would hide what it guarded.
        click.echo(f"{path}: no witness; on the first verify with it, add --new-witness")
        return False
    if seen is not None and new_witness:
        click.echo(f"{path}: a witness exists; --new-witness is only for the first verify")
        return False
    if seen is not None:
        from api.core.zone_cli import zone_settings  # noqa: PLC0415

        default_folder = zone_settings(zone).zone_dir / ARCHIVE_FOLDER
        at_hand = (*archives, *sorted(default_folder.glob("*")))
        problem = (
            f"{path} is the {seen.zone} zone's witness"
            if seen.zone != zone.value
            else _run(engine, witness_problem(engine, access_log_model(zone), seen, at_hand))
        )
        if problem is not None:
            # The file is left as it is: it is the evidence.
            click.echo(f"{zone.value} access log: BROKEN against the witness: {problem}")
            return False
        click.echo(f"witness {path}: entry {seen.sequence} is still there, unchanged")
    if report.last_sequence is not None:
        write_witness(
            path,
            Witness(
                zone=zone.value,
                sequence=report.last_sequence,
                entry_hash=report.last_hash,
                verified_at=dt.datetime.now(dt.UTC),
            ),
        )
    return True


def audit_commands(zone: Zone) -> click.Group:
    """Build the ``audit`` group of ``madoguchi <zone>``."""

    @click.group(name="audit", help=f"The {zone.value} zone's access log.")
    def audit() -> None:
        pass

    @audit.command()
    @click.option(
        "--archive",
        "archives",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Also verify an archive file (repeat, oldest first); checks they join up.",
    )
    @click.option(
        "--witness",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="File outside the database holding the head the last verify saw: checked "
        "still there (no newest entries removed), then replaced by the new head.",
    )
    @click.option(
        "--new-witness",
        is_flag=True,
        help="Create the witness file (the first verify with --witness only).",
    )
    def verify(archives: tuple[Path, ...], witness: Path | None, new_witness: bool) -> None:
        """Check the hash chain; exit 1 naming the first bad entry."""
        sys.exit(0 if verify_all(zone, archives, witness, new_witness=new_witness) else 1)

    @audit.command()
    @click.option("--output", "-o", type=click.Path(path_type=Path), default=None)
    @click.option("--since", type=click.DateTime(), default=None, help="From (inclusive, UTC).")
    @click.option("--until", type=click.DateTime(), default=None, help="Until (exclusive, UTC).")
    @click.option("--actor", default=None)
    @click.option("--outcome", default=None)
    def export(
        output: Path | None,
        since: dt.datetime | None,
        until: dt.datetime | None,
        actor: str | None,
        outcome: str | None,
    ) -> None:
        """Write the access log as CSV (to stdout without --output)."""
        criteria = AccessLogFilter(
            since=since.replace(tzinfo=dt.UTC) if since else None,
            until=until.replace(tzinfo=dt.UTC) if until else None,
            actor=actor,
            outcome=outcome,
        )
        engine = _engine(zone)
        model = access_log_model(zone)
        runtime = AccessLogRuntime(zone.value, model, AccessLogWriter(engine, model))
        stream = output.open("w", encoding="utf-8", newline="") if output else sys.stdout

        async def write() -> None:
            async for chunk in export_csv(runtime, criteria):
                stream.write(chunk)

        try:
            _run(engine, write())
        finally:
            if output:
                stream.close()

    @audit.command(name="archive-and-prune")
    @click.option(
        "--days",
        type=click.IntRange(min=1),
        default=None,
        help="Keep this many days (default: MADOGUCHI_AUDIT_RETENTION_DAYS).",
    )
    @click.option(
        "--archive-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Where the archive goes (default: $MADOGUCHI_VAR_DIR/<zone>/audit-archive).",
    )
    def archive_and_prune_command(days: int | None, archive_dir: Path | None) -> None:
        """Archive entries past retention to a verifiable file, then prune them."""
        from api.core.zone_cli import zone_settings  # noqa: PLC0415

        settings = zone_settings(zone)
        keep = days if days is not None else settings.audit_retention_days
        if keep == 0:
            click.echo("retention is 0 (keep forever): nothing to prune")
            return
        folder = archive_dir or settings.zone_dir / ARCHIVE_FOLDER
        engine = _engine(zone)
        try:
            result = _run(
                engine,
                archive_and_prune(
                    engine,
                    access_log_model(zone),
                    zone=zone.value,
                    cutoff=prune_cutoff(keep),
                    folder=folder,
                    actor=getpass.getuser(),
                ),
            )
        except ArchiveError as error:
            click.echo(f"archive-and-prune refused: {error}", err=True)
            sys.exit(1)
        if result.archive is None:
            click.echo(f"nothing older than {keep} days")
            return
        click.echo(
            f"archived {result.entries} entries through sequence {result.through_sequence} "
            f"to {result.archive} (sha256 {result.archive_sha256}) and pruned them"
        )

    return audit
