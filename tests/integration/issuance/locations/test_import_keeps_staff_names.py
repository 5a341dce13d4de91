"""The reservation import adds the codes it meets, but staff name the locations."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.exchange.bookings import IncomingBooking, apply_bookings
from api.issuance.exchange.models import CounterLocation
from api.issuance.exchange.schemas import ReservationImportReport
from api.issuance.locations.schemas import CounterLocationInput, CounterLocationPatch
from api.issuance.locations.services import CounterLocationService
from api.issuance.progress.rules import Action
from tests.integration.issuance.progress.factories import add_residents, advance

TOKYO = ZoneInfo("Asia/Tokyo")
START = dt.datetime(2026, 5, 11, 9, 30, tzinfo=TOKYO)


def _booking(
    code: str, reservation_id: str, location: str, name: str | None, hour: int = 0
) -> IncomingBooking:
    return IncomingBooking(
        confirmation_code=code,
        reservation_id=reservation_id,
        location_code=location,
        location_name=name,
        starts_at=START,
        ends_at=START + dt.timedelta(minutes=15),
        status="booked",
        channel="web",
        updated_at=START - dt.timedelta(days=3) + dt.timedelta(hours=hour),
    )


async def _import(session: AsyncSession, *bookings: IncomingBooking) -> None:
    report = ReservationImportReport(source="csv", outcome="applied", reason="")
    await apply_bookings(session, list(bookings), actor="sync", report=report)


async def _places(session: AsyncSession) -> dict[str, tuple[str, bool, str | None]]:
    rows = await session.scalars(select(CounterLocation).order_by(CounterLocation.code))
    return {row.code: (row.name, row.active, row.updated_by) for row in rows}


async def test_reservation_import_adds_unknown_codes_unlisted_and_never_renames_staff_names(
    issuance_session: AsyncSession,
) -> None:
    locations = CounterLocationService(session=issuance_session)
    await locations.add(
        CounterLocationInput(code="HONCHO", name="本庁舎 市民窓口センター"), staff="tanaka"
    )
    a, b = await add_residents(issuance_session, 2)
    await advance(issuance_session, [a, b], Action.PRESETUP_DONE)

    await _import(
        issuance_session,
        _booking("C0000001", a.reservation_id, "HONCHO", "本庁舎"),
        _booking("C0000002", b.reservation_id, "KITA", "北支所"),
    )

    assert await _places(issuance_session) == {
        "HONCHO": ("本庁舎 市民窓口センター", True, "tanaka"),
        "KITA": ("北支所", False, None),
    }
    assert [row.code for row in await locations.on_letters()] == ["HONCHO"]

    # A name only imports gave follows the reservation zone; once staff name it, it stays.
    await _import(issuance_session, _booking("C0000002", b.reservation_id, "KITA", "北支所 新", 1))
    assert (await _places(issuance_session))["KITA"] == ("北支所 新", False, None)
    await locations.change("KITA", CounterLocationPatch(name="デモ市 北支所"), staff="tanaka")
    await _import(issuance_session, _booking("C0000002", b.reservation_id, "KITA", "北支所 旧", 2))
    assert (await _places(issuance_session))["KITA"] == ("デモ市 北支所", False, "tanaka")
