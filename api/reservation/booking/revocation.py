"""Ending the bookings of revoked reservation IDs (called by the eligibility import).

A revoked ID (card issued, returned, cancelled, expired) leaves its future booking; the
other household members keep theirs. A booking whose slot has begun is history (the
resident may have come and been issued the card) and is left as it is. A booking left
with nobody is cancelled. Seats go back to the share they came from, so the counters
always equal a recount of the bookings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Bookings first (by id), then slots (by id): the lock order of the booking engine.
_LOCK_BOOKINGS = text(
    """
    SELECT b.id, b.slot_id, b.share, b.party_size
    FROM bookings AS b
    WHERE b.id IN (SELECT booking_id FROM booking_members
                   WHERE active AND reservation_id = ANY(CAST(:ids AS varchar[])))
      AND b.status <> 'cancelled'
      AND b.slot_id IN (SELECT id FROM slots WHERE starts_at > now())
    ORDER BY b.id
    FOR UPDATE OF b
    """
)
_LEAVE = text(
    """
    UPDATE booking_members SET active = false, updated_at = now()
    WHERE active AND reservation_id = ANY(CAST(:ids AS varchar[]))
      AND booking_id = ANY(CAST(:bookings AS bigint[]))
    RETURNING booking_id
    """
)
_SHRINK = text(
    "UPDATE bookings SET party_size = party_size - :leaving, updated_at = now() "
    "WHERE id = :booking_id"
)
_CANCEL = text(
    "UPDATE bookings SET status = 'cancelled', cancel_reason = :reason, updated_at = now() "
    "WHERE id = :booking_id"
)
_LOCK_SLOTS = text(
    "SELECT id FROM slots WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE"
)
_RELEASE = {
    share: text(
        f"UPDATE slots SET {share}_booked = {share}_booked - :seats "  # noqa: S608 - fixed names
        "WHERE id = :slot_id"
    )
    for share in ("online", "staff")
}


async def cancel_bookings_of(
    session: AsyncSession, reservation_ids: Iterable[str], reason: str
) -> int:
    """Take revoked IDs out of their active bookings; return how many IDs left one.

    Runs in the caller's transaction (the import's), after it has marked the IDs revoked:
    a booking racing with the import either committed first (and is ended here) or waits
    on the eligibility rows and then sees the revocation.
    """
    ids = sorted(set(reservation_ids))
    if not ids:
        return 0
    bookings = {row.id: row for row in await session.execute(_LOCK_BOOKINGS, {"ids": ids})}
    if not bookings:
        return 0
    leaving = Counter(
        (await session.scalars(_LEAVE, {"ids": ids, "bookings": sorted(bookings)})).all()
    )
    released: Counter[tuple[int, str]] = Counter()
    for booking_id, count in sorted(leaving.items()):
        booking = bookings[booking_id]
        if count >= booking.party_size:
            # Nobody is left: the booking ends (its size stays, as a record of it).
            await session.execute(_CANCEL, {"booking_id": booking_id, "reason": reason})
        else:
            await session.execute(_SHRINK, {"booking_id": booking_id, "leaving": count})
        released[(booking.slot_id, booking.share)] += count
    await session.execute(_LOCK_SLOTS, {"ids": sorted({slot for slot, _ in released})})
    for (slot_id, share), seats in sorted(released.items()):
        await session.execute(_RELEASE[share], {"slot_id": slot_id, "seats": seats})
    return sum(leaving.values())
