"""Booking rules: when a slot may be booked, changed or cancelled, and household size.

The stored rules belong to the places settings (``api/reservation/places``); until they
exist, :func:`booking_rules` answers the defaults. The places engineer will make that one
function read the stored values (see README.md, "Seams").
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.refusals import (
    ChangeDeadlinePassed,
    DeadlinePassed,
    OutsideHorizon,
)


class BookingRules(msgspec.Struct, frozen=True, kw_only=True):
    """When booking opens and closes for a slot, and how large a household may be."""

    # A slot on day D opens for booking at ``opens_at`` on day D - opens_days_ahead.
    opens_days_ahead: Annotated[int, msgspec.Meta(ge=0)] = 30
    opens_at: dt.time = dt.time(9, 0)
    # Booking closes this many hours before the slot starts.
    closes_hours_before: Annotated[int, msgspec.Meta(ge=0)] = 24
    # Changing and cancelling close this many hours before the booked slot starts.
    change_hours_before: Annotated[int, msgspec.Meta(ge=0)] = 24
    # People in one booking, the booker included.
    household_max: Annotated[int, msgspec.Meta(ge=1)] = 6

    def opens(self, starts_at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
        """When booking opens for a slot starting at ``starts_at``."""
        day = starts_at.astimezone(tz).date() - dt.timedelta(days=self.opens_days_ahead)
        return dt.datetime.combine(day, self.opens_at, tzinfo=tz)

    def closes(self, starts_at: dt.datetime) -> dt.datetime:
        """When booking closes for a slot starting at ``starts_at``."""
        return starts_at - dt.timedelta(hours=self.closes_hours_before)

    def check_bookable(
        self, starts_at: dt.datetime, *, now: dt.datetime, tz: ZoneInfo, by_staff: bool = False
    ) -> None:
        """Refuse a slot outside the horizon or past its booking deadline.

        Staff (``by_staff``: phone and counter bookings) are not held to the online
        deadline, only to the slot not having begun: the deadline is there so that the
        counter can prepare, and a caller the counter books has been prepared for.
        """
        closes = starts_at if by_staff else self.closes(starts_at)
        if now >= closes:
            message = "Booking for this time has closed."
            raise DeadlinePassed(message, details={"closed_at": closes.isoformat()})
        opens = self.opens(starts_at, tz)
        if now < opens:
            message = "Booking for this day has not opened yet."
            raise OutsideHorizon(message, details={"opens_at": opens.isoformat()})

    def check_changeable(
        self, starts_at: dt.datetime, *, now: dt.datetime, by_staff: bool = False
    ) -> None:
        """Refuse changing or cancelling a booking whose slot is too close (or past).

        Staff may change or cancel until the slot begins: a resident past the online
        deadline is told to call, and a seat nobody will use should go back.
        """
        online = starts_at - dt.timedelta(hours=self.change_hours_before)
        deadline = starts_at if by_staff else online
        if now >= deadline:
            message = (
                "This booking's time has already begun."
                if by_staff
                else "This booking can no longer be changed or cancelled online."
            )
            raise ChangeDeadlinePassed(message, details={"deadline": deadline.isoformat()})


DEFAULT_RULES = BookingRules()


def rules_from(stored: Any | None) -> BookingRules:
    """The rules a stored ``location_rules`` row (an ORM object or a result row) names.

    ``None`` (no stored rules) gives the defaults.
    """
    if stored is None:
        return DEFAULT_RULES
    return BookingRules(
        opens_days_ahead=stored.opens_days_ahead,
        opens_at=stored.opens_at,
        closes_hours_before=stored.closes_hours_before,
        change_hours_before=stored.change_hours_before,
        household_max=stored.household_max,
    )


async def booking_rules(session: AsyncSession, location_id: int) -> BookingRules:
    """The booking rules a location's settings store (the defaults where none are set)."""
    # Imported here: the places settings build on BookingRules, defined above.
    from api.reservation.places.rules import stored_booking_rules  # noqa: PLC0415

    return await stored_booking_rules(session, location_id)
