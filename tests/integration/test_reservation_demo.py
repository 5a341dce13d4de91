from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.demo import seed_demo_places
from api.reservation.models import Location, Slot

TOKYO = ZoneInfo("Asia/Tokyo")


async def test_demo_places_get_weekday_slots_and_seed_only_once(
    reservation_session: AsyncSession,
) -> None:
    today = dt.date(2026, 12, 28)  # spans the New Year holidays

    made = await seed_demo_places(reservation_session, today=today, tz=TOKYO, days=21)
    again = await seed_demo_places(reservation_session, today=today, tz=TOKYO, days=21)

    slots = (await reservation_session.scalars(select(Slot))).all()
    locations = await reservation_session.scalar(select(func.count()).select_from(Location))
    days = {slot.starts_at.astimezone(TOKYO).date() for slot in slots}
    japanese_holidays = holidays.country_holidays("JP", years=[2026, 2027])
    assert locations == 2
    assert made == len(slots) > 0
    assert again == 0
    assert all(day.weekday() < 5 and day not in japanese_holidays for day in days)
    assert dt.date(2027, 1, 1) not in days
    assert all(slot.online_capacity > 0 and slot.staff_capacity > 0 for slot in slots)
    assert min(slot.starts_at.astimezone(TOKYO).time() for slot in slots) == dt.time(9, 0)
