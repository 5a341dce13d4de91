"""A location staff keep as ``city-hall`` is the one a 予約一覧CSV names ``city-hall``."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.exchange.models import Booking, CounterLocation
from api.issuance.exchange.reservations import import_reservation_csv
from api.issuance.locations.schemas import CounterLocationInput
from api.issuance.locations.services import CounterLocationService
from api.issuance.progress.rules import Action
from sync_format.csv import Channel, ReservationListRow, ReservationStatus, write_reservation_list
from tests.integration.issuance.progress.factories import add_residents, advance

TOKYO = ZoneInfo("Asia/Tokyo")


async def test_a_reservation_list_keeps_the_case_of_location_codes_so_no_second_location_appears(
    issuance_session: AsyncSession,
) -> None:
    await CounterLocationService(session=issuance_session).add(
        CounterLocationInput(code="city-hall", name="市役所本庁舎"), staff="tanaka"
    )
    [resident] = await add_residents(issuance_session, 1)
    await advance(issuance_session, [resident], Action.PRESETUP_DONE)
    row = ReservationListRow(
        confirmation_code="K0000001",
        reservation_id=resident.reservation_id,
        location_code="city-hall",
        location_name="本庁舎",
        date=dt.date(2026, 5, 11),
        start_time=dt.time(9, 30),
        end_time=dt.time(9, 45),
        status=ReservationStatus.BOOKED,
        channel=Channel.WEB,
        updated_at=dt.datetime(2026, 5, 1, 12, 0, tzinfo=TOKYO),
    )
    buffer = io.BytesIO()
    write_reservation_list(buffer, [row])

    report = await import_reservation_csv(
        issuance_session, buffer.getvalue(), file_name="list.csv", tz=TOKYO, actor="operator"
    )

    assert (report.outcome, report.imported) == ("applied", 1)
    assert list(await issuance_session.scalars(select(CounterLocation.code))) == ["city-hall"]
    assert list(await issuance_session.scalars(select(Booking.location_code))) == ["city-hall"]
