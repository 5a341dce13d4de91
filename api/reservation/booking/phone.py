"""Phone booking: staff book, look up, change and cancel for a caller (``reservations.proxy``).

The caller gives each person's reservation ID and shipment number as printed on their
letter; bookings are channel ``phone``, from the staff share unless staff choose the online
share, and every one is recorded in the access log with the member of staff.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking import metrics
from api.reservation.booking.credentials import normalize_code, shipment_matches
from api.reservation.booking.deps import BOOKING_DEPENDENCIES
from api.reservation.booking.events import record, staff_actor
from api.reservation.booking.login import canonical_id, lift_lockout
from api.reservation.booking.refusals import MemberLoginFailed, NoBooking, NotEligible
from api.reservation.booking.schemas import (
    BookingView,
    CancelInput,
    PhoneBookingInput,
    PhoneChangeInput,
    UnlockResult,
)
from api.reservation.booking.services import BookingEngine, NewBooking

PROXY: Final = {"permission": "reservations.proxy"}
_SHIPMENT = text("SELECT shipment_no FROM eligibilities WHERE reservation_id = :rid")


async def _caller_ids(db_session: AsyncSession, data: PhoneBookingInput) -> list[str]:
    """The members' canonical IDs, each checked against the shipment number read out."""
    ids: list[str] = []
    for member in data.members:
        rid = canonical_id(member.reservation_id)
        stored = await db_session.scalar(_SHIPMENT, {"rid": rid})
        if stored is None:
            message = "This reservation ID is not eligible to book."
            raise NotEligible(message, details={"reservation_id": rid})
        if not shipment_matches(member.shipment_no, stored):
            message = "The shipment number does not match the reservation ID."
            raise MemberLoginFailed(message, details={"reservation_id": rid})
        ids.append(rid)
    return ids


class PhoneBookingController(Controller):
    """Staff book, look up, change and cancel for a caller (channel ``phone``)."""

    path = "/api/staff"
    tags = ["phone booking"]
    opt = PROXY
    dependencies = BOOKING_DEPENDENCIES

    @post("/bookings", status_code=HTTP_201_CREATED)
    async def book(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PhoneBookingInput],
        db_session: NamedDependency[AsyncSession],
        booking_engine: NamedDependency[BookingEngine],
    ) -> BookingView:
        """Book for a caller from the staff share (or the online share, if staff choose)."""
        ids = await _caller_ids(db_session, data)
        actor = staff_actor(request)
        view = await booking_engine.book(
            NewBooking(
                slot_id=data.slot_id,
                reservation_ids=tuple(ids),
                channel="phone",
                share=data.share,
                email=data.email,
                memo=data.memo,
                staff_login_id=actor.name,
            )
        )
        await db_session.commit()
        metrics.count_booking("book", "phone", "booked")
        await record(
            request,
            "phone_booking",
            actor,
            resource_ids=(view.confirmation_code, *ids),
            detail={"slot_id": str(view.slot_id), "share": view.share},
        )
        return view

    @get("/bookings")
    async def find_for_caller(
        self,
        db_session: NamedDependency[AsyncSession],
        booking_engine: NamedDependency[BookingEngine],
        reservation_id: FromQuery[str],
        shipment_no: FromQuery[str],
    ) -> BookingView:
        """The caller's active booking, by reservation ID and shipment number."""
        rid = canonical_id(reservation_id)
        stored = await db_session.scalar(_SHIPMENT, {"rid": rid})
        if stored is None or not shipment_matches(shipment_no, stored):
            message = "No booking was found for this reservation ID and shipment number."
            raise NoBooking(message)
        return await booking_engine.find(reservation_id=rid)

    @get("/bookings/{code:str}")
    async def find_by_code(
        self, code: FromPath[str], booking_engine: NamedDependency[BookingEngine]
    ) -> BookingView:
        """A booking by its confirmation code (with or without the hyphen)."""
        return await booking_engine.find(code=normalize_code(code))

    @post("/bookings/{code:str}/change", status_code=HTTP_200_OK)
    async def change(
        self,
        request: Request[Any, Any, Any],
        code: FromPath[str],
        data: JSONBody[PhoneChangeInput],
        db_session: NamedDependency[AsyncSession],
        booking_engine: NamedDependency[BookingEngine],
    ) -> BookingView:
        """Move a booking to another slot, taking seats from the chosen share."""
        view = await booking_engine.change(
            slot_id=data.slot_id, share=data.share, code=normalize_code(code), by_staff=True
        )
        await db_session.commit()
        await record(
            request,
            "phone_booking_changed",
            staff_actor(request),
            resource_ids=(view.confirmation_code, *view.members),
            detail={"slot_id": str(view.slot_id), "share": view.share},
        )
        return view

    @post("/bookings/{code:str}/cancel", status_code=HTTP_200_OK)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        code: FromPath[str],
        data: JSONBody[CancelInput],
        db_session: NamedDependency[AsyncSession],
        booking_engine: NamedDependency[BookingEngine],
    ) -> BookingView:
        """Cancel a booking for a caller, until its time begins (no online deadline)."""
        view = await booking_engine.cancel(
            code=normalize_code(code), reason=data.reason, by_staff=True
        )
        await db_session.commit()
        await record(
            request,
            "phone_booking_cancelled",
            staff_actor(request),
            resource_ids=(view.confirmation_code, *view.members),
        )
        return view

    @post("/eligibilities/{reservation_id:str}/unlock", status_code=HTTP_200_OK)
    async def unlock(
        self,
        request: Request[Any, Any, Any],
        reservation_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> UnlockResult:
        """Lift a resident's login lockout (after checking who is calling)."""
        rid = canonical_id(reservation_id)
        unlocked = await lift_lockout(db_session, rid)
        await record(request, "resident_unlocked", staff_actor(request), resource_ids=(rid,))
        return UnlockResult(reservation_id=rid, unlocked=unlocked)
