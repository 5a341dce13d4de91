"""The seam to the booking engine: a location's stored booking rules as its BookingRules."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.rules import BookingRules, rules_from
from api.reservation.places.models import LocationRules


async def stored_booking_rules(session: AsyncSession, location_id: int) -> BookingRules:
    """The location's stored horizon, deadlines and household maximum (defaults if unset).

    One indexed read of ``location_rules``; the booking engine's ``booking_rules`` returns
    this.
    """
    rules = await session.scalar(
        select(LocationRules).where(LocationRules.location_id == location_id)
    )
    return rules_from(rules)
