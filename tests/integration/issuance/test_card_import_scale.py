"""Large card lists: parallel parsing, a bad last row, re-import, history."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.core.settings import Zone
from api.issuance.demo_data import generate_residents, write_demo_card_list
from api.issuance.models import Resident
from api.issuance.residents import applying, importing, parts
from api.issuance.residents.importing import CardImportRefused, import_card_list
from api.issuance.residents.models import CardImport, ResidentHistory
from sync_format.csv import write_card_list
from tests.conftest import truncate_all
from tests.integration.issuance.conftest import card_list, demo_card_list


async def _count(session: AsyncSession, model: type = Resident) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.slow
async def test_200000_rows_with_a_bad_last_row_import_nothing_and_name_that_row(
    issuance_session: AsyncSession, tmp_path: Path
) -> None:
    path = tmp_path / "card-list.csv"
    write_demo_card_list(path, 200_000, seed=5)
    data = path.read_bytes().rstrip(b"\r\n").rsplit(b"\r\n", 1)
    cells = data[1].split(b",")
    cells[5] = "平成32年1月1日".encode("cp932")  # era overflow: bad by default
    path.write_bytes(data[0] + b"\r\n" + b",".join(cells) + b"\r\n")

    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(issuance_session, path, workers=2)

    assert [(p["line"], p["column"]) for p in refused.value.details] == [(200_001, "生年月日")]
    assert await _count(issuance_session) == 0


async def test_parallel_parsing_finds_duplicates_across_shares_and_keeps_line_numbers(
    issuance_session: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "PARALLEL_MINIMUM_BYTES", 0)
    rows = [resident.row for resident in generate_residents(400, seed=9)]
    # A quoted line break in many rows, so share boundaries fall near quoted cells.
    rows = [
        msgspec.structs.replace(row, address=row.address + "\n2階") if index % 3 else row
        for index, row in enumerate(rows)
    ]
    twin = msgspec.structs.replace(rows[0], line=len(rows) + 2)
    conflict = msgspec.structs.replace(rows[1], line=len(rows) + 3, address="別の住所")
    path = tmp_path / "card-list.csv"
    write_card_list(path, [*rows, twin, conflict])

    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(issuance_session, path, workers=3)

    problems = refused.value.details
    assert [(p["code"], p["value"]) for p in problems] == [
        ("row.duplicate_conflict", rows[1].reservation_id)
    ]
    last_line = 1 + 1 + sum(1 + row.address.count("\n") for row in rows) + 1
    assert problems[0]["line"] == last_line


async def test_parallel_and_serial_parsing_import_the_same_rows(
    issuance_session: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "PARALLEL_MINIMUM_BYTES", 0)
    path = tmp_path / "card-list.csv"
    write_demo_card_list(path, 3000, seed=4)

    parallel = await import_card_list(issuance_session, path, workers=3, dry_run=True)
    serial = await import_card_list(issuance_session, path.read_bytes(), dry_run=True)

    assert (parallel.rows, parallel.new, parallel.gaiji) == (serial.rows, serial.new, serial.gaiji)
    assert parallel.new == 3000


async def test_same_file_again_changes_nothing_and_is_recorded(
    issuance_session: AsyncSession,
) -> None:
    rows = [resident.row for resident in generate_residents(50, seed=2)]
    buffer = io.BytesIO()
    write_card_list(buffer, rows)

    first = await import_card_list(issuance_session, buffer.getvalue(), file_name="a.csv")
    stamps = (await issuance_session.execute(select(Resident.id, Resident.updated_at))).all()
    again = await import_card_list(issuance_session, buffer.getvalue(), file_name="a.csv")

    assert (first.new, again.new, again.changed, again.unchanged) == (50, 0, 0, 50)
    assert (
        await issuance_session.execute(select(Resident.id, Resident.updated_at))
    ).all() == stamps
    assert await _count(issuance_session, ResidentHistory) == 0
    digests = (await issuance_session.scalars(select(CardImport.sha256))).all()
    assert digests == [first.sha256, first.sha256]


async def test_newer_file_updates_changed_rows_and_keeps_their_earlier_values(
    issuance_session: AsyncSession,
) -> None:
    await import_card_list(
        issuance_session,
        card_list({}, {"製造管理番号": "B2C-654321", "申請書ID": "00123456789012345678902"}),
    )
    newer = card_list(
        {"住所": "見本県デモ市新町9-9"},
        {"製造管理番号": "B2C-654321", "申請書ID": "00123456789012345678902"},
    )

    report = await import_card_list(issuance_session, newer, staff="clerk1")

    assert (report.new, report.changed, report.unchanged) == (0, 1, 1)
    history = (await issuance_session.scalars(select(ResidentHistory))).all()
    assert len(history) == 1
    assert history[0].changed_fields == ["address"]
    assert history[0].previous["address"] == "見本県デモ市見本町1丁目2番3号"
    assert (history[0].changed_by, history[0].card_import_id) == ("clerk1", report.card_import_id)
    address = await issuance_session.scalar(
        select(Resident.address).where(Resident.reservation_id == "A1B-123456")
    )
    assert address == "見本県デモ市新町9-9"


_INDEXES = text(
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'residents' ORDER BY indexname"
)
_CONSTRAINTS = text(
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = 'residents'::regclass ORDER BY conname"
)


async def _schema(session: AsyncSession) -> tuple[list[Any], list[Any]]:
    indexes = (await session.execute(_INDEXES)).all()
    constraints = (await session.execute(_CONSTRAINTS)).all()
    return [tuple(row) for row in indexes], [tuple(row) for row in constraints]


async def test_bulk_load_rebuilds_every_index_and_constraint_and_keeps_history(
    issuance_session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=importing.__name__)
    schema = await _schema(issuance_session)
    rows = [resident.row for resident in generate_residents(400, seed=12)]
    first, later = rows[:100], rows[100:]
    buffer = io.BytesIO()
    write_card_list(buffer, first)
    await import_card_list(issuance_session, buffer.getvalue())  # a first import: loaded
    assert "COPY into residents" in caplog.text
    assert await _schema(issuance_session) == schema
    caplog.clear()
    monkeypatch.setattr(applying, "BULK_MINIMUM_ROWS", 1)
    moved = msgspec.structs.replace(first[0], address="見本県デモ市新町9-9")
    buffer = io.BytesIO()
    write_card_list(buffer, [moved, *first[1:], *later])

    report = await import_card_list(issuance_session, buffer.getvalue(), staff="clerk1")

    dropped = re.findall(r"drop (\d+) indexes", caplog.text)
    assert dropped == re.findall(r"rebuild (\d+) indexes", caplog.text)
    assert dropped == [str(len(schema[0]) - 1)]  # every index but the primary key
    assert (report.new, report.changed, report.unchanged) == (300, 1, 99)
    assert await _schema(issuance_session) == schema
    assert await _count(issuance_session) == 400
    history = (await issuance_session.scalars(select(ResidentHistory))).all()
    assert [(entry.changed_fields, entry.changed_by) for entry in history] == [
        (["address"], "clerk1")
    ]
    # The rebuilt unique constraints hold again.
    with pytest.raises(IntegrityError):
        async with issuance_session.begin_nested():
            await issuance_session.execute(
                text(
                    "UPDATE residents SET application_id = "
                    "(SELECT min(application_id) FROM residents) "
                    "WHERE id = (SELECT max(id) FROM residents)"
                )
            )


async def test_same_file_again_is_recognised_until_residents_change(
    issuance_engine: AsyncEngine,
    zone_database_urls: dict[Zone, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=importing.__name__)
    data = demo_card_list(60, seed=6)

    async def run(sql: str = "", *, dry_run: bool = False) -> tuple[Any, bool]:
        caplog.clear()
        async with AsyncSession(issuance_engine) as session, session.begin():
            if sql:
                await session.execute(text(sql))
                return None, False
            report = await import_card_list(session, data, file_name="a.csv", dry_run=dry_run)
        recognised = "same file as import" in caplog.text
        return (report.new, report.changed, report.unchanged, report.rows, report.gaiji), recognised

    try:
        first, recognised = await run()
        assert (first[:3], recognised) == ((60, 0, 0), False)
        assert await run() == ((0, 0, 60, *first[3:]), True)
        assert await run(dry_run=True) == ((0, 0, 60, *first[3:]), True)

        await run(
            "UPDATE residents SET address = '別の住所' WHERE id = (SELECT min(id) FROM residents)"
        )
        assert await run() == ((0, 1, 59, *first[3:]), False)
        assert await run() == ((0, 0, 60, *first[3:]), True)

        await run("DELETE FROM residents WHERE id = (SELECT max(id) FROM residents)")
        assert await run() == ((1, 0, 59, *first[3:]), False)
        assert await run() == ((0, 0, 60, *first[3:]), True)

        async with AsyncSession(issuance_engine) as session:
            statuses = (
                await session.scalars(select(CardImport.status).order_by(CardImport.id))
            ).all()
            history = await _count(session, ResidentHistory)
        assert statuses == [
            "applied",
            "applied",
            "previewed",
            "applied",
            "applied",
            "applied",
            "applied",
        ]
        assert history == 1
    finally:
        await truncate_all(zone_database_urls[Zone.ISSUANCE])
