"""The resident pages' port over the real booking engine (``api/reservation/booking``).

Nothing here decides a booking rule: logins go through the engine's ``attempt_login``
(the JSON API's own path: rate limit, lockout, access log), bookings through
``BookingEngine``, rules through ``booking_rules``, the calendar through the places
availability queries. This module only translates: the engine's refusals into the
pages' :class:`~web.resident.port.Refusal` codes, its views into the pages' views.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from litestar import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.reservation.booking import metrics
from api.reservation.booking.credentials import normalize_code
from api.reservation.booking.deps import BookingContext, utc_now
from api.reservation.booking.login import (
    PasswordCheck,
    attempt_login,
    end_sessions,
    session_is_current,
)
from api.reservation.booking.refusals import (
    AlreadyBooked,
    ChangeDeadlinePassed,
    DeadlinePassed,
    HouseholdTooLarge,
    LockedOut,
    LoginFailed,
    MemberLockedOut,
    MemberLoginFailed,
    MemberRevoked,
    NoBooking,
    NotEligible,
    NotLoggedIn,
    OutsideHorizon,
    RateLimited,
    Revoked,
    SameSlot,
    SlotFull,
    SlotNotFound,
)
from api.reservation.booking.rules import DEFAULT_RULES, BookingRules, booking_rules
from api.reservation.booking.schemas import BookingView as EngineBooking
from api.reservation.booking.services import BookingEngine, NewBooking
from api.reservation.models import Location, Slot
from api.reservation.places import availability
from api.reservation.places.services import LocationNotFound
from web.resident.port import (
    BookingView,
    Credentials,
    DayStatus,
    DayView,
    Holder,
    LocationView,
    Refusal,
    RefusalCode,
    SiteRules,
    SlotView,
)

T = TypeVar("T")
_DONE: Final = {"book": "booked", "change": "changed", "cancel": "cancelled"}

# The engine's refusals, as the codes the pages have a message for.
REFUSAL_CODES: Final[dict[type[DomainError], RefusalCode]] = {
    LoginFailed: "invalid_credentials",
    MemberLoginFailed: "invalid_credentials",
    LockedOut: "locked",
    MemberLockedOut: "locked",
    RateLimited: "rate_limited",
    NotEligible: "not_eligible",
    MemberRevoked: "not_eligible",
    Revoked: "not_eligible",
    AlreadyBooked: "already_booked",
    SlotFull: "slot_full",
    SlotNotFound: "slot_unavailable",
    OutsideHorizon: "slot_unavailable",
    DeadlinePassed: "slot_unavailable",
    ChangeDeadlinePassed: "deadline_passed",
    NoBooking: "not_found",
    HouseholdTooLarge: "household_too_large",
    NotLoggedIn: "not_logged_in",
}


def refusal_from(error: DomainError) -> Refusal:
    """The pages' refusal for one of the engine's (an unknown kind is re-raised)."""
    for kind, code in REFUSAL_CODES.items():
        if isinstance(error, kind):
            until = (error.details or {}).get("locked_until") if code == "locked" else None
            return Refusal(code, until=dt.datetime.fromisoformat(until) if until else None)
    raise error


async def translated(operation: Awaitable[T]) -> T:
    """Await an engine call; its refusals come out as :class:`Refusal`."""
    try:
        return await operation
    except DomainError as error:
        raise refusal_from(error) from None


def site_rules(rules: BookingRules, context: BookingContext) -> SiteRules:
    """The rules the pages quote: the location's booking rules and the login lockout."""
    return SiteRules(
        opens_days_ahead=rules.opens_days_ahead,
        closes_hours_before=rules.closes_hours_before,
        change_hours_before=rules.change_hours_before,
        household_max=rules.household_max,
        lockout_threshold=context.settings.lockout_threshold,
        lockout_minutes=context.settings.lockout_minutes,
    )


def _location_view(row: Location) -> LocationView:
    return LocationView(
        id=row.id,
        name=row.name,
        address=row.address,
        access_notes=row.access_notes,
        map_url=row.map_url,
    )


def _day_status(status: str, remaining: int, slots: int, party_size: int) -> DayStatus:
    # The availability query answers open / full / not_yet_open / closed per day; "few"
    # is under one free place per time on average. A day whose remaining places are fewer
    # than the party is full for it (the day's times list then filters slot by slot).
    if status != "open":
        return "full" if status == "full" else "closed"
    if remaining < party_size:
        return "full"
    return "few" if remaining <= slots else "free"


class EngineBookingPort:
    """:class:`~web.resident.port.ResidentBookingPort` over the booking engine, per request."""

    def __init__(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        context: BookingContext,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.request = request
        self.session = session
        self.context = context
        self.tz = context.zone.tz
        self.clock = clock
        self.engine = BookingEngine(session, self.tz, clock)

    # -- login and session ------------------------------------------------------------

    async def login(self, credentials: Credentials) -> Holder:
        """The engine's login path (the JSON API's too): counted, logged, committed."""
        check = await self._attempt(credentials, member=False)
        return Holder(check.reservation_id, check.session_generation)

    async def _attempt(self, credentials: Credentials, *, member: bool) -> PasswordCheck:
        return await translated(
            attempt_login(
                self.request,
                self.session,
                self.context,
                credentials.reservation_id,
                credentials.password,
                member=member,
            )
        )

    async def is_current(self, holder: Holder) -> bool:
        """Whether no logout ended the holder's session since it began."""
        return await session_is_current(self.session, holder.reservation_id, holder.generation)

    async def logout(self, holder: Holder) -> None:
        """End every session of the ID (the JSON API's logout does the same)."""
        await end_sessions(self.session, holder.reservation_id, holder.generation)
        await self.session.commit()

    async def check_member(self, credentials: Credentials) -> str:
        """A household member's password attempt, logged as the JSON API logs it."""
        check = await self._attempt(credentials, member=True)
        if await self._find(check.reservation_id) is not None:
            raise Refusal("already_booked")
        return check.reservation_id

    # -- places, rules, availability --------------------------------------------------------

    async def _rules(self, location_id: int | None) -> BookingRules:
        if location_id is None:
            return DEFAULT_RULES
        return await booking_rules(self.session, location_id)

    async def rules(self, location_id: int | None) -> SiteRules:
        """The engine's rules for the place (its defaults before a place is chosen)."""
        return site_rules(await self._rules(location_id), self.context)

    async def locations(self) -> list[LocationView]:
        """All places, by code."""
        rows = await self.session.scalars(select(Location).order_by(Location.code))
        return [_location_view(row) for row in rows]

    async def location(self, location_id: int) -> LocationView | None:
        """One place."""
        row = await self.session.get(Location, location_id)
        return _location_view(row) if row is not None else None

    async def _code(self, location_id: int) -> str | None:
        code: str | None = await self.session.scalar(
            select(Location.code).where(Location.id == location_id)
        )
        return code

    async def month(self, location_id: int, first_day: dt.date, party_size: int) -> list[DayView]:
        """The month's days from the slot counters (one query)."""
        code = await self._code(location_id)
        if code is None:
            return []
        try:
            found = await availability.month_availability(
                self.session,
                code,
                first_day.year,
                first_day.month,
                tz=self.tz,
                now=self.clock(),
            )
        except LocationNotFound:
            return []
        return [
            DayView(
                day=day.date,
                status=_day_status(day.status, day.remaining_online, day.slots, party_size),
            )
            for day in found.days
        ]

    async def day_slots(self, location_id: int, day: dt.date, party_size: int) -> list[SlotView]:
        """The day's bookable times with room for the party."""
        code = await self._code(location_id)
        if code is None:
            return []
        try:
            found = await availability.day_slots(
                self.session, code, day, tz=self.tz, now=self.clock()
            )
        except LocationNotFound:
            return []
        return [
            SlotView(
                id=slot.slot_id,
                location_id=location_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                remaining=slot.remaining_online,
            )
            for slot in found.slots
            if slot.bookable and slot.remaining_online >= party_size
        ]

    async def slot(self, slot_id: int) -> SlotView | None:
        """One slot with its remaining online places."""
        row = await self.session.get(Slot, slot_id)
        if row is None:
            return None
        return SlotView(
            id=row.id,
            location_id=row.location_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            remaining=max(row.online_capacity - row.online_booked, 0),
        )

    # -- bookings -----------------------------------------------------------------------

    async def _find(self, reservation_id: str) -> EngineBooking | None:
        try:
            return await self.engine.find(reservation_id=reservation_id)
        except NoBooking:
            return None

    async def _view(self, booking: EngineBooking) -> BookingView:
        location = await self.location(booking.location_id)
        slot = await self.slot(booking.slot_id)
        assert location is not None
        assert slot is not None
        rules = await self._rules(booking.location_id)
        deadline = booking.starts_at - dt.timedelta(hours=rules.change_hours_before)
        return BookingView(
            confirmation_code=booking.confirmation_code,
            location=location,
            slot=slot,
            member_ids=tuple(booking.members),
            email=booking.email,
            can_change=self.clock() < deadline,
            change_deadline=deadline,
        )

    async def booking_of(self, reservation_id: str) -> BookingView | None:
        """The active booking the ID belongs to."""
        found = await self._find(reservation_id)
        return await self._view(found) if found is not None else None

    async def _settled(self, action: str, operation: Awaitable[T]) -> T:
        # Commit at once, as the JSON API does: the slot's row lock ends with the transaction.
        try:
            result = await operation
        except DomainError as error:
            await self.session.rollback()
            metrics.count_booking(action, "web", error.code)
            raise refusal_from(error) from None
        await self.session.commit()
        metrics.count_booking(action, "web", _DONE[action])
        return result

    async def book(
        self, holder: Holder, member_ids: list[str], slot_id: int, email: str | None
    ) -> BookingView:
        """Book for the holder and the members verified earlier in this session.

        The engine re-checks every member at booking time (eligible, not revoked, no other
        booking) under its row locks, and the holder's session generation.
        """
        booking = await self._settled(
            "book",
            self.engine.book(
                NewBooking(
                    slot_id=slot_id,
                    reservation_ids=(holder.reservation_id, *member_ids),
                    channel="web",
                    share="online",
                    email=email,
                    session_generation=holder.generation,
                )
            ),
        )
        return await self._view(booking)

    async def _own(self, holder: Holder, confirmation_code: str) -> EngineBooking:
        if not await self.is_current(holder):
            raise Refusal("not_logged_in")
        current = await self._find(holder.reservation_id)
        given = normalize_code(confirmation_code)
        if current is None or not hmac.compare_digest(
            normalize_code(current.confirmation_code).encode(), given.encode()
        ):
            raise Refusal("not_found")
        return current

    async def change(self, holder: Holder, confirmation_code: str, slot_id: int) -> BookingView:
        """Move the booking; choosing the time it already has changes nothing."""
        current = await self._own(holder, confirmation_code)
        try:
            moved = await self._settled(
                "change",
                self.engine.change(
                    slot_id=slot_id, share="online", reservation_id=holder.reservation_id
                ),
            )
        except SameSlot:
            moved = current
        return await self._view(moved)

    async def cancel(self, holder: Holder, confirmation_code: str) -> None:
        """Cancel the whole booking (the engine enforces the deadline)."""
        await self._own(holder, confirmation_code)
        await self._settled(
            "cancel", self.engine.cancel(reservation_id=holder.reservation_id, reason="")
        )
