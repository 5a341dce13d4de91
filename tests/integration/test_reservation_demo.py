from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.demo import seed_demo_places
from api.reservation.models import Location, Slot
from api.reservation.places.services import Clock

TOKYO = ZoneInfo("Asia/Tokyo")


async def test_demo_places_open_on_weekdays_and_one_sunday_and_seed_only_once(
    reservation_session: AsyncSession,
) -> None:
    # Spans the New Year holidays.
    clock = Clock(tz=TOKYO, now=dt.datetime(2026, 12, 21, 9, 0, tzinfo=TOKYO))

    made = await seed_demo_places(reservation_session, clock)
    again = await seed_demo_places(reservation_session, clock)

    slots = (await reservation_session.scalars(select(Slot))).all()
    locations = await reservation_session.scalar(select(func.count()).select_from(Location))
    days = {slot.starts_at.astimezone(TOKYO).date() for slot in slots}
    japanese_holidays = holidays.country_holidays("JP", years=[2026, 2027])
    sundays = {day for day in days if day.weekday() == 6}
    assert locations == 2
    assert made == len(slots) > 0
    assert again == 0
    # 休日開庁: the one special opening, the Sunday after next.
    assert sundays == {dt.date(2027, 1, 10)}
    assert all(day.weekday() < 5 or day in sundays for day in days)
    assert not days & set(japanese_holidays)
    late = [slot for slot in slots if slot.starts_at.astimezone(TOKYO).time() >= dt.time(17)]
    assert late
    assert all(slot.starts_at.astimezone(TOKYO).weekday() == 3 for slot in late)
    assert all(slot.online_capacity > 0 and slot.staff_capacity > 0 for slot in slots)
