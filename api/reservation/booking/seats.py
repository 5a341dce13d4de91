"""Taking seats: one booking for every member or for nobody, on either road.

:func:`take_seats` is the booking's one transaction of work, the same whether it runs on
the ORM session (``BookingEngine.book``, phone and booking-site bookings) or straight on
an asyncpg connection (:func:`book_directly`, the resident API's hot route). Capacity is
never checked in Python: the seats are taken by one conditional update of the slot's
counter, and "one active booking per ID" is the partial unique index (see services.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from api.reservation.booking.credentials import display_code, new_confirmation_code
from api.reservation.booking.driver import Db, DriverDb, Statement, in_transaction
from api.reservation.booking.refusals import (
    AlreadyBooked,
    HouseholdTooLarge,
    MemberRevoked,
    NotEligible,
    NotLoggedIn,
    SlotFull,
    SlotNotFound,
)
from api.reservation.booking.rules import rules_from
from api.reservation.booking.schemas import BookingView

ACTIVE_MEMBER_INDEX: Final = "uq_booking_members_active_reservation_id"

# A booking's reads in one round trip: the slot and its location's stored rules (their
# columns are NULL when there is no such slot, or no stored rules) beside each member's
# eligibility row, one result row per eligible member (one row without a member when none
# is). FOR SHARE, in reservation_id order: a concurrent revocation (an UPDATE of the row)
# waits for this booking to commit, or this booking sees the revocation; bookings never
# block one another here.
_SLOT_AND_MEMBERS = Statement(
    text(
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
)
# Take the seats, insert the booking and its members: one statement, one round trip, so
# the slot row (the hottest lock) is held for as short a time as possible. With no room,
# ``taken`` is empty and nothing is inserted.
_BOOK = {
    share: Statement(
        text(
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
    )
    for share in ("online", "staff")
}


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


class CodeClash(Exception):
    """The new confirmation code clashed after the seats were taken: undo and start again."""


def _check_member_rows(booking: NewBooking, rows: dict[str, Any]) -> None:
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


async def take_seats(db: Db, booking: NewBooking, *, tz: ZoneInfo, now: dt.datetime) -> BookingView:
    """Book in the caller's transaction (the caller commits); refuse with a distinct reason.

    Raises :class:`CodeClash` when the caller must roll back and call again.
    """
    # The slot and the members' rows in one round trip; the checks keep their order.
    rows = await db.all(
        _SLOT_AND_MEMBERS, {"slot_id": booking.slot_id, "ids": sorted(booking.reservation_ids)}
    )
    slot = rows[0]
    if slot.id is None:
        message = "There is no such slot."
        raise SlotNotFound(message, details={"slot_id": booking.slot_id})
    rules = rules_from(slot if slot.rules_location_id is not None else None)
    seats = len(booking.reservation_ids)
    if seats > rules.household_max or seats != len(set(booking.reservation_ids)):
        message = f"One booking holds up to {rules.household_max} different people."
        raise HouseholdTooLarge(message, details={"household_max": rules.household_max})
    rules.check_bookable(slot.starts_at, now=now, tz=tz, by_staff=booking.channel == "phone")
    _check_member_rows(
        booking, {row.reservation_id: row for row in rows if row.reservation_id is not None}
    )
    if getattr(slot, f"{booking.share}_free") < seats:
        # Full at this moment, seen without waiting for the slot's row lock: during a
        # surge most attempts hit full slots, and need not queue behind the bookers.
        # Only a refusal is decided here; taking seats is the conditional update below.
        message = "This time is fully booked."
        raise SlotFull(message, details={"slot_id": slot.id, "share": booking.share})
    code = new_confirmation_code()
    values = {
        "slot_id": slot.id,
        "channel": booking.channel,
        "seats": seats,
        "email": booking.email,
        "memo": booking.memo,
        "staff_login_id": booking.staff_login_id,
        "ids": list(booking.reservation_ids),
        "code": code,
    }
    try:
        taken = await db.one(_BOOK[booking.share], values)
    except (IntegrityError, asyncpg.IntegrityConstraintViolationError) as error:
        if ACTIVE_MEMBER_INDEX not in str(getattr(error, "orig", error)):
            raise
        # Another booking for one of them committed since the check above.
        message = "Someone in this booking already has a booking."
        raise AlreadyBooked(message) from None
    if taken.slot_id is None:
        message = "This time is fully booked."
        raise SlotFull(message, details={"slot_id": slot.id, "share": booking.share})
    if taken.booking_id is None:
        # The code clashed with another (32^8 codes: rare) after the seats were taken.
        raise CodeClash
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


async def book_directly(
    connection: asyncpg.Connection,
    booking: NewBooking,
    tz: ZoneInfo,
    clock: Callable[[], dt.datetime],
) -> BookingView:
    """Book on an asyncpg connection in a transaction of its own, committed at once.

    The same work as ``BookingEngine.book`` (and retried the same way): the slot's row
    lock ends with the commit, which follows the seat-taking statement directly.
    """

    async def attempt(db: DriverDb) -> BookingView:
        return await take_seats(db, booking, tz=tz, now=clock())

    while True:
        try:
            return await in_transaction(connection, attempt)
        except CodeClash:
            continue  # rolled back: again, with a new code
