"""Helpers for places and exchange tests: a configured location, bookings written by SQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.models import Location
from api.reservation.places.schemas import DayHours, LocationInput, RulesPatch, WeeklyHours
from api.reservation.places.services import Clock, create_location, replace_hours, update_rules

TOKYO = ZoneInfo("Asia/Tokyo")
# A fixed "now": 2026-12-28 (Monday) 10:00 in Tokyo.
NOW = dt.datetime(2026, 12, 28, 10, 0, tzinfo=TOKYO)
CLOCK = Clock(tz=TOKYO, now=NOW)


async def configured_location(
    session: AsyncSession, code: str = "HONCHO", *, weekdays: range = range(7)
) -> Location:
    """A location open 9:00-12:00 on the given weekdays: 2 windows x 2 people, 75 % online."""
    location = await create_location(
        session, LocationInput(code=code, name=f"{code} 市民窓口", address="デモ市中央1-1")
    )
    await update_rules(
        session,
        code,
        RulesPatch(
            people_per_window=2,
            online_percent=75,
            default_windows=2,
            maintenance_sunday=2,
            opens_days_ahead=30,
        ),
        CLOCK,
        keep_over_capacity=False,
    )
    await replace_hours(
        session,
        code,
        WeeklyHours(
            days=[
                DayHours(weekday=day, opens_at=dt.time(9, 0), closes_at=dt.time(12, 0))
                for day in weekdays
            ]
        ),
        CLOCK,
        keep_over_capacity=False,
    )
    return location


async def slot_id_at(session: AsyncSession, location_id: int, starts_at: dt.datetime) -> int:
    """The id of the location's slot starting at this moment."""
    value: int = (
        await session.execute(
            text("SELECT id FROM slots WHERE location_id = :l AND starts_at = :s"),
            {"l": location_id, "s": starts_at},
        )
    ).scalar_one()
    return value


async def insert_booking(
    session: AsyncSession,
    slot_id: int,
    code: str,
    members: list[str],
    *,
    channel: str = "web",
    email: str | None = None,
    memo: str = "",
) -> int:
    """A booking written directly (as the booking engine would), counters included."""
    share = "online" if channel == "web" else "staff"
    booking_id: int = (
        await session.execute(
            text(
                "INSERT INTO bookings (confirmation_code, slot_id, channel, share, status, "
                "party_size, email, memo, created_at, updated_at) VALUES (:code, :slot, "
                ":channel, :share, 'booked', :size, :email, :memo, now(), now()) RETURNING id"
            ),
            {
                "code": code,
                "slot": slot_id,
                "channel": channel,
                "share": share,
                "size": len(members),
                "email": email,
                "memo": memo,
            },
        )
    ).scalar_one()
    for member in members:
        await session.execute(
            text(
                "INSERT INTO booking_members (booking_id, reservation_id, active, created_at, "
                "updated_at) VALUES (:b, :r, true, now(), now())"
            ),
            {"b": booking_id, "r": member},
        )
    await session.execute(
        text(f"UPDATE slots SET {share}_booked = {share}_booked + :n WHERE id = :id"),
        {"n": len(members), "id": slot_id},
    )
    return booking_id
