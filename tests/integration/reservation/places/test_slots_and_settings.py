"""Slots generated from the settings, closures, capacity changes, rules, availability."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.rules import BookingRules
from api.reservation.models import Slot
from api.reservation.places.availability import day_slots, month_availability
from api.reservation.places.rules import stored_booking_rules
from api.reservation.places.schemas import (
    BandInput,
    ClosedDayInput,
    RulesPatch,
    SpecialOpeningInput,
    TimeBands,
)
from api.reservation.places.services import (
    InvalidSetting,
    add_closed_day,
    add_special_opening,
    replace_bands,
    update_rules,
)
from api.reservation.places.slots import OverCapacity, regenerate_slots
from tests.integration.reservation.places.places_support import (
    CLOCK,
    NOW,
    TOKYO,
    configured_location,
    insert_booking,
    slot_id_at,
)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TOKYO)


async def slots_per_day(session: AsyncSession, location_id: int) -> dict[dt.date, int]:
    day = func.date(func.timezone("Asia/Tokyo", Slot.starts_at))
    rows = await session.execute(
        select(day, func.count()).where(Slot.location_id == location_id).group_by(day)
    )
    return {row[0]: row[1] for row in rows}


async def test_closed_days_get_no_slots_and_a_special_opening_does(
    reservation_session: AsyncSession,
) -> None:
    location = await configured_location(reservation_session)
    city_day, saturday = dt.date(2027, 1, 5), dt.date(2027, 1, 9)
    await add_closed_day(
        reservation_session,
        "HONCHO",
        ClosedDayInput(day=city_day, reason="庁舎点検"),
        CLOCK,
        keep_over_capacity=False,
    )
    # Saturdays open anyway here; make the 9th special by closing it and opening specially.
    await add_closed_day(
        reservation_session,
        "HONCHO",
        ClosedDayInput(day=saturday),
        CLOCK,
        keep_over_capacity=False,
    )
    report = await add_special_opening(
        reservation_session,
        "HONCHO",
        SpecialOpeningInput(
            day=saturday, opens_at=dt.time(9, 0), closes_at=dt.time(10, 0), reason="休日開庁"
        ),
        CLOCK,
        keep_over_capacity=False,
    )
    assert report.created == 2

    days = await slots_per_day(reservation_session, location.id)
    assert days.get(dt.date(2027, 1, 1), 0) == 0  # 元日
    assert days.get(dt.date(2027, 1, 11), 0) == 0  # 成人の日
    assert days.get(dt.date(2027, 1, 10), 0) == 0  # second Sunday: maintenance
    assert days.get(city_day, 0) == 0
    assert days[saturday] == 2
    assert days[dt.date(2027, 1, 4)] == 6
    assert days[dt.date(2027, 1, 17)] == 6  # third Sunday


async def test_a_special_opening_on_a_maintenance_day_is_refused(
    reservation_session: AsyncSession,
) -> None:
    await configured_location(reservation_session)
    set_day = dt.date(2027, 1, 16)
    await add_closed_day(
        reservation_session,
        "HONCHO",
        ClosedDayInput(day=set_day, kind="maintenance", reason="J-LIS"),
        CLOCK,
        keep_over_capacity=False,
    )
    # The second Sunday is the maintenance Sunday of this location's rules.
    for day in (dt.date(2027, 1, 10), set_day):
        with pytest.raises(InvalidSetting, match="maintenance"):
            await add_special_opening(
                reservation_session,
                "HONCHO",
                SpecialOpeningInput(day=day, opens_at=dt.time(9, 0), closes_at=dt.time(10, 0)),
                CLOCK,
                keep_over_capacity=False,
            )


async def test_regeneration_is_idempotent_and_never_touches_the_past(
    reservation_session: AsyncSession,
) -> None:
    location = await configured_location(reservation_session)
    again = await regenerate_slots(
        reservation_session, location.id, NOW.date(), dt.date(2027, 1, 27), tz=TOKYO, now=NOW
    )
    assert (again.created, again.changed, again.removed, again.emptied) == (0, 0, 0, 0)
    first = await reservation_session.scalar(
        select(func.min(Slot.starts_at)).where(Slot.location_id == location.id)
    )
    assert first == at(NOW.date(), 10, 0)  # today's 9:00 and 9:30 lie in the past


async def test_a_capacity_cut_below_bookings_is_refused_listing_them_unless_kept(
    reservation_session: AsyncSession,
) -> None:
    location = await configured_location(reservation_session)
    slot = await slot_id_at(reservation_session, location.id, at(dt.date(2027, 1, 4), 9))
    await insert_booking(reservation_session, slot, "BOOKED01", ["A1B-000001", "A1B-000002"])
    await insert_booking(reservation_session, slot, "BOOKED02", ["A1B-000003"])
    bands = TimeBands(bands=[BandInput(starts_at=dt.time(9), ends_at=dt.time(10), windows=1)])

    with pytest.raises(OverCapacity) as refusal:
        await replace_bands(reservation_session, "HONCHO", bands, CLOCK, keep_over_capacity=False)

    listed = refusal.value.details["bookings"]
    assert [b["confirmation_code"] for b in listed] == ["BOOKED01", "BOOKED02"]
    assert listed[0]["reservation_ids"] == ["A1B-000001", "A1B-000002"]
    unchanged = await reservation_session.get(Slot, slot)
    assert unchanged is not None
    assert (unchanged.online_capacity, unchanged.online_booked) == (3, 3)

    report = await replace_bands(
        reservation_session, "HONCHO", bands, CLOCK, keep_over_capacity=True
    )
    assert [b.confirmation_code for b in report.over_capacity] == ["BOOKED01", "BOOKED02"]
    kept = await reservation_session.get(Slot, slot)
    assert kept is not None
    assert (kept.online_capacity, kept.staff_capacity, kept.online_booked) == (1, 1, 3)


async def test_closing_a_booked_day_keeps_the_slot_but_an_empty_one_goes(
    reservation_session: AsyncSession,
) -> None:
    location = await configured_location(reservation_session)
    day = dt.date(2027, 1, 6)
    slot = await slot_id_at(reservation_session, location.id, at(day, 9))
    await insert_booking(reservation_session, slot, "PHONE001", ["B2C-000001"], channel="phone")
    closure = ClosedDayInput(day=day, reason="臨時休業")

    with pytest.raises(OverCapacity):
        await add_closed_day(
            reservation_session, "HONCHO", closure, CLOCK, keep_over_capacity=False
        )
    report = await add_closed_day(
        reservation_session, "HONCHO", closure, CLOCK, keep_over_capacity=True
    )

    assert (report.removed, report.emptied) == (5, 1)
    assert (await slots_per_day(reservation_session, location.id))[day] == 1


async def test_stored_rules_reach_the_booking_engine(reservation_session: AsyncSession) -> None:
    location = await configured_location(reservation_session)
    await update_rules(
        reservation_session,
        "HONCHO",
        RulesPatch(closes_hours_before=2, change_hours_before=48, household_max=4),
        CLOCK,
        keep_over_capacity=False,
    )
    rules = await stored_booking_rules(reservation_session, location.id)
    assert rules == BookingRules(
        opens_days_ahead=30,
        opens_at=dt.time(9, 0),
        closes_hours_before=2,
        change_hours_before=48,
        household_max=4,
    )


async def test_availability_counts_remaining_online_places(
    reservation_session: AsyncSession,
) -> None:
    location = await configured_location(reservation_session)
    day = dt.date(2027, 1, 4)
    slot = await slot_id_at(reservation_session, location.id, at(day, 9))
    await insert_booking(reservation_session, slot, "WEB00001", ["C3D-000001", "C3D-000002"])

    month = await month_availability(reservation_session, "HONCHO", 2027, 1, tz=TOKYO, now=NOW)
    by_day = {entry.date: entry for entry in month.days}
    assert (by_day[day].status, by_day[day].slots, by_day[day].remaining_online) == (
        "open",
        6,
        6 * 3 - 2,
    )
    assert by_day[dt.date(2027, 1, 11)].status == "closed"
    assert by_day[dt.date(2027, 1, 28)].status == "not_yet_open"  # opens 30 days ahead
    slots = await day_slots(reservation_session, "HONCHO", day, tz=TOKYO, now=NOW)
    assert [s.remaining_online for s in slots.slots] == [1, 3, 3, 3, 3, 3]
    assert all(s.bookable for s in slots.slots)
    # Booking closes 24 hours before: at 10:00 today, tomorrow's 10:00 has just closed.
    tomorrow = await day_slots(
        reservation_session, "HONCHO", dt.date(2026, 12, 29), tz=TOKYO, now=NOW
    )
    assert [s.bookable for s in tomorrow.slots][:4] == [False, False, False, True]
