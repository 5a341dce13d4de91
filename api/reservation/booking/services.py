"""The capacity-safe booking engine: book, change, cancel, look up, cancel on revocation.

Capacity is never checked in Python. Taking seats is one conditional update of the
slot's counter (``... WHERE booked + n <= capacity``), so PostgreSQL's row lock on the
slot decides, whatever the number of processes; "one active booking per ID" is the
partial unique index on ``booking_members``. Locks are taken in a fixed order (members'
eligibility rows by reservation_id, slots by id), and the slot row, the hottest one, is
locked last and held only until commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Row, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.credentials import display_code
from api.reservation.booking.driver import ATTEMPTS, RETRYABLE, SessionDb, sqlstate_of
from api.reservation.booking.refusals import (
    NoBooking,
    SameSlot,
    SlotFull,
    SlotNotFound,
)
from api.reservation.booking.rules import booking_rules
from api.reservation.booking.schemas import BookingView
from api.reservation.booking.seats import CodeClash, NewBooking, take_seats

# NewBooking is re-exported: the engine's callers import what to book with the engine.
__all__ = ["ACTIVE_BOOKING_VIEW", "BookingEngine", "NewBooking", "retrying", "view_of"]
T = TypeVar("T")

_SLOT = text(
    "SELECT id, location_id, starts_at, ends_at, online_capacity - online_booked AS online_free,"
    " staff_capacity - staff_booked AS staff_free FROM slots WHERE id = :slot_id"
)
_TAKE = {
    share: text(
        f"UPDATE slots SET {share}_booked = {share}_booked + :seats "  # noqa: S608 - fixed names
        f"WHERE id = :slot_id AND {share}_booked + :seats <= {share}_capacity RETURNING id"
    )
    for share in ("online", "staff")
}
_RELEASE = {
    share: text(
        f"UPDATE slots SET {share}_booked = {share}_booked - :seats "  # noqa: S608 - fixed names
        "WHERE id = :slot_id"
    )
    for share in ("online", "staff")
}
_LOCK_SLOTS = text(
    "SELECT id FROM slots WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE"
)
_VIEW = """
    SELECT b.id, b.confirmation_code, b.status, b.slot_id, b.channel, b.share, b.party_size,
           b.email, b.memo, s.location_id, s.starts_at, s.ends_at,
           ARRAY(SELECT m.reservation_id FROM booking_members AS m
                 WHERE m.booking_id = b.id AND (m.active OR b.status = 'cancelled')
                 ORDER BY m.id) AS members
    FROM bookings AS b JOIN slots AS s ON s.id = b.slot_id
"""
# The active booking of the reservation ID ``{rid}`` (a bound parameter, or a column of
# an enclosing query: the login reads it in its look-up statement).
# S608: the view's text is a constant; values are always bound parameters.
ACTIVE_BOOKING_VIEW: Final = (
    _VIEW  # noqa: S608
    + " WHERE b.id = (SELECT booking_id FROM booking_members "
    "WHERE active AND reservation_id = {rid}) AND b.status <> 'cancelled'"
)
_BY_MEMBER = text(ACTIVE_BOOKING_VIEW.format(rid=":rid"))
_BY_CODE = text(_VIEW + " WHERE b.confirmation_code = :code")
# The booking row is locked first: a change and a cancel of one booking take turns.
_LOCK_BY_MEMBER = text(ACTIVE_BOOKING_VIEW.format(rid=":rid") + " FOR UPDATE OF b")
_LOCK_BY_CODE = text(
    _VIEW + " WHERE b.confirmation_code = :code AND b.status <> 'cancelled' FOR UPDATE OF b"
)
_MOVE = text(
    "UPDATE bookings SET slot_id = :slot_id, share = :share, status = 'changed', "
    "updated_at = now() WHERE id = :booking_id"
)
_CANCEL = text(
    "UPDATE bookings SET status = 'cancelled', cancel_reason = :reason, updated_at = now() "
    "WHERE id = :booking_id"
)
_DEACTIVATE = text(
    "UPDATE booking_members SET active = false, updated_at = now() "
    "WHERE booking_id = :booking_id AND active"
)


def view_of(row: Any) -> BookingView:
    """A booking row (from the view query, on either road) as residents and staff see it."""
    return BookingView(
        confirmation_code=display_code(row.confirmation_code),
        status=row.status,
        slot_id=row.slot_id,
        location_id=row.location_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        members=list(row.members),
        party_size=row.party_size,
        channel=row.channel,
        share=row.share,
        email=row.email,
        memo=row.memo,
    )


async def retrying(session: AsyncSession, operation: Callable[[], Awaitable[T]]) -> T:
    """Run a transaction's work, again from the start after a deadlock or serialization failure.

    Locks are ordered so deadlocks should not happen; if PostgreSQL still breaks one,
    the resident gets an answer instead of a 500.
    """
    for attempt in range(ATTEMPTS):
        try:
            return await operation()
        except DBAPIError as error:
            if sqlstate_of(error) not in RETRYABLE or attempt == ATTEMPTS - 1:
                raise
            await session.rollback()
    raise AssertionError  # pragma: no cover - the loop returns or raises


class BookingEngine:
    """Booking operations on one database session, in the counters' time zone."""

    def __init__(
        self, session: AsyncSession, tz: ZoneInfo, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.session = session
        self.tz = tz
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    async def _slot(self, slot_id: int) -> Row[Any]:
        slot = (await self.session.execute(_SLOT, {"slot_id": slot_id})).one_or_none()
        if slot is None:
            message = "There is no such slot."
            raise SlotNotFound(message, details={"slot_id": slot_id})
        return slot

    async def _take(self, share: str, slot_id: int, seats: int) -> None:
        taken = await self.session.scalar(_TAKE[share], {"slot_id": slot_id, "seats": seats})
        if taken is None:
            message = "This time is fully booked."
            raise SlotFull(message, details={"slot_id": slot_id, "share": share})

    async def book(self, booking: NewBooking) -> BookingView:
        """Book a slot for every member or for nobody; refuse with a distinct reason."""
        return await retrying(self.session, lambda: self._book(booking))

    async def _book(self, booking: NewBooking) -> BookingView:
        try:
            return await take_seats(SessionDb(self.session), booking, tz=self.tz, now=self.clock())
        except CodeClash:
            # Undo the seats taken and start again with a new code.
            await self.session.rollback()
            return await self._book(booking)

    async def find(
        self, *, reservation_id: str | None = None, code: str | None = None
    ) -> BookingView:
        """The active booking of a reservation ID, or any booking by its code."""
        if reservation_id is not None:
            row = (await self.session.execute(_BY_MEMBER, {"rid": reservation_id})).one_or_none()
        else:
            row = (await self.session.execute(_BY_CODE, {"code": code})).one_or_none()
        if row is None:
            message = "No booking was found."
            raise NoBooking(message)
        return view_of(row)

    async def _locked(self, reservation_id: str | None, code: str | None) -> Row[Any]:
        if reservation_id is not None:
            statement, parameters = _LOCK_BY_MEMBER, {"rid": reservation_id}
        else:
            statement, parameters = _LOCK_BY_CODE, {"code": code or ""}
        row = (await self.session.execute(statement, parameters)).one_or_none()
        if row is None:
            message = "No active booking was found."
            raise NoBooking(message)
        return row

    async def change(
        self,
        *,
        slot_id: int,
        share: str,
        reservation_id: str | None = None,
        code: str | None = None,
        by_staff: bool = False,
    ) -> BookingView:
        """Move the booking to another slot: the new seats are taken, then the old released.

        The new seats come from ``share`` ("online" for a resident's own change, whatever
        share the booking had: residents never take the staff share); the old seats go
        back to the share they came from. ``by_staff``: staff's deadlines
        (:meth:`BookingRules.check_changeable`). One transaction: when the new slot is
        full, nothing changes.
        """
        return await retrying(
            self.session, lambda: self._change(slot_id, share, reservation_id, code, by_staff)
        )

    async def _change(
        self,
        slot_id: int,
        new_share: str,
        reservation_id: str | None,
        code: str | None,
        by_staff: bool,
    ) -> BookingView:
        current = await self._locked(reservation_id, code)
        now = self.clock()
        (await booking_rules(self.session, current.location_id)).check_changeable(
            current.starts_at, now=now, by_staff=by_staff
        )
        if slot_id == current.slot_id:
            message = "The booking already has this time."
            raise SameSlot(message)
        target = await self._slot(slot_id)
        (await booking_rules(self.session, target.location_id)).check_bookable(
            target.starts_at, now=now, tz=self.tz, by_staff=by_staff
        )
        # Both slot rows in id order, so two changes in opposite directions cannot deadlock.
        await self.session.execute(_LOCK_SLOTS, {"ids": sorted([current.slot_id, slot_id])})
        await self._take(new_share, slot_id, current.party_size)
        await self.session.execute(
            _RELEASE[current.share], {"slot_id": current.slot_id, "seats": current.party_size}
        )
        await self.session.execute(
            _MOVE, {"slot_id": slot_id, "share": new_share, "booking_id": current.id}
        )
        return msgspec.structs.replace(
            view_of(current),
            status="changed",
            slot_id=slot_id,
            location_id=target.location_id,
            starts_at=target.starts_at,
            ends_at=target.ends_at,
            share=new_share,
        )

    async def cancel(
        self,
        *,
        reservation_id: str | None = None,
        code: str | None = None,
        reason: str = "",
        by_staff: bool = False,
    ) -> BookingView:
        """Cancel the whole booking and give its seats back (``by_staff``: staff's deadline)."""
        return await retrying(
            self.session, lambda: self._cancel(reservation_id, code, reason, by_staff)
        )

    async def _cancel(
        self, reservation_id: str | None, code: str | None, reason: str, by_staff: bool
    ) -> BookingView:
        current = await self._locked(reservation_id, code)
        (await booking_rules(self.session, current.location_id)).check_changeable(
            current.starts_at, now=self.clock(), by_staff=by_staff
        )
        await self.session.execute(_CANCEL, {"booking_id": current.id, "reason": reason or None})
        await self.session.execute(_DEACTIVATE, {"booking_id": current.id})
        await self.session.execute(
            _RELEASE[current.share], {"slot_id": current.slot_id, "seats": current.party_size}
        )
        return msgspec.structs.replace(view_of(current), status="cancelled")
