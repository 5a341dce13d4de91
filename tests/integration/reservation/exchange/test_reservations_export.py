"""Reservation lists, 予約一覧CSV, reservations bundles and the receipts for them."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.core.settings import Zone
from api.reservation.exchange.export import (
    ExportBusy,
    begin_consistent_export,
    export_reservations,
)
from api.reservation.exchange.receipts import import_receipt
from api.reservation.exchange.reservations import list_reservations, list_row, search_parameters
from api.reservation.exchange.streams import BundleRefused, ExchangeKeys
from sync_format import (
    Receipt,
    ReservationRecord,
    TrustStore,
    ZoneSecretKeys,
    open_bundle,
    write_bundle,
)
from sync_format.csv.reservation_list import read_reservation_list, write_reservation_list
from tests.conftest import truncate_all
from tests.integration.reservation.places.places_support import (
    NOW,
    TOKYO,
    configured_location,
    insert_booking,
    slot_id_at,
)

DAY = dt.date(2026, 12, 30)


async def booked_day(session: AsyncSession) -> None:
    location = await configured_location(session)
    nine = await slot_id_at(
        session, location.id, dt.datetime.combine(DAY, dt.time(9), tzinfo=TOKYO)
    )
    ten = await slot_id_at(
        session, location.id, dt.datetime.combine(DAY, dt.time(10), tzinfo=TOKYO)
    )
    await insert_booking(
        session,
        nine,
        "K7QXM3PA",
        ["A1B-000001", "A1B-000002"],
        email="=cmd@example.jp",
        memo="車いす",
    )
    await insert_booking(session, ten, "PHONE234", ["C3D-000009"], channel="phone", memo="-1")


async def test_lists_by_day_and_search_by_id_or_code(reservation_session: AsyncSession) -> None:
    await booked_day(reservation_session)
    by_day = search_parameters(location_code="HONCHO", day=DAY, search=None, tz=TOKYO)
    rows, total = await list_reservations(reservation_session, by_day, limit=2, offset=0)
    assert total == 3
    assert [(r.confirmation_code, r.reservation_id, r.companion_ids) for r in rows] == [
        ("K7QXM3PA", "A1B-000001", ["A1B-000002"]),
        ("K7QXM3PA", "A1B-000002", ["A1B-000001"]),
    ]
    for query in ("a1b000002", "K7QX-M3PA"):
        found = search_parameters(location_code=None, day=None, search=query, tz=TOKYO)
        rows, total = await list_reservations(reservation_session, found, limit=10, offset=0)
        assert {r.confirmation_code for r in rows} == {"K7QXM3PA"}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
async def test_the_reservation_list_csv_round_trips(
    reservation_session: AsyncSession, encoding: str
) -> None:
    await booked_day(reservation_session)
    parameters = search_parameters(location_code="HONCHO", day=DAY, search=None, tz=TOKYO)
    views, _ = await list_reservations(reservation_session, parameters, limit=100, offset=0)
    rows = [list_row(view, TOKYO) for view in views]
    buffer = io.BytesIO()

    write_reservation_list(buffer, rows, encoding=encoding)
    result = read_reservation_list(io.BytesIO(buffer.getvalue()))

    assert result.ok, result.problems
    assert result.rows == rows
    assert rows[0].start_time == dt.time(9, 0)
    assert b"'=cmd@example.jp" in buffer.getvalue()  # neutralised for spreadsheets


def receipt_from_issuance(
    path: Path,
    issuance: ZoneSecretKeys,
    reservation: ZoneSecretKeys,
    receipt: Receipt,
    sequence: int,
) -> Path:
    write_bundle(
        path,
        kind="receipt",
        records=[receipt],
        sender=issuance,
        recipient=reservation.public(),
        sequence=sequence,
    )
    return path


async def test_export_full_then_receipt_then_delta(
    reservation_session: AsyncSession,
    keys: ExchangeKeys,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
    tmp_path: Path,
) -> None:
    await booked_day(reservation_session)
    # Deltas compare with the database's clock (bookings' updated_at): use the real one.
    now = dt.datetime.now(TOKYO)
    first = await export_reservations(
        reservation_session, keys, tmp_path, full=False, now=now, tz=TOKYO
    )
    # The files take their names when the export commits (here: the test's savepoint).
    await reservation_session.commit()
    assert (first.sequence, first.mode, first.records) == (1, "full", 3)
    trusted = TrustStore([reservation_keys.public()])
    bundle = open_bundle(Path(first.bundle), recipient=issuance_keys, trusted=trusted)
    records = list(bundle.records())
    assert all(isinstance(r, ReservationRecord) for r in records)
    assert {r.reservation_id for r in records} == {"A1B-000001", "A1B-000002", "C3D-000009"}  # type: ignore[union-attr]
    assert first.csv is not None
    assert len(read_reservation_list(Path(first.csv)).rows) == 3

    stranger = Receipt(
        bundle_id=uuid.uuid4(),
        sequence=1,
        digest=bundle.digest,
        imported=3,
        updated=0,
        ignored=0,
        failed=0,
    )
    with pytest.raises(BundleRefused, match="did not write"):
        await import_receipt(
            reservation_session,
            receipt_from_issuance(
                tmp_path / "r0.bundle", issuance_keys, reservation_keys, stranger, 1
            ),
            keys,
            now=NOW,
        )

    good = Receipt(
        bundle_id=bundle.header.bundle_id,
        sequence=1,
        digest=bundle.digest,
        imported=3,
        updated=0,
        ignored=0,
        failed=0,
    )
    receipt_path = receipt_from_issuance(
        tmp_path / "r1.bundle", issuance_keys, reservation_keys, good, 1
    )
    report = await import_receipt(reservation_session, receipt_path, keys, now=NOW)
    assert report.acknowledged == [1]
    again = await import_receipt(reservation_session, receipt_path, keys, now=NOW)
    assert again.outcome == "already_applied"

    await reservation_session.execute(
        text(
            "UPDATE bookings SET status = 'cancelled', updated_at = now() "
            "WHERE confirmation_code = 'PHONE234'"
        )
    )
    second = await export_reservations(
        reservation_session, keys, tmp_path, full=False, now=now, tz=TOKYO, with_csv=False
    )
    await reservation_session.commit()
    assert (second.sequence, second.mode, second.base_sequence) == (2, "delta", 1)
    delta = open_bundle(Path(second.bundle), recipient=issuance_keys, trusted=trusted)
    statuses = {r.confirmation_code: r.status for r in delta.records()}  # type: ignore[union-attr]
    assert statuses["PHONE234"] == "cancelled"


async def test_an_export_reads_one_snapshot_even_after_the_session_was_used(
    reservation_engine: AsyncEngine,
) -> None:
    async with AsyncSession(reservation_engine) as session:
        # The request's session may have run a query already (its transaction has begun).
        await session.execute(text("SELECT 1"))
        await begin_consistent_export(session)
        level = await session.scalar(text("SHOW transaction_isolation"))
        await session.rollback()
    assert level == "repeatable read"


async def test_a_second_export_while_one_is_written_is_refused_and_takes_no_file(
    reservation_engine: AsyncEngine,
    zone_database_urls: dict[Zone, str],
    keys: ExchangeKeys,
    tmp_path: Path,
) -> None:
    now = dt.datetime.now(TOKYO)
    try:
        async with (
            AsyncSession(reservation_engine) as first,
            AsyncSession(reservation_engine) as second,
        ):
            await begin_consistent_export(first)
            report = await export_reservations(first, keys, tmp_path, full=True, now=now, tz=TOKYO)
            # Until the commit the files have hidden names only.
            assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == [
                f".reservations-{report.sequence:06d}.bundle.partial",
                f".reservations-{report.sequence:06d}.csv.partial",
            ]
            await begin_consistent_export(second)
            with pytest.raises(ExportBusy):
                await export_reservations(second, keys, tmp_path, full=True, now=now, tz=TOKYO)
            await second.rollback()
            await first.commit()
        assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == [
            Path(report.bundle).name,
            Path(report.csv or "").name,
        ]
    finally:
        await truncate_all(zone_database_urls[Zone.RESERVATION])
