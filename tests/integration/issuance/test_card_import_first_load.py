"""The first import (residents empty): rows copied straight into residents, or staging."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.models import Resident
from api.issuance.residents import importing
from api.issuance.residents.importing import CardImportRefused, import_card_list
from api.issuance.residents.models import CardImport
from tests.integration.issuance.conftest import card_list, demo_card_list

_SCHEMA = text(
    "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE tablename = 'residents' "
    "UNION ALL SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = 'residents'::regclass "
    "UNION ALL SELECT 'default', column_name, column_default FROM information_schema.columns "
    "WHERE table_name = 'residents' ORDER BY 1, 2"
)


async def _schema(session: AsyncSession) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in (await session.execute(_SCHEMA)).all()]


async def _count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Resident)) or 0)


@pytest.fixture
def import_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The import's step log (DEBUG), to see which path it took."""
    caplog.set_level(logging.DEBUG, logger=importing.__name__)
    return caplog


async def test_first_import_copies_rows_straight_into_residents_and_leaves_the_schema_whole(
    issuance_session: AsyncSession, import_log: pytest.LogCaptureFixture
) -> None:
    schema = await _schema(issuance_session)

    report = await import_card_list(issuance_session, demo_card_list(300, seed=21))

    assert "parse and COPY into residents" in import_log.text
    assert "whole-file checks" not in import_log.text  # no staging table
    assert (report.rows, report.new, report.changed, report.unchanged) == (300, 300, 0, 0)
    assert report.applied
    assert not report.problems
    assert await _count(issuance_session) == 300
    gaiji = await issuance_session.scalar(
        select(func.count()).select_from(Resident).where(Resident.has_gaiji)
    )
    assert report.gaiji == gaiji
    stamps = (
        await issuance_session.execute(select(Resident.created_at, Resident.updated_at))
    ).all()
    assert all(created is not None and created == updated for created, updated in stamps)
    assert await _schema(issuance_session) == schema  # indexes, constraints, no new defaults
    record = await issuance_session.get(CardImport, report.card_import_id)
    assert record is not None
    assert (record.status, record.new, record.rows) == ("applied", 300, 300)


async def test_first_import_reads_the_same_rows_as_the_staging_path(
    issuance_session: AsyncSession,
) -> None:
    data = demo_card_list(120, seed=22)
    await import_card_list(issuance_session, data)
    columns = [getattr(Resident, name) for name in importing.CARD_COLUMNS]
    direct = (
        await issuance_session.execute(select(*columns).order_by(Resident.reservation_id))
    ).all()
    # The same file again, compared through staging, finds every row unchanged.
    report = await import_card_list(issuance_session, data, same_file_shortcut=False)

    assert (report.new, report.changed, report.unchanged) == (0, 0, 120)
    assert len(direct) == 120


async def test_first_import_with_an_id_twice_falls_back_and_names_both_lines(
    issuance_session: AsyncSession, import_log: pytest.LogCaptureFixture
) -> None:
    data = card_list({}, {"氏名": "別人　花子"})  # the same reservation ID, other content

    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(issuance_session, data)

    assert "loading through staging (an ID is there twice)" in import_log.text
    assert [(p["line"], p["code"]) for p in refused.value.details] == [
        (3, "row.duplicate_conflict")
    ]


async def test_first_import_with_a_bad_row_falls_back_and_changes_nothing(
    issuance_session: AsyncSession, import_log: pytest.LogCaptureFixture
) -> None:
    schema = await _schema(issuance_session)
    data = card_list({}, {"製造管理番号": "B2C-654321", "生年月日": "1985-02-30"})

    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(issuance_session, data)

    assert "loading through staging (1 bad row(s))" in import_log.text
    assert [p["line"] for p in refused.value.details] == [3]
    assert await _count(issuance_session) == 0
    assert await _schema(issuance_session) == schema


async def test_dry_run_on_an_empty_residents_table_stages_and_writes_nothing(
    issuance_session: AsyncSession, import_log: pytest.LogCaptureFixture
) -> None:
    report = await import_card_list(issuance_session, demo_card_list(30, seed=24), dry_run=True)

    assert (report.new, report.applied) == (30, False)
    assert "COPY into residents" not in import_log.text
    assert await _count(issuance_session) == 0


async def test_residents_ids_are_handed_to_an_importing_session_a_thousand_at_a_time(
    issuance_session: AsyncSession,
) -> None:
    cache = await issuance_session.scalar(
        text(
            "SELECT seqcache FROM pg_sequence "
            "WHERE seqrelid = pg_get_serial_sequence('residents', 'id')::regclass"
        )
    )

    await import_card_list(issuance_session, demo_card_list(30, seed=5))
    ids = list((await issuance_session.scalars(select(Resident.id).order_by(Resident.id))).all())

    assert cache == 1000
    assert len(set(ids)) == 30  # unique, from one cached block
    assert ids[-1] - ids[0] < 1000
