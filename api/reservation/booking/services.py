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
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.credentials import display_code, new_confirmation_code
from api.reservation.booking.refusals import (
    AlreadyBooked,
    HouseholdTooLarge,
    MemberRevoked,
    NoBooking,
    NotEligible,
    NotLoggedIn,
    SameSlot,
    SlotFull,
    SlotNotFound,
)
from api.reservation.booking.rules import booking_rules, rules_from
from api.reservation.booking.schemas import BookingView

T = TypeVar("T")
_ACTIVE_MEMBER_INDEX: Final = "uq_booking_members_active_reservation_id"
# PostgreSQL's deadlock and serialization failures: the transaction is retried whole.
_RETRYABLE: Final = frozenset({"40P01", "40001"})
_ATTEMPTS: Final = 3

_SLOT = text(
    "SELECT id, location_id, starts_at, ends_at, online_capacity - online_booked AS online_free,"
    " staff_capacity - staff_booked AS staff_free FROM slots WHERE id = :slot_id"
)
# A booking's reads in one round trip: the slot and its location's stored rules (their
# columns are NULL when there is no such slot, or no stored rules) beside each member's
# eligibility row, one result row per eligible member (one row without a member when none
# is). FOR SHARE, in reservation_id order: a concurrent revocation (an UPDATE of the row)
# waits for this booking to commit, or this booking sees the revocation; bookings never
# block one another here.
_SLOT_AND_MEMBERS = text(
    """
    WITH m AS (
        SELECT e.reservation_id, e.revoked_at, e.session_generation,
               EXISTS (SELECT 1 FROM booking_members AS bm
                       WHERE bm.active AND bm.reservation_id = e.reservation_id) AS booked
        FROM eligibilities AS e
        WHERE e.reservation_id = ANY(CAST(:ids AS varchar[]))
        ORDER BY e.reservation_id
        FOR SHARE OF e
    )
    SELECT s.id, s.location_id, s.starts_at, s.ends_at,
           s.online_capacity - s.online_booked AS online_free,
           s.staff_capacity - s.staff_booked AS staff_free,
           r.location_id AS rules_location_id, r.opens_days_ahead, r.opens_at,
           r.closes_hours_before, r.change_hours_before, r.household_max,
           m.reservation_id, m.revoked_at, m.session_generation, m.booked
    FROM (SELECT CAST(:slot_id AS bigint) AS slot_id) AS q
    LEFT JOIN slots AS s ON s.id = q.slot_id
    LEFT JOIN location_rules AS r ON r.location_id = s.location_id
    LEFT JOIN m ON true
    ORDER BY m.reservation_id
    """
)
# Take the seats, insert the booking and its members: one statement, one round trip, so
# the slot row (the hottest lock) is held for as short a time as possible. With no room,
# ``taken`` is empty and nothing is inserted.
_BOOK = {
    share: text(
        f"""
        WITH taken AS (
            UPDATE slots SET {share}_booked = {share}_booked + :seats
            WHERE id = :slot_id AND {share}_booked + :seats <= {share}_capacity
            RETURNING id
        ), booking AS (
            INSERT INTO bookings (confirmation_code, slot_id, channel, share, status,
                                  party_size, email, memo, staff_login_id, created_at,
                                  updated_at)
            SELECT :code, taken.id, :channel, '{share}', 'booked', :seats, :email, :memo,
                   :staff_login_id, now(), now()
            FROM taken
            ON CONFLICT (confirmation_code) DO NOTHING
            RETURNING id
        ), members AS (
            INSERT INTO booking_members (booking_id, reservation_id, active, created_at,
                                         updated_at)
            SELECT booking.id, member, true, now(), now()
            FROM booking, unnest(CAST(:ids AS varchar[])) AS member
        )
        SELECT (SELECT id FROM taken) AS slot_id, (SELECT id FROM booking) AS booking_id
        """  # noqa: S608 - the share is one of two fixed names
    )
    for share in ("online", "staff")
}
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


class NewBooking(msgspec.Struct, frozen=True, kw_only=True):
    """What to book: a slot, the people (booker first), and from which share."""

    slot_id: int
    reservation_ids: tuple[str, ...]
    channel: str  # "web" or "phone"
    share: str  # "online" or "staff"
    email: str | None = None
    memo: str = ""
    staff_login_id: str | None = None
    # A resident's session: the booker's eligibility must still carry this generation.
    session_generation: int | None = None


def view_of(row: Row[Any]) -> BookingView:
    """A booking row (from the view query) as residents and staff see it."""
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
    for attempt in range(_ATTEMPTS):
        try:
            return await operation()
        except DBAPIError as error:
            code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
            if code not in _RETRYABLE or attempt == _ATTEMPTS - 1:
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

    @staticmethod
    def _check_member_rows(booking: NewBooking, rows: dict[str, Row[Any]]) -> None:
        ids = sorted(booking.reservation_ids)
        if missing := [rid for rid in ids if rid not in rows]:
            message = "Not every reservation ID may book."
            raise NotEligible(message, details={"reservation_ids": missing})
        booker = rows[booking.reservation_ids[0]]
        if (
            booking.session_generation is not None
            and booker.session_generation != booking.session_generation
        ):
            message = "Your session has ended; log in again."
            raise NotLoggedIn(message)
        if revoked := [rid for rid in ids if rows[rid].revoked_at is not None]:
            message = "A card in this booking can no longer be booked."
            raise MemberRevoked(message, details={"reservation_ids": revoked})
        if booked := [rid for rid in ids if rows[rid].booked]:
            message = "Someone in this booking already has a booking."
            raise AlreadyBooked(message, details={"reservation_ids": booked})

    async def book(self, booking: NewBooking) -> BookingView:
        """Book a slot for every member or for nobody; refuse with a distinct reason."""
        return await retrying(self.session, lambda: self._book(booking))

    async def _book(self, booking: NewBooking) -> BookingView:
        # The slot and the members' rows in one round trip; the checks keep their order.
        rows = (
            await self.session.execute(
                _SLOT_AND_MEMBERS,
                {"slot_id": booking.slot_id, "ids": sorted(booking.reservation_ids)},
            )
        ).all()
        slot = rows[0]
        if slot.id is None:
            message = "There is no such slot."
            raise SlotNotFound(message, details={"slot_id": booking.slot_id})
        rules = rules_from(slot if slot.rules_location_id is not None else None)
        seats = len(booking.reservation_ids)
        if seats > rules.household_max or seats != len(set(booking.reservation_ids)):
            message = f"One booking holds up to {rules.household_max} different people."
            raise HouseholdTooLarge(message, details={"household_max": rules.household_max})
        rules.check_bookable(slot.starts_at, now=self.clock(), tz=self.tz)
        self._check_member_rows(
            booking, {row.reservation_id: row for row in rows if row.reservation_id is not None}
        )
        if getattr(slot, f"{booking.share}_free") < seats:
            # Full at this moment, seen without waiting for the slot's row lock: during a
            # surge most attempts hit full slots, and need not queue behind the bookers.
            # Only a refusal is decided here; taking seats is the conditional update below.
            message = "This time is fully booked."
            raise SlotFull(message, details={"slot_id": slot.id, "share": booking.share})
        values = {
            "slot_id": slot.id,
            "channel": booking.channel,
            "seats": seats,
            "email": booking.email,
            "memo": booking.memo,
            "staff_login_id": booking.staff_login_id,
            "ids": list(booking.reservation_ids),
        }
        code = new_confirmation_code()
        try:
            result = await self.session.execute(_BOOK[booking.share], {**values, "code": code})
        except IntegrityError as error:
            if _ACTIVE_MEMBER_INDEX not in str(error.orig):
                raise
            # Another booking for one of them committed since the check above.
            message = "Someone in this booking already has a booking."
            raise AlreadyBooked(message) from None
        taken = result.one()
        if taken.slot_id is None:
            message = "This time is fully booked."
            raise SlotFull(message, details={"slot_id": slot.id, "share": booking.share})
        if taken.booking_id is None:
            # The code clashed with another (32^8 codes: rare) after the seats were taken:
            # undo and start again with a new code.
            await self.session.rollback()
            return await self._book(booking)
        return BookingView(
            confirmation_code=display_code(code),
            status="booked",
            slot_id=slot.id,
            location_id=slot.location_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            members=list(booking.reservation_ids),
            party_size=seats,
            channel=booking.channel,
            share=booking.share,
            email=booking.email,
            memo=booking.memo,
        )

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
        reservation_id: str | None = None,
        code: str | None = None,
        share: str | None = None,
    ) -> BookingView:
        """Move the booking to another slot: the new seats are taken, then the old released.

        One transaction: when the new slot is full, nothing changes.
        """
        return await retrying(
            self.session, lambda: self._change(slot_id, reservation_id, code, share)
        )

    async def _change(
        self, slot_id: int, reservation_id: str | None, code: str | None, share: str | None
    ) -> BookingView:
        current = await self._locked(reservation_id, code)
        now = self.clock()
        (await booking_rules(self.session, current.location_id)).check_changeable(
            current.starts_at, now=now
        )
        if slot_id == current.slot_id:
            message = "The booking already has this time."
            raise SameSlot(message)
        target = await self._slot(slot_id)
        (await booking_rules(self.session, target.location_id)).check_bookable(
            target.starts_at, now=now, tz=self.tz
        )
        new_share = share or current.share
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
        enforce_deadline: bool = True,
    ) -> BookingView:
        """Cancel the whole booking and give its seats back."""
        return await retrying(
            self.session, lambda: self._cancel(reservation_id, code, reason, enforce_deadline)
        )

    async def _cancel(
        self, reservation_id: str | None, code: str | None, reason: str, enforce_deadline: bool
    ) -> BookingView:
        current = await self._locked(reservation_id, code)
        if enforce_deadline:
            (await booking_rules(self.session, current.location_id)).check_changeable(
                current.starts_at, now=self.clock()
            )
        await self.session.execute(_CANCEL, {"booking_id": current.id, "reason": reason or None})
        await self.session.execute(_DEACTIVATE, {"booking_id": current.id})
        await self.session.execute(
            _RELEASE[current.share], {"slot_id": current.slot_id, "seats": current.party_size}
        )
        return msgspec.structs.replace(view_of(current), status="cancelled")
