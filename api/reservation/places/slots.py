"""Generate a location's slots from its settings, set-based, never dropping a booking.

Regeneration is idempotent: it makes the ``slots`` rows of a date range match what the
settings call for. A slot the settings no longer want is deleted only when no booking
has ever referred to it; otherwise it stays with no capacity. A change that leaves a
slot with more bookings than capacity is refused, listing the bookings, unless staff
choose to keep them as over-capacity.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, DateTime, Integer, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.reservation.models import Slot
from api.reservation.places.calendar import Band, LocationPlan, Opening, plan_range
from api.reservation.places.models import (
    ClosedDay,
    LocationRules,
    OpeningHours,
    SpecialOpening,
    TimeBand,
)
from api.reservation.places.schemas import AffectedBooking, RegenerationReport

# One request may regenerate at most this many days (a little over a year).
MAX_DAYS = 400
# Slots exist this many days beyond the booking horizon, so residents see when the next
# days open ("not yet open") instead of a closed calendar.
LOOKAHEAD_DAYS = 7

_MOMENTS = ARRAY(DateTime(timezone=True))
_NUMBERS = ARRAY(Integer)
_PLANNED = """
planned AS (
    SELECT * FROM unnest(
        CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]),
        CAST(:online AS integer[]), CAST(:staff AS integer[])
    )
        AS p(starts_at, ends_at, online_capacity, staff_capacity)
),
existing AS (
    SELECT s.* FROM slots s
    WHERE s.location_id = :location_id AND s.starts_at >= :lower AND s.starts_at < :upper
)
"""
# Slots whose capacity the change lowers below what is booked in them.
_SHORTFALLS = text(
    "WITH "
    + _PLANNED
    + """
SELECT e.id FROM existing e LEFT JOIN planned p ON p.starts_at = e.starts_at
WHERE (e.online_booked > coalesce(p.online_capacity, 0)
       AND coalesce(p.online_capacity, 0) < e.online_capacity)
   OR (e.staff_booked > coalesce(p.staff_capacity, 0)
       AND coalesce(p.staff_capacity, 0) < e.staff_capacity)
"""
)
_UPSERT = text(
    "WITH "
    + _PLANNED
    + """
INSERT INTO slots (location_id, starts_at, ends_at, online_capacity, staff_capacity,
                   online_booked, staff_booked, created_at, updated_at)
SELECT :location_id, p.starts_at, p.ends_at, p.online_capacity, p.staff_capacity,
       0, 0, now(), now()
FROM planned p
ON CONFLICT (location_id, starts_at) DO UPDATE SET
    ends_at = excluded.ends_at,
    online_capacity = excluded.online_capacity,
    staff_capacity = excluded.staff_capacity,
    updated_at = now()
WHERE (slots.ends_at, slots.online_capacity, slots.staff_capacity)
    IS DISTINCT FROM (excluded.ends_at, excluded.online_capacity, excluded.staff_capacity)
RETURNING (xmax = 0) AS created
"""
)
# Unwanted slots no booking ever referred to go; the others stay, emptied.
_REMOVE = text(
    "WITH "  # noqa: S608 - only constants of this module are joined
    + _PLANNED
    + """
DELETE FROM slots s USING existing e
WHERE s.id = e.id
  AND NOT EXISTS (SELECT 1 FROM planned p WHERE p.starts_at = e.starts_at)
  AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = e.id)
RETURNING s.id
"""
)
_EMPTY = text(
    "WITH "  # noqa: S608 - only constants of this module are joined
    + _PLANNED
    + """
UPDATE slots s SET online_capacity = 0, staff_capacity = 0, updated_at = now()
FROM existing e
WHERE s.id = e.id
  AND NOT EXISTS (SELECT 1 FROM planned p WHERE p.starts_at = e.starts_at)
  AND (e.online_capacity, e.staff_capacity) <> (0, 0)
RETURNING s.id
"""
)
_AFFECTED = text("""
SELECT b.confirmation_code, s.starts_at, b.channel, b.party_size,
       coalesce(array_agg(m.reservation_id ORDER BY m.id)
                FILTER (WHERE m.id IS NOT NULL), '{}') AS reservation_ids
FROM bookings b
JOIN slots s ON s.id = b.slot_id
LEFT JOIN booking_members m ON m.booking_id = b.id AND m.active
WHERE b.slot_id = ANY(CAST(:slot_ids AS bigint[])) AND b.status <> 'cancelled'
GROUP BY b.id, s.starts_at
ORDER BY s.starts_at, b.confirmation_code
""").bindparams(bindparam("slot_ids", type_=ARRAY(Integer)))
_LOCK = text("""
SELECT id FROM slots
WHERE location_id = :location_id AND starts_at >= :lower AND starts_at < :upper
ORDER BY id FOR UPDATE
""")


class OverCapacity(DomainError):
    """The change leaves bookings above a slot's capacity; ``details`` lists them."""

    status_code = 409
    code = "over_capacity"


class InvalidRange(DomainError):
    """The date range is empty or too long."""

    status_code = 422
    code = "invalid_range"


async def load_plan(session: AsyncSession, location_id: int) -> LocationPlan:
    """Read every setting of a location that decides its slots."""
    rules = await session.scalar(
        select(LocationRules).where(LocationRules.location_id == location_id)
    )
    if rules is None:
        rules = LocationRules(location_id=location_id)
        session.add(rules)
        await session.flush()
    hours = await session.scalars(
        select(OpeningHours).where(OpeningHours.location_id == location_id)
    )
    bands = await session.scalars(
        select(TimeBand).where(TimeBand.location_id == location_id).order_by(TimeBand.starts_at)
    )
    closed = list(
        await session.scalars(select(ClosedDay).where(ClosedDay.location_id == location_id))
    )
    specials = await session.scalars(
        select(SpecialOpening).where(SpecialOpening.location_id == location_id)
    )
    return LocationPlan(
        slot_minutes=rules.slot_minutes,
        people_per_window=rules.people_per_window,
        online_percent=rules.online_percent,
        default_windows=rules.default_windows,
        closed_on_public_holidays=rules.closed_on_public_holidays,
        maintenance_sunday=rules.maintenance_sunday,
        hours={row.weekday: Opening(row.opens_at, row.closes_at) for row in hours},
        bands=tuple(Band(row.starts_at, row.ends_at, row.windows) for row in bands),
        closed_days={row.day: row.reason or f"closed ({row.kind})" for row in closed},
        maintenance_days=frozenset(row.day for row in closed if row.kind == "maintenance"),
        special_openings={
            row.day: Opening(row.opens_at, row.closes_at, row.windows) for row in specials
        },
    )


async def affected_bookings(session: AsyncSession, slot_ids: list[int]) -> list[AffectedBooking]:
    """The active bookings of the given slots, for staff to call or move."""
    if not slot_ids:
        return []
    rows = await session.execute(_AFFECTED, {"slot_ids": slot_ids})
    return [
        AffectedBooking(
            confirmation_code=row.confirmation_code,
            starts_at=row.starts_at,
            channel=row.channel,
            party_size=row.party_size,
            reservation_ids=list(row.reservation_ids),
        )
        for row in rows
    ]


async def regenerate_slots(
    session: AsyncSession,
    location_id: int,
    start: dt.date,
    end: dt.date,
    *,
    tz: ZoneInfo,
    now: dt.datetime,
    keep_over_capacity: bool = False,
) -> RegenerationReport:
    """Make the location's slots from start to end (both included) match its settings.

    Slots starting before ``now`` are never touched. Raises :class:`OverCapacity` (and
    changes nothing) when bookings would exceed a slot's new capacity, unless
    ``keep_over_capacity``; the report then lists those bookings.
    """
    if end < start or (end - start).days >= MAX_DAYS:
        message = f"a range runs forward and covers at most {MAX_DAYS} days"
        raise InvalidRange(message, details={"start": start.isoformat(), "end": end.isoformat()})
    plan = await load_plan(session, location_id)
    lower = max(dt.datetime.combine(start, dt.time(), tzinfo=tz), now)
    upper = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    planned = [slot for slot in plan_range(plan, start, end, tz) if slot.starts_at >= lower]
    parameters: dict[str, Any] = {
        "location_id": location_id,
        "lower": lower,
        "upper": upper,
        "starts": [slot.starts_at for slot in planned],
        "ends": [slot.ends_at for slot in planned],
        "online": [slot.online_capacity for slot in planned],
        "staff": [slot.staff_capacity for slot in planned],
    }
    # Row locks make concurrent bookings of these slots wait for this change, so the
    # counters compared below cannot move until it commits or rolls back.
    await session.execute(_LOCK, {"location_id": location_id, "lower": lower, "upper": upper})
    shortfalls = list(await session.scalars(_typed(_SHORTFALLS), parameters))
    affected = await affected_bookings(session, shortfalls)
    if shortfalls and not keep_over_capacity:
        message = (
            f"{len(affected)} booking(s) in {len(shortfalls)} slot(s) would exceed the new "
            "capacity; nothing was changed. Move them, or keep them as over-capacity."
        )
        raise OverCapacity(message, details={"bookings": [_builtin(b) for b in affected]})
    created_flags = list(await session.scalars(_typed(_UPSERT), parameters))
    removed = len(list(await session.scalars(_typed(_REMOVE), parameters)))
    emptied = len(list(await session.scalars(_typed(_EMPTY), parameters)))
    # The ORM may hold slots loaded before these statements: let it reload them (only
    # them: expiring everything would make the caller's objects lazy-load in async code).
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Slot):
            session.expire(instance)
    return RegenerationReport(
        start=start,
        end=end,
        created=sum(1 for flag in created_flags if flag),
        changed=sum(1 for flag in created_flags if not flag),
        removed=removed,
        emptied=emptied,
        over_capacity=affected,
    )


def _typed(statement: Any) -> Any:
    return statement.bindparams(
        bindparam("starts", type_=_MOMENTS),
        bindparam("ends", type_=_MOMENTS),
        bindparam("online", type_=_NUMBERS),
        bindparam("staff", type_=_NUMBERS),
    )


def _builtin(booking: AffectedBooking) -> dict[str, Any]:
    return {
        "confirmation_code": booking.confirmation_code,
        "starts_at": booking.starts_at.isoformat(),
        "channel": booking.channel,
        "party_size": booking.party_size,
        "reservation_ids": booking.reservation_ids,
    }


async def latest_slot_day(session: AsyncSession, location_id: int, tz: ZoneInfo) -> dt.date | None:
    """The last day the location has a slot on, if any."""
    latest = await session.scalar(
        select(Slot.starts_at)
        .where(Slot.location_id == location_id)
        .order_by(Slot.starts_at.desc())
        .limit(1)
    )
    return latest.astimezone(tz).date() if latest is not None else None
