"""Availability for residents: read-only, one indexed query per request.

Remaining places come straight from the slot counters that every booking change updates
in its own transaction, so there is no cache to invalidate and nothing to go stale. The
range scan uses the ``(location_id, starts_at)`` unique index of ``slots``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.reservation.booking.driver import DriverDb, SessionDb, Statement
from api.reservation.booking.rules import DEFAULT_RULES
from api.reservation.places.schemas import (
    DayAvailability,
    DaySlots,
    MonthAvailability,
    SlotAvailability,
)
from api.reservation.places.services import LocationNotFound

# Both queries start from the location, so an unknown code gives no row at all and a
# known one with no slots gives one row of NULLs.
_BOOKABLE: Final = f"""
    s.starts_at - make_interval(
        hours => coalesce(r.closes_hours_before, {DEFAULT_RULES.closes_hours_before})) > :now
    AND ((s.starts_at AT TIME ZONE :tz)::date
         - coalesce(r.opens_days_ahead, {DEFAULT_RULES.opens_days_ahead})
         + coalesce(r.opens_at, TIME '{DEFAULT_RULES.opens_at.isoformat()}')
        ) AT TIME ZONE :tz <= :now
"""
_NOT_YET_OPEN: Final = f"""
    ((s.starts_at AT TIME ZONE :tz)::date
     - coalesce(r.opens_days_ahead, {DEFAULT_RULES.opens_days_ahead})
     + coalesce(r.opens_at, TIME '{DEFAULT_RULES.opens_at.isoformat()}')
    ) AT TIME ZONE :tz > :now
"""
_FROM: Final = """
FROM locations l
LEFT JOIN location_rules r ON r.location_id = l.id
LEFT JOIN slots s ON s.location_id = l.id AND s.starts_at >= :lower AND s.starts_at < :upper
WHERE l.code = :code
"""
_MONTH = text(
    f"""
SELECT (s.starts_at AT TIME ZONE :tz)::date AS day,
       count(s.id) AS slots,
       count(s.id) FILTER (WHERE {_BOOKABLE}) AS bookable,
       coalesce(sum(greatest(s.online_capacity - s.online_booked, 0))
                FILTER (WHERE {_BOOKABLE}), 0) AS remaining,
       count(s.id) FILTER (WHERE {_NOT_YET_OPEN}) AS not_yet_open
{_FROM}
GROUP BY day
ORDER BY day
"""
)
_DAY = Statement(
    text(
        f"""
SELECT s.id, s.starts_at, s.ends_at,
       greatest(s.online_capacity - s.online_booked, 0) AS remaining,
       coalesce({_BOOKABLE}, false) AS bookable
{_FROM}
ORDER BY s.starts_at
"""
    )
)


def _bounds(first: dt.date, last: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    lower = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    upper = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return lower, upper


def _status(slots: int, bookable: int, remaining: int, not_yet_open: int) -> str:
    if slots == 0:
        return "closed"
    if bookable:
        return "open" if remaining else "full"
    return "not_yet_open" if not_yet_open else "closed"


async def month_availability(
    session: AsyncSession, code: str, year: int, month: int, *, tz: ZoneInfo, now: dt.datetime
) -> MonthAvailability:
    """Every day of a month at a location: remaining online places and whether it is open."""
    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    lower, upper = _bounds(first, last, tz)
    rows = (
        await session.execute(
            _MONTH, {"code": code, "lower": lower, "upper": upper, "tz": tz.key, "now": now}
        )
    ).all()
    if not rows:
        raise LocationNotFound(f"There is no location {code!r}.")
    found = {row.day: row for row in rows if row.day is not None}
    days = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        row = found.get(day)
        counts = (row.slots, row.bookable, row.remaining, row.not_yet_open) if row else (0, 0, 0, 0)
        days.append(
            DayAvailability(
                date=day,
                status=_status(*counts),  # type: ignore[arg-type]
                slots=counts[0],
                remaining_online=counts[2] if counts[1] else 0,
            )
        )
    return MonthAvailability(location_code=code, month=f"{year:04d}-{month:02d}", days=days)


async def day_slots(
    db: AsyncSession | AsyncConnection | DriverDb,
    code: str,
    day: dt.date,
    *,
    tz: ZoneInfo,
    now: dt.datetime,
) -> DaySlots:
    """The slots of one day at a location, with remaining online places and bookability.

    ``db``: an ORM session or connection, or an asyncpg connection (the public day view).
    """
    lower, upper = _bounds(day, day, tz)
    runner = db if isinstance(db, DriverDb) else SessionDb(db)
    rows = await runner.all(
        _DAY, {"code": code, "lower": lower, "upper": upper, "tz": tz.key, "now": now}
    )
    if not rows:
        raise LocationNotFound(f"There is no location {code!r}.")
    return DaySlots(
        location_code=code,
        date=day,
        # Rows unpacked as tuples (in the statement's column order): the page every
        # resident reloads at opening time builds a dozen of these per request.
        slots=[
            SlotAvailability(
                slot_id=slot_id,
                starts_at=starts_at,
                ends_at=ends_at,
                remaining_online=remaining,
                bookable=bookable,
            )
            for slot_id, starts_at, ends_at, remaining, bookable in rows
            if slot_id is not None
        ],
    )
