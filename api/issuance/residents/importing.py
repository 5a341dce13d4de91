"""The card list import (residents.import): COPY into staging, then set-based SQL.

Rows are parsed and validated by the sync_format reader (in worker processes for a large
file, see ``loading``), streamed as COPY text into a temporary staging table, compared
with ``residents`` once (a temporary ``card_list_diff`` of the new and changed rows), and
applied in the caller's transaction: earlier values of changed rows go to
``resident_history`` first, then the changed rows are updated and the new ones inserted.
A refused file changes nothing, and the same file twice changes nothing the second time.

Speed (see bench/README.md, card_import):

- the import transaction gets ``work_mem`` and ``maintenance_work_mem`` large enough for
  its hash aggregates, joins and index builds (``SET LOCAL``: only this transaction);
- the first import of a city's list (``residents`` empty) copies the parsed rows straight
  into ``residents`` (``bulk.load_first_import``): no staging table, comparison or
  INSERT ... SELECT; it falls back to the staging path whenever that path's answer could
  differ (a bad row, an ID twice);
- when an import adds a large share of ``residents``, the table's secondary indexes and
  unique constraints are dropped before the load and rebuilt after it, in the same
  transaction (see ``bulk``);
- the same file again, when that file was the last word on every resident (nothing in
  ``residents`` written or deleted since it was applied), is answered from its earlier
  record without parsing; otherwise it is parsed and compared as any file.

``synchronous_commit`` is left alone: an import is one transaction, so turning it off
would save a single WAL flush (milliseconds) at the price of possibly losing a commit
already reported to staff if the server crashed right after it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Final

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.issuance.residents.applying import apply_changes
from api.issuance.residents.bulk import (
    FirstLoad,
    StepTimer,
    load_first_import,
    set_local,
)
from api.issuance.residents.loading import STAGED_COLUMNS, CardListLoader
from api.issuance.residents.models import CardImport
from api.issuance.residents.same_file import same_file_again
from api.issuance.residents.whole_file import (
    CARD_COLUMNS,
    DIFF_TABLE,
    STAGING_TABLE,
    cross_checks,
    taken_application_ids,
)
from sync_format.csv import CardListProfile, Problem
from sync_format.csv.profile import default_profile
from sync_format.csv.source import Source

logger = logging.getLogger(__name__)
# Memory for this transaction's sorts, hashes (whole-file checks, comparison) and index
# builds; a 1,000,000-row card list needs ~200 MB to stay off temporary files.
WORK_MEM: Final = "256MB"
MAINTENANCE_WORK_MEM: Final = "512MB"


class CardImportReport(msgspec.Struct, kw_only=True):
    """What an import found (and, unless a dry run, did): counts, bad rows, warnings."""

    encoding: str
    rows: int
    new: int
    changed: int
    unchanged: int
    gaiji: int
    problems: list[Problem]
    warnings: list[Problem]
    applied: bool
    card_import_id: int | None = None
    sha256: str = ""


class CardImportRefused(DomainError):
    """The card list has bad rows; nothing was imported. ``details`` lists every one."""

    status_code = 422
    code = "card_list_refused"


_CREATE_STAGING = f"""
CREATE TEMP TABLE {STAGING_TABLE} (
    line integer NOT NULL,
    reservation_id varchar(10) COLLATE "C" NOT NULL,
    application_id varchar(23) COLLATE "C" NOT NULL,
    shipment_no varchar(20) COLLATE "C" NOT NULL,
    name text NOT NULL,
    name_kana text NOT NULL,
    birth_date date NOT NULL,
    sex varchar(8) NOT NULL,
    postal_code varchar(8) NOT NULL,
    address text NOT NULL,
    address_extra text,
    certificate_signature boolean NOT NULL,
    certificate_authentication boolean NOT NULL,
    card_expiry date,
    has_gaiji boolean NOT NULL
)
"""
_STAGED = ", ".join(f"s.{column}" for column in CARD_COLUMNS)
_STORED = ", ".join(f"r.{column}" for column in CARD_COLUMNS)
# One comparison with residents: only new and changed rows are kept.
_CREATE_DIFF = f"""
CREATE TEMP TABLE {DIFF_TABLE} AS
SELECT r.id AS resident_id, s.line, {_STAGED}
FROM {STAGING_TABLE} s LEFT JOIN residents r ON r.reservation_id = s.reservation_id
WHERE r.id IS NULL OR ({_STAGED}) IS DISTINCT FROM ({_STORED})
"""  # noqa: S608
_COUNTS = f"""
SELECT staged.total, staged.gaiji, diff.new, diff.changed
FROM (
    SELECT count(*) AS total, count(*) FILTER (WHERE has_gaiji) AS gaiji FROM {STAGING_TABLE}
) staged, (
    SELECT count(*) FILTER (WHERE resident_id IS NULL) AS new,
        count(*) FILTER (WHERE resident_id IS NOT NULL) AS changed
    FROM {DIFF_TABLE}
) diff
"""  # noqa: S608


# residents empty (a first import): every staged row is new; no comparison table is filled.
_CREATE_EMPTY_DIFF = f"""
CREATE TEMP TABLE {DIFF_TABLE} AS
SELECT NULL::bigint AS resident_id, s.line, {_STAGED} FROM {STAGING_TABLE} s WHERE false
"""  # noqa: S608
_COUNTS_ALL_NEW = f"""
SELECT count(*) AS total, count(*) FILTER (WHERE has_gaiji) AS gaiji, count(*) AS new,
    0 AS changed
FROM {STAGING_TABLE}
"""  # noqa: S608


_DROP_WORK_TABLES = f"DROP TABLE IF EXISTS pg_temp.{STAGING_TABLE}, pg_temp.{DIFF_TABLE}"


async def _drop_work_tables_after_failure(driver: Any) -> None:
    """Drop the staging tables after a failed import, never hiding why it failed.

    A failed statement (say, COPY refusing a value) aborts the transaction, and then the
    DROP fails too ("current transaction is aborted"); raised from the clean-up, that error
    would replace the real one. The caller rolls the transaction back, which removes the
    tables anyway (they were created in it); a refusal (CardImportRefused) leaves the
    transaction usable, and there the tables are dropped at once.
    """
    try:
        await driver.execute(_DROP_WORK_TABLES)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        logger.debug("card import: staging tables left to the rollback (%s)", error)


async def _driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction (for COPY), begun if not yet.

    SQLAlchemy's asyncpg adapter sends BEGIN with its own first statement; statements sent
    straight to the driver before that would each commit on their own (and the import's
    advisory lock and SET LOCALs would end with them).
    """
    connection = await session.connection()
    await connection.exec_driver_sql("SELECT 1")
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def file_digest(source: Source) -> tuple[str, int]:
    """Return the SHA-256 (hex) and size of a card list given as a path or bytes."""
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest(), len(source)
    if isinstance(source, str | os.PathLike):
        with Path(source).open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), Path(source).stat().st_size
    return "", 0


async def _compare(
    driver: Any, problems: list[Problem], warnings: list[Problem], timer: StepTimer
) -> tuple[Any, bool]:
    """The whole-file checks, then the comparison with residents (into ``DIFF_TABLE``).

    Adds what the checks find to ``problems`` and ``warnings``; returns the counts and
    whether residents was empty (every staged row new).
    """
    found, noted = await cross_checks(driver)
    problems.extend(found)
    warnings.extend(noted)
    timer.step("whole-file checks")
    all_new = not await driver.fetchval("SELECT EXISTS (SELECT FROM residents)")
    await driver.execute(_CREATE_EMPTY_DIFF if all_new else _CREATE_DIFF)
    if not all_new:
        problems.extend(await taken_application_ids(driver))
    counts = await driver.fetchrow(_COUNTS_ALL_NEW if all_new else _COUNTS)
    timer.step("comparison")
    return counts, all_new


def _record(
    record: CardImport | None, file_name: str, staff: str | None, sha256: str, size: int
) -> CardImport:
    if record is None:
        record = CardImport(file_name=file_name[:255], created_by=staff)
    record.sha256, record.size = sha256, size
    return record


def _settle(
    record: CardImport,
    profile: CardListProfile,
    staff: str | None,
    *,
    applied: bool,
    refused: bool = False,
) -> None:
    """Set what a record says of its outcome: status, profile, and who applied it when."""
    record.profile = profile.name[:100]
    record.status = "refused" if refused else "applied" if applied else "previewed"
    record.applied_at = dt.datetime.now(dt.UTC) if applied else None
    record.applied_by = staff if applied else None


async def import_card_list(
    session: AsyncSession,
    source: Source,
    *,
    profile: CardListProfile | None = None,
    dry_run: bool = False,
    file_name: str = "",
    staff: str | None = None,
    refuse: bool = True,
    workers: int = 0,
    record: CardImport | None = None,
    same_file_shortcut: bool = True,
) -> CardImportReport:
    """Validate the whole card list, then (unless ``dry_run``) apply it in the session.

    Every import is recorded in ``card_imports``. With ``refuse`` (the default) bad rows
    raise :class:`CardImportRefused` listing every one, and the caller's transaction must
    be rolled back; without it a report with the problems is returned (a preview).
    ``record`` is an earlier preview of the same file to update instead of a new record.
    ``same_file_shortcut`` answers a file applied before from its record when nothing in
    ``residents`` changed since (the same report, nothing written but the record).
    """
    profile = profile or default_profile()
    sha256, size = file_digest(source)
    driver = await _driver_connection(session)
    if not dry_run:
        # One import at a time: concurrent ones would race on the same rows.
        await driver.execute("SELECT pg_advisory_xact_lock(hashtext('madoguchi.card_import'))")
    await set_local(driver, "work_mem", WORK_MEM)
    await set_local(driver, "maintenance_work_mem", MAINTENANCE_WORK_MEM)
    earlier = await same_file_again(driver, sha256, profile) if same_file_shortcut else None
    if earlier is not None:
        return await _report_again(
            session,
            earlier,
            profile=profile,
            dry_run=dry_run,
            staff=staff,
            record=_record(record, file_name, staff, sha256, size),
        )
    if not dry_run and not await driver.fetchval("SELECT EXISTS (SELECT FROM residents)"):
        first = _record(record, file_name, staff, sha256, size)
        reported = await load_first_import(
            driver,
            source,
            profile,
            workers=workers,
            record=lambda loaded: _report_first_load(session, loaded, first, profile, staff),
        )
        if reported is not None:
            return reported
    await driver.execute(_DROP_WORK_TABLES)
    await driver.execute(_CREATE_STAGING)
    loader = CardListLoader(source, profile, workers=workers)
    timer = StepTimer()
    try:
        await driver.copy_to_table(
            STAGING_TABLE, source=loader.batches(), columns=list(STAGED_COLUMNS), format="text"
        )
        timer.step("parse and COPY")
        summary = loader.summary
        problems = list(summary.problems)
        warnings = list(summary.warnings)
        counts, all_new = await _compare(driver, problems, warnings, timer)
        applied = not dry_run and not problems
        record = _record(record, file_name, staff, sha256, size)
        _settle(record, profile, staff, applied=applied, refused=bool(problems))
        record.encoding = summary.encoding
        record.rows, record.gaiji = summary.rows_read, counts["gaiji"]
        record.new, record.changed = counts["new"], counts["changed"]
        record.unchanged = counts["total"] - counts["new"] - counts["changed"]
        record.problem_count, record.warning_count = len(problems), len(warnings)
        if problems and refuse:
            raise CardImportRefused(
                f"{len(problems)} problem(s) in the card list; nothing was imported",
                details=[msgspec.to_builtins(problem) for problem in problems],
            )
        session.add(record)
        await session.flush()
        if applied:
            await apply_changes(driver, record, sha256, staff, all_new=all_new)
    except BaseException:
        await _drop_work_tables_after_failure(driver)
        raise
    await driver.execute(_DROP_WORK_TABLES)
    return CardImportReport(
        encoding=summary.encoding,
        rows=summary.rows_read,
        new=record.new,
        changed=record.changed,
        unchanged=record.unchanged,
        gaiji=record.gaiji,
        problems=problems,
        warnings=warnings,
        applied=applied,
        card_import_id=record.id,
        sha256=sha256,
    )


async def _report_again(
    session: AsyncSession,
    earlier: dict[str, Any],
    *,
    profile: CardListProfile,
    dry_run: bool,
    staff: str | None,
    record: CardImport,
) -> CardImportReport:
    """Record and report the same file again: every row unchanged, nothing else written."""
    applied = not dry_run
    rows = earlier["new"] + earlier["changed"] + earlier["unchanged"]
    _settle(record, profile, staff, applied=applied)
    record.encoding = earlier["encoding"]
    record.rows, record.gaiji = earlier["rows"], earlier["gaiji"]
    record.new, record.changed, record.unchanged = 0, 0, rows
    record.problem_count, record.warning_count = 0, 0
    session.add(record)
    await session.flush()
    logger.debug("card import: same file as import %s, nothing changed since", earlier["id"])
    return CardImportReport(
        encoding=record.encoding,
        rows=record.rows,
        new=0,
        changed=0,
        unchanged=rows,
        gaiji=record.gaiji,
        problems=[],
        warnings=[],
        applied=applied,
        card_import_id=record.id,
        sha256=record.sha256,
    )


async def _report_first_load(
    session: AsyncSession,
    loaded: FirstLoad,
    record: CardImport,
    profile: CardListProfile,
    staff: str | None,
) -> CardImportReport:
    """Record and report a first import: every row new, nothing changed."""
    summary = loaded.summary
    _settle(record, profile, staff, applied=True)
    record.encoding = summary.encoding
    record.rows, record.gaiji = summary.rows_read, loaded.gaiji
    record.new, record.changed, record.unchanged = loaded.rows, 0, 0
    record.problem_count, record.warning_count = 0, len(summary.warnings)
    session.add(record)
    await session.flush()
    return CardImportReport(
        encoding=record.encoding,
        rows=record.rows,
        new=record.new,
        changed=0,
        unchanged=0,
        gaiji=record.gaiji,
        problems=[],
        warnings=list(summary.warnings),
        applied=True,
        card_import_id=record.id,
        sha256=record.sha256,
    )
