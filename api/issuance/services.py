"""Issuance zone domain services: the card list import.

A card list is streamed into a staging table with PostgreSQL's COPY, then compared and
applied with set-based SQL in the caller's transaction: a refused file changes nothing,
and the same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, Final

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from sync_format.csv import CardListProfile, CardListRow, Problem, iter_card_list
from sync_format.csv.source import Source

STAGING_TABLE: Final = "card_list_staging"
COPY_BATCH_ROWS: Final = 20_000
# The resident columns a card list carries, in CardListRow's field names.
CARD_COLUMNS: Final = (
    "reservation_id",
    "application_id",
    "shipment_no",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "postal_code",
    "address",
    "address_extra",
    "certificate_signature",
    "certificate_authentication",
    "card_expiry",
    "has_gaiji",
)


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


class CardImportRefused(DomainError):
    """The card list has bad rows; nothing was imported. ``details`` lists every one."""

    status_code = 422
    code = "card_list_refused"


def _record(row: CardListRow) -> tuple[Any, ...]:
    return (
        row.line,
        row.reservation_id,
        row.application_id,
        row.shipment_no,
        row.name,
        row.name_kana,
        row.birth_date,
        row.sex.value,
        row.postal_code,
        row.address,
        row.address_extra or None,
        row.certificate_signature,
        row.certificate_authentication,
        row.card_expiry,
        row.has_gaiji,
    )


def _batches(rows: Iterable[CardListRow]) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := [_record(row) for row in islice(iterator, COPY_BATCH_ROWS)]:
        yield batch


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
_STAGED_COLUMNS = ", ".join(f"s.{column}" for column in CARD_COLUMNS)
_RESIDENT_COLUMNS = ", ".join(f"r.{column}" for column in CARD_COLUMNS)
_COUNTS = f"""
SELECT
    count(*) FILTER (WHERE r.id IS NULL) AS new,
    count(*) FILTER (
        WHERE r.id IS NOT NULL AND ({_STAGED_COLUMNS}) IS DISTINCT FROM ({_RESIDENT_COLUMNS})
    ) AS changed,
    count(*) FILTER (
        WHERE r.id IS NOT NULL AND ({_STAGED_COLUMNS}) IS NOT DISTINCT FROM ({_RESIDENT_COLUMNS})
    ) AS unchanged,
    count(*) FILTER (WHERE s.has_gaiji) AS gaiji
FROM {STAGING_TABLE} s LEFT JOIN residents r ON r.reservation_id = s.reservation_id
"""  # noqa: S608
# An application_id belongs to one card: a row may not take one another card holds.
_TAKEN_APPLICATION_IDS = f"""
SELECT s.line, s.application_id, r.reservation_id
FROM {STAGING_TABLE} s JOIN residents r ON r.application_id = s.application_id
WHERE r.reservation_id <> s.reservation_id
ORDER BY s.line
"""  # noqa: S608
_APPLY = f"""
INSERT INTO residents ({_COLUMN_LIST}, created_at, updated_at)
SELECT {_COLUMN_LIST}, now(), now() FROM {STAGING_TABLE}
ON CONFLICT (reservation_id) DO UPDATE SET
    {", ".join(f"{column} = excluded.{column}" for column in CARD_COLUMNS[1:])},
    updated_at = now()
WHERE ({", ".join(f"residents.{c}" for c in CARD_COLUMNS)})
    IS DISTINCT FROM ({", ".join(f"excluded.{c}" for c in CARD_COLUMNS)})
"""  # noqa: S608


async def _driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's current transaction (for COPY)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def import_card_list(
    session: AsyncSession,
    source: Source,
    *,
    profile: CardListProfile | None = None,
    dry_run: bool = False,
) -> CardImportReport:
    """Validate the whole card list, then (unless ``dry_run``) apply it in the session.

    Raises :class:`CardImportRefused` listing every bad row when any row is bad; the
    caller's transaction must then be rolled back (nothing has been written to residents).
    """
    driver = await _driver_connection(session)
    await driver.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING_TABLE}")
    await driver.execute(_CREATE_STAGING)
    try:
        stream = iter_card_list(source, profile)
        columns = ["line", *CARD_COLUMNS]
        for batch in _batches(stream):
            await driver.copy_records_to_table(STAGING_TABLE, records=batch, columns=columns)
        problems = list(stream.problems)
        taken = await driver.fetch(_TAKEN_APPLICATION_IDS)
        problems.extend(
            Problem(
                code="row.application_id_taken",
                reason=f"申請書ID is already the card {row['reservation_id']}'s",
                line=row["line"],
                column="申請書ID",
                value=row["application_id"],
            )
            for row in taken
        )
        if problems:
            raise CardImportRefused(
                f"{len(problems)} problem(s) in the card list; nothing was imported",
                details=[msgspec.to_builtins(problem) for problem in problems],
            )
        counts = await driver.fetchrow(_COUNTS)
        if not dry_run:
            await driver.execute(_APPLY)
    finally:
        await driver.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING_TABLE}")
    return CardImportReport(
        encoding=stream.encoding,
        rows=stream.rows_read,
        new=counts["new"],
        changed=counts["changed"],
        unchanged=counts["unchanged"],
        gaiji=counts["gaiji"],
        problems=[],
        warnings=list(stream.warnings),
        applied=not dry_run,
    )
