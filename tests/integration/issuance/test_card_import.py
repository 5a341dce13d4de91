from __future__ import annotations

import io

import msgspec
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.demo_data import generate_residents
from api.issuance.models import Resident
from api.issuance.services import CardImportRefused, import_card_list
from sync_format.csv import write_card_list


def _card_list(count: int, seed: int = 1) -> bytes:
    buffer = io.BytesIO()
    write_card_list(buffer, [resident.row for resident in generate_residents(count, seed)])
    return buffer.getvalue()


async def _resident_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Resident)) or 0)


async def test_import_adds_every_row_and_the_same_file_again_changes_nothing(
    issuance_session: AsyncSession,
) -> None:
    data = _card_list(25)

    first = await import_card_list(issuance_session, data)
    second = await import_card_list(issuance_session, data)

    assert (first.new, first.changed, first.unchanged) == (25, 0, 0)
    assert (second.new, second.changed, second.unchanged) == (0, 0, 25)
    assert await _resident_count(issuance_session) == 25


async def test_newer_file_updates_only_changed_rows(issuance_session: AsyncSession) -> None:
    rows = [resident.row for resident in generate_residents(5, seed=3)]
    await import_card_list(issuance_session, _card_list(5, seed=3))
    moved = msgspec.structs.replace(rows[0], address="見本県デモ市新町9-9")
    buffer = io.BytesIO()
    write_card_list(buffer, [moved, *rows[1:]])

    report = await import_card_list(issuance_session, buffer.getvalue())

    assert (report.new, report.changed, report.unchanged) == (0, 1, 4)
    address = await issuance_session.scalar(
        select(Resident.address).where(Resident.reservation_id == moved.reservation_id)
    )
    assert address == "見本県デモ市新町9-9"


async def test_refused_file_names_the_bad_row_and_imports_nothing(
    issuance_session: AsyncSession,
) -> None:
    data = _card_list(10).replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    # Break the last row's birth date (生年月日 is the 6th column).
    cells = data[-1].split(b",")
    cells[5] = b"2001-02-30"
    data[-1] = b",".join(cells)

    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(issuance_session, b"\r\n".join(data) + b"\r\n")

    assert await _resident_count(issuance_session) == 0
    problems = refused.value.details
    assert [(p["line"], p["column"]) for p in problems] == [(11, "生年月日")]


async def test_dry_run_counts_without_writing(issuance_session: AsyncSession) -> None:
    report = await import_card_list(issuance_session, _card_list(7), dry_run=True)

    assert (report.new, report.applied) == (7, False)
    assert await _resident_count(issuance_session) == 0
