"""Demo places for the reservation zone, set up through the places settings like staff would."""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.models import Location, Slot
from api.reservation.places.schemas import (
    BandInput,
    DayHours,
    LocationInput,
    RulesPatch,
    SpecialOpeningInput,
    TimeBands,
    WeeklyHours,
)
from api.reservation.places.services import (
    Clock,
    add_special_opening,
    create_location,
    replace_bands,
    replace_hours,
    update_rules,
)

DEMO_LOCATIONS: Final = (
    LocationInput(
        code="HONCHO",
        name="デモ市役所 本庁舎 市民窓口センター",
        address="見本県デモ市中央1-1-1 本庁舎1階",
        access_notes="デモ駅東口から徒歩5分。1階の3番窓口へお越しください。",
    ),
    LocationInput(
        code="KITA",
        name="デモ市 北支所",
        address="見本県デモ市北町2-3-4",
        access_notes="北町バス停すぐ。駐車場10台。",
    ),
)
WEEKDAYS: Final = range(5)  # Monday to Friday


def _week(opens: dt.time, closes: dt.time, late_thursday: bool) -> WeeklyHours:
    return WeeklyHours(
        days=[
            DayHours(
                weekday=weekday,
                opens_at=opens,
                # 木曜夜間窓口: the main office stays open until 19:00 on Thursdays.
                closes_at=dt.time(19, 0) if late_thursday and weekday == 3 else closes,
            )
            for weekday in WEEKDAYS
        ]
    )


def _next_sunday(after: dt.date, weeks: int) -> dt.date:
    return after + dt.timedelta(days=(6 - after.weekday()) + 7 * weeks)


async def seed_demo_places(session: AsyncSession, clock: Clock) -> int:
    """Create the demo locations with hours, bands, rules and a 休日開庁 Sunday; return slots.

    Does nothing (returns 0) when any location exists: demo data is seeded once.
    """
    if await session.scalar(select(func.count()).select_from(Location)):
        return 0
    for index, place in enumerate(DEMO_LOCATIONS):
        await create_location(session, place)
        # The main office opens three windows (two at lunch), the branch two.
        windows = 3 - index
        await update_rules(
            session,
            place.code,
            RulesPatch(slot_minutes=30, people_per_window=2, online_percent=75),
            clock,
            keep_over_capacity=False,
        )
        await replace_bands(
            session,
            place.code,
            TimeBands(
                bands=[
                    BandInput(starts_at=dt.time(9), ends_at=dt.time(12), windows=windows),
                    BandInput(
                        starts_at=dt.time(12), ends_at=dt.time(13), windows=max(1, windows - 1)
                    ),
                    BandInput(starts_at=dt.time(13), ends_at=dt.time(19), windows=windows),
                ]
            ),
            clock,
            keep_over_capacity=False,
        )
        await replace_hours(
            session,
            place.code,
            _week(dt.time(9), dt.time(17), late_thursday=index == 0),
            clock,
            keep_over_capacity=False,
        )
    await add_special_opening(
        session,
        "HONCHO",
        SpecialOpeningInput(
            day=_next_sunday(clock.today, weeks=2),
            opens_at=dt.time(9),
            closes_at=dt.time(12),
            reason="休日開庁",
        ),
        clock,
        keep_over_capacity=False,
    )
    return int(await session.scalar(select(func.count()).select_from(Slot)) or 0)
