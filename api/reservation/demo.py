"""Demo places and slots for the reservation zone, so `make run` has something to book."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Final
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.models import Location, Slot

DEMO_LOCATIONS: Final = (
    {
        "code": "HONCHO",
        "name": "デモ市役所 本庁舎 市民窓口センター",
        "address": "見本県デモ市中央1-1-1 本庁舎1階",
        "access_notes": "デモ駅東口から徒歩5分。1階の3番窓口へお越しください。",
    },
    {
        "code": "KITA",
        "name": "デモ市 北支所",
        "address": "見本県デモ市北町2-3-4",
        "access_notes": "北町バス停すぐ。駐車場10台。",
    },
)
SLOT_MINUTES: Final = 30
OPENING: Final = dt.time(9, 0)
CLOSING: Final = dt.time(17, 0)


def demo_slot_times(
    start: dt.date, days: int, tz: ZoneInfo
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Weekday slots from 9:00 to 17:00, skipping Japanese public holidays."""
    public_holidays = holidays.country_holidays("JP", years=range(start.year, start.year + 2))
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        if day.weekday() >= 5 or day in public_holidays:
            continue
        moment = dt.datetime.combine(day, OPENING, tzinfo=tz)
        closing = dt.datetime.combine(day, CLOSING, tzinfo=tz)
        while moment < closing:
            end = moment + dt.timedelta(minutes=SLOT_MINUTES)
            yield moment, end
            moment = end


async def seed_demo_places(
    session: AsyncSession, *, today: dt.date, tz: ZoneInfo, days: int = 60
) -> int:
    """Create the demo locations and their slots unless locations exist; return slots made."""
    if await session.scalar(select(func.count()).select_from(Location)):
        return 0
    rows: list[dict[str, object]] = []
    for index, place in enumerate(DEMO_LOCATIONS):
        location_id = await session.scalar(insert(Location).values(**place).returning(Location.id))
        # The main office opens three windows, the branch two; two people per window per slot.
        windows = 3 - index
        rows.extend(
            {
                "location_id": location_id,
                "starts_at": starts,
                "ends_at": ends,
                "online_capacity": windows * 2 - 1,
                "staff_capacity": 1,
            }
            for starts, ends in demo_slot_times(today + dt.timedelta(days=1), days, tz)
        )
    await session.execute(insert(Slot), rows)
    return len(rows)
