"""Routes of the resident API (``/api/resident``), and the list of all booking routes.

Resident routes are public in the guard's sense (``opt={"public": True}``) and carry their
own resident authentication; phone booking (``phone.py``) needs ``reservations.proxy``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.core.errors import DomainError
from api.reservation.booking import metrics
from api.reservation.booking.credentials import (
    ResidentSession,
    issue_session_token,
)
from api.reservation.booking.deps import (
    BOOKING_DEPENDENCIES,
    SESSION_COOKIE,
    BookingContext,
    provide_context,
    provide_resident,
    utc_now,
)
from api.reservation.booking.driver import DriverDb, driver_connection
from api.reservation.booking.login import (
    PasswordCheck,
    answer_attempt,
    canonical_id,
    check_password,
    end_sessions,
    session_is_current,
)
from api.reservation.booking.phone import PhoneBookingController
from api.reservation.booking.refusals import NotLoggedIn
from api.reservation.booking.schemas import (
    BookingView,
    CancelInput,
    ChangeInput,
    MemberCredentials,
    ResidentBookingInput,
    ResidentLoginInput,
    ResidentLoginResult,
)
from api.reservation.booking.seats import NewBooking, book_directly
from api.reservation.booking.services import BookingEngine

PUBLIC: Final = {"public": True}
# The routes every resident calls when booking opens (login, book) take the database
# engine as their only injected dependency and make the booking context and the resident
# themselves, with the same functions the other routes are injected with: Litestar
# resolves two or more dependencies of one level in an anyio task group (a task each),
# which at the surge cost more than those plain function calls. They run their SQL on
# the asyncpg connection behind the engine's pool, not through an ORM session (see
# driver.py): the same statements, a quarter less CPU per request.
HOT_ROUTES: Final = ("login", "book")


async def _counted_attempt(
    request: Request[Any, Any, Any],
    connection: asyncpg.Connection,
    context: BookingContext,
    credentials: ResidentLoginInput | MemberCredentials,
    *,
    with_booking: bool = False,
) -> PasswordCheck:
    # One password attempt, counted on the connection (its transaction, if one is open).
    return await check_password(
        DriverDb(connection),
        context.settings,
        reservation_id=credentials.reservation_id,
        password=credentials.password,
        client_address=context.client_of(request),
        now=utc_now(),
        with_booking=with_booking,
    )


async def _member_attempt(
    request: Request[Any, Any, Any],
    connection: asyncpg.Connection,
    context: BookingContext,
    member: MemberCredentials,
) -> str:
    # A household member's password attempt in a transaction of its own, committed before
    # it is logged (as ``attempt_login`` does on the session); a failure raises its refusal.
    async with connection.transaction():
        counted = await _counted_attempt(request, connection, context, member)
    return (await answer_attempt(request, counted, member=True)).reservation_id


async def _current(db_session: AsyncSession, resident_session: ResidentSession) -> str:
    if not await session_is_current(
        db_session, resident_session.reservation_id, resident_session.generation
    ):
        message = "Your session has ended; log in again."
        raise NotLoggedIn(message)
    return resident_session.reservation_id


class ResidentController(Controller):
    """What a resident does: log in, book (with household), look up, change, cancel."""

    path = "/api/resident"
    tags = ["resident"]
    opt = PUBLIC
    dependencies = BOOKING_DEPENDENCIES

    @post("/login", status_code=HTTP_200_OK)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ResidentLoginInput],
        db_engine: NamedDependency[AsyncEngine],
    ) -> Response[ResidentLoginResult]:
        """Log in with reservation ID and password; the token comes as cookie and in the body."""
        booking_context = provide_context(request.app.state)  # see HOT_ROUTES
        # A login is one statement (rate-limit count, look-up and the answer's booking),
        # plus atomic counter updates when it fails: with no transaction open, each commits
        # on its own (as ``attempt_login`` under ``autocommit``), before the attempt is logged.
        async with driver_connection(db_engine) as connection:
            counted = await _counted_attempt(
                request, connection, booking_context, data, with_booking=True
            )
        check = await answer_attempt(request, counted, member=False)
        booking = check.booking
        lifetime = booking_context.settings.session_minutes * 60
        token, session = issue_session_token(
            booking_context.secret_key, check.reservation_id, check.session_generation, lifetime
        )
        cookie = Cookie(
            key=SESSION_COOKIE,
            value=token,
            max_age=lifetime,
            path="/api/resident",
            httponly=True,
            secure=True,
            samesite="strict",
        )
        result = ResidentLoginResult(
            reservation_id=check.reservation_id,
            session_token=token,
            expires_at=dt.datetime.fromtimestamp(session.expires_at, dt.UTC),
            booking=booking,
        )
        return Response(result, cookies=[cookie])

    @post("/logout", status_code=HTTP_200_OK)
    async def logout(
        self, db_session: NamedDependency[AsyncSession], resident: NamedDependency[ResidentSession]
    ) -> Response[None]:
        """End every session of this reservation ID and clear the cookie."""
        await end_sessions(db_session, resident.reservation_id, resident.generation)
        expired = Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/api/resident")
        return Response(None, cookies=[expired])

    @get("/booking")
    async def current_booking(
        self,
        db_session: NamedDependency[AsyncSession],
        resident: NamedDependency[ResidentSession],
        booking_engine: NamedDependency[BookingEngine],
    ) -> BookingView:
        """The resident's active booking (404 ``no_booking`` when there is none)."""
        reservation_id = await _current(db_session, resident)
        return await booking_engine.find(reservation_id=reservation_id)

    @post("/booking", status_code=HTTP_201_CREATED)
    async def book(
        self,
        *,
        request: Request[Any, Any, Any],
        data: JSONBody[ResidentBookingInput],
        db_engine: NamedDependency[AsyncEngine],
    ) -> BookingView:
        """Book a slot for oneself and household members (each with their own password)."""
        # What the other routes inject, made here: see HOT_ROUTES.
        booking_context = provide_context(request.app.state)
        resident = provide_resident(request, booking_context)
        async with driver_connection(db_engine) as connection:
            members = [
                await _member_attempt(request, connection, booking_context, member)
                for member in sorted(
                    data.members, key=lambda item: canonical_id(item.reservation_id)
                )
            ]
            # Members' attempts are counted for good; the booking is a transaction of its
            # own, committed at once (the slot's row lock ends with it).
            new_booking = NewBooking(
                slot_id=data.slot_id,
                reservation_ids=(resident.reservation_id, *members),
                channel="web",
                share="online",
                email=data.email,
                memo=data.memo,
                session_generation=resident.generation,
            )
            try:
                view = await book_directly(
                    connection, new_booking, booking_context.zone.tz, utc_now
                )
            except DomainError as refusal:
                metrics.count_booking("book", "web", refusal.code)
                raise
        metrics.count_booking("book", "web", "booked")
        return view

    @post("/booking/change", status_code=HTTP_200_OK)
    async def change(
        self,
        data: JSONBody[ChangeInput],
        db_session: NamedDependency[AsyncSession],
        resident: NamedDependency[ResidentSession],
        booking_engine: NamedDependency[BookingEngine],
    ) -> BookingView:
        """Move the booking to another slot; when that slot is full, nothing changes."""
        reservation_id = await _current(db_session, resident)
        view = await booking_engine.change(
            slot_id=data.slot_id, share="online", reservation_id=reservation_id
        )
        await db_session.commit()
        return view

    @post("/booking/cancel", status_code=HTTP_200_OK)
    async def cancel(
        self,
        data: JSONBody[CancelInput],
        db_session: NamedDependency[AsyncSession],
        resident: NamedDependency[ResidentSession],
        booking_engine: NamedDependency[BookingEngine],
    ) -> BookingView:
        """Cancel the booking (for every member of it) and give the seats back."""
        reservation_id = await _current(db_session, resident)
        view = await booking_engine.cancel(reservation_id=reservation_id, reason=data.reason)
        await db_session.commit()
        return view


def booking_route_handlers() -> list[ControllerRouterHandler]:
    """The booking routes, for the zone app to register."""
    return [ResidentController, PhoneBookingController]


def route_options() -> dict[str, dict[str, Any]]:
    """Each booking route's ``opt`` by name (for the guard tests)."""
    options: dict[str, dict[str, Any]] = {}
    for controller in (ResidentController, PhoneBookingController):
        for value in vars(controller).values():
            if isinstance(value, HTTPRouteHandler):
                options[f"{controller.__name__}.{value.handler_name}"] = {
                    **controller.opt,
                    **value.opt,
                }
    return options
