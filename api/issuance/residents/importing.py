"""The card list import (residents.import): COPY into staging, then set-based SQL.

Rows are parsed and validated by the sync_format reader (in worker processes for a large
file, see ``loading``), streamed as COPY text into a temporary staging table, compared
with ``residents`` once (a temporary ``card_list_diff`` of the new and changed rows), and
applied in the caller's transaction: earlier values of changed rows go to
``resident_history`` first, then one upsert. A refused file changes nothing, and the same
file twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any, Final

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.issuance.residents.loading import STAGED_COLUMNS, CardListLoader
from api.issuance.residents.models import CardImport
from sync_format.csv import CardListProfile, Problem, ProblemCode
from sync_format.csv.profile import default_profile
from sync_format.csv.source import Source

logger = logging.getLogger(__name__)
STAGING_TABLE: Final = "card_list_staging"
DIFF_TABLE: Final = "card_list_diff"
# The resident columns a card list carries (staging has ``line`` in front).
CARD_COLUMNS: Final = STAGED_COLUMNS[1:]


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
    reservation_id varchar(10) NOT NULL,
    application_id varchar(23) NOT NULL,
    shipment_no varchar(20) NOT NULL,
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
_COLUMN_LIST = ", ".join(CARD_COLUMNS)
_STAGED = ", ".join(f"s.{column}" for column in CARD_COLUMNS)
_STORED = ", ".join(f"r.{column}" for column in CARD_COLUMNS)
# Rows seen twice across worker shares (each worker checks only its own share).
_DUPLICATES = f"""
SELECT * FROM {STAGING_TABLE}
WHERE reservation_id IN (
    SELECT reservation_id FROM {STAGING_TABLE} GROUP BY reservation_id HAVING count(*) > 1
)
ORDER BY reservation_id, line
"""  # noqa: S608
# An application_id belongs to one card: within the file, and against other cards.
_APPLICATION_IDS_TWICE = f"""
SELECT s.line, s.application_id, first_value(s.line) OVER w AS first_line
FROM {STAGING_TABLE} s
WHERE s.application_id IN (
    SELECT application_id FROM {STAGING_TABLE} GROUP BY application_id HAVING count(*) > 1
)
WINDOW w AS (PARTITION BY s.application_id ORDER BY s.line)
ORDER BY s.line
"""  # noqa: S608
_TAKEN_APPLICATION_IDS = f"""
SELECT s.line, s.application_id, r.reservation_id
FROM {STAGING_TABLE} s JOIN residents r ON r.application_id = s.application_id
WHERE r.reservation_id <> s.reservation_id
ORDER BY s.line
"""  # noqa: S608
# One comparison with residents: only new and changed rows are kept.
_CREATE_DIFF = f"""
CREATE TEMP TABLE {DIFF_TABLE} AS
SELECT r.id AS resident_id, {_STAGED}
FROM {STAGING_TABLE} s LEFT JOIN residents r ON r.reservation_id = s.reservation_id
WHERE r.id IS NULL OR ({_STAGED}) IS DISTINCT FROM ({_STORED})
"""  # noqa: S608
_COUNTS = f"""
SELECT
    (SELECT count(*) FROM {STAGING_TABLE}) AS total,
    (SELECT count(*) FROM {STAGING_TABLE} WHERE has_gaiji) AS gaiji,
    count(*) FILTER (WHERE resident_id IS NULL) AS new,
    count(*) FILTER (WHERE resident_id IS NOT NULL) AS changed
FROM {DIFF_TABLE}
"""  # noqa: S608


def _json_object(alias: str) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in CARD_COLUMNS) + ")"


# Earlier values of every changed row, before the upsert overwrites them.
_HISTORY = f"""
INSERT INTO resident_history
    (resident_id, card_import_id, file_sha256, changed_by, changed_fields, previous,
     created_at, updated_at)
SELECT r.id, $1, $2, $3,
    ARRAY(
        SELECT old.key FROM jsonb_each(o.doc) AS old
        WHERE old.value IS DISTINCT FROM n.doc -> old.key ORDER BY old.key
    ),
    o.doc, now(), now()
FROM {DIFF_TABLE} d JOIN residents r ON r.id = d.resident_id
CROSS JOIN LATERAL (SELECT {_json_object("r")} AS doc) o
CROSS JOIN LATERAL (SELECT {_json_object("d")} AS doc) n
"""  # noqa: S608
# New rows in reservation_id order (the unique index then grows at its end), then changed
# rows updated in place; no ON CONFLICT, since the diff already knows which is which.
_INSERT_NEW = f"""
INSERT INTO residents ({_COLUMN_LIST}, created_at, updated_at)
SELECT {_COLUMN_LIST}, now(), now() FROM {DIFF_TABLE}
WHERE resident_id IS NULL
ORDER BY reservation_id
"""  # noqa: S608
_UPDATE_CHANGED = f"""
UPDATE residents r SET
    {", ".join(f"{column} = d.{column}" for column in CARD_COLUMNS[1:])},
    updated_at = now()
FROM {DIFF_TABLE} d
WHERE d.resident_id = r.id
"""  # noqa: S608


class _Timer:
    """Logs how long each step of an import takes (DEBUG), to see where time goes."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def step(self, name: str) -> None:
        now = time.perf_counter()
        logger.debug("card import: %s took %.2f s", name, now - self.started)
        self.started = now


async def _driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's current transaction (for COPY)."""
    connection = await session.connection()
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


def _duplicate_findings(rows: list[Any]) -> tuple[list[Problem], list[Problem], list[int]]:
    """Sort rows seen twice into warnings (identical, kept once) and problems (different)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    drop: list[int] = []
    first: Any = None
    for row in rows:
        if first is None or first["reservation_id"] != row["reservation_id"]:
            first = row
            continue
        same = all(row[column] == first[column] for column in CARD_COLUMNS)
        found = Problem(
            code=ProblemCode.DUPLICATE_IDENTICAL if same else ProblemCode.DUPLICATE_CONFLICT,
            reason=f"same row as line {first['line']}; kept once"
            if same
            else f"reservation ID also on line {first['line']} with different content",
            line=row["line"],
            column="製造管理番号",
            value=row["reservation_id"],
        )
        (warnings if same else problems).append(found)
        drop.append(row["line"])
    return problems, warnings, drop


async def _cross_checks(driver: Any, parts: int) -> tuple[list[Problem], list[Problem]]:
    """Checks that need the whole file: duplicates across shares, application IDs."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if parts > 1:
        duplicates, warnings, drop = _duplicate_findings(await driver.fetch(_DUPLICATES))
        problems.extend(duplicates)
        if drop:
            await driver.execute(
                f"DELETE FROM {STAGING_TABLE} WHERE line = ANY($1::int[])",  # noqa: S608
                drop,
            )
    problems.extend(
        Problem(
            code="row.application_id_duplicate",
            reason=f"申請書ID also on line {row['first_line']}",
            line=row["line"],
            column="申請書ID",
            value=row["application_id"],
        )
        for row in await driver.fetch(_APPLICATION_IDS_TWICE)
        if row["line"] != row["first_line"]
    )
    problems.extend(
        Problem(
            code="row.application_id_taken",
            reason=f"申請書ID is already the card {row['reservation_id']}'s",
            line=row["line"],
            column="申請書ID",
            value=row["application_id"],
        )
        for row in await driver.fetch(_TAKEN_APPLICATION_IDS)
    )
    return problems, warnings


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
) -> CardImportReport:
    """Validate the whole card list, then (unless ``dry_run``) apply it in the session.

    Every import is recorded in ``card_imports``. With ``refuse`` (the default) bad rows
    raise :class:`CardImportRefused` listing every one, and the caller's transaction must
    be rolled back; without it a report with the problems is returned (a preview).
    ``record`` is an earlier preview of the same file to update instead of a new record.
    """
    profile = profile or default_profile()
    sha256, size = file_digest(source)
    driver = await _driver_connection(session)
    await driver.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING_TABLE}, pg_temp.{DIFF_TABLE}")
    await driver.execute(_CREATE_STAGING)
    loader = CardListLoader(source, profile, workers=workers)
    timer = _Timer()
    try:
        await driver.copy_to_table(
            STAGING_TABLE, source=loader.batches(), columns=list(STAGED_COLUMNS), format="text"
        )
        timer.step("parse and COPY")
        summary = loader.summary
        problems = list(summary.problems)
        warnings = list(summary.warnings)
        found, noted = await _cross_checks(driver, summary.parts)
        problems.extend(found)
        warnings.extend(noted)
        timer.step("whole-file checks")
        await driver.execute(_CREATE_DIFF)
        counts = await driver.fetchrow(_COUNTS)
        timer.step("comparison")
        applied = not dry_run and not problems
        if record is None:
            record = CardImport(file_name=file_name[:255], created_by=staff)
        record.sha256, record.size, record.encoding = sha256, size, summary.encoding
        record.profile = profile.name[:100]
        record.status = "refused" if problems else "applied" if applied else "previewed"
        record.rows, record.gaiji = summary.rows_read, counts["gaiji"]
        record.new, record.changed = counts["new"], counts["changed"]
        record.unchanged = counts["total"] - counts["new"] - counts["changed"]
        record.problem_count, record.warning_count = len(problems), len(warnings)
        record.applied_at = dt.datetime.now(dt.UTC) if applied else None
        record.applied_by = staff if applied else None
        if problems and refuse:
            raise CardImportRefused(
                f"{len(problems)} problem(s) in the card list; nothing was imported",
                details=[msgspec.to_builtins(problem) for problem in problems],
            )
        session.add(record)
        await session.flush()
        if applied:
            await driver.execute(_HISTORY, record.id, sha256, staff)
            timer.step("history")
            await driver.execute(_UPDATE_CHANGED)
            timer.step("update")
            await driver.execute(_INSERT_NEW)
            timer.step("insert")
    finally:
        await driver.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING_TABLE}, pg_temp.{DIFF_TABLE}")
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
