"""The resident's own booking: look it up, the calendar file, change or cancel it.

Whose booking it is comes from the session (the ``holder`` dependency), never from the
URL; changing it starts the booking wizard (``wizard``) with a change draft.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from web.resident.ics import booking_ics
from web.resident.pages import (
    Port,
    Resident,
    ResidentPages,
    Site,
    login_redirect,
    page,
    problem,
)
from web.resident.port import BookingView, Holder, Refusal
from web.templating import language_of


class OwnBookingController(ResidentPages):
    """The logged-in resident's booking (``/booking...``)."""

    async def _own(self, holder: Holder, booking_port: Port) -> BookingView | None:
        return await booking_port.booking_of(holder.reservation_id)

    @get("/booking", name="resident:booking")
    async def booking_page(
        self,
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """The resident's booking (look up), with change and cancel."""
        booking = await self._own(holder, booking_port)
        return page("resident/booking.html", booking=booking, just_booked=False, site=site)

    @get("/booking/done", name="resident:done")
    async def done_page(
        self,
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """The booking is made: confirmation code, place, directions, what to bring."""
        booking = await self._own(holder, booking_port)
        if booking is None:
            return Redirect("/booking")
        return page("resident/booking.html", booking=booking, just_booked=True, site=site)

    @get("/booking/calendar.ics", name="resident:ics")
    async def ics(
        self,
        request: Request[Any, Any, Any],
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Response[bytes] | Redirect:
        """The booking as an iCalendar file for the resident's calendar app."""
        booking = await self._own(holder, booking_port)
        if booking is None:
            raise NotFoundException
        return Response(
            booking_ics(booking, site=site, language=language_of(request)),
            media_type="text/calendar; charset=utf-8",
            headers={
                "content-disposition": 'attachment; filename="madoguchi-booking.ics"',
            },
        )

    @post("/booking/change", name="resident:change")
    async def change(
        self,
        request: Request[Any, Any, Any],
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """Start choosing another place, day or time for the booking."""
        booking = await self._own(holder, booking_port)
        rules = await booking_port.rules(booking.location.id if booking else None)
        if booking is None:
            return problem(Refusal("not_found"), site, rules)
        if not booking.can_change:
            return problem(Refusal("deadline_passed"), site, rules)
        request.session["draft"] = {
            "mode": "change",
            "location": booking.location.id,
            "members": [],
            "email": booking.email or "",
        }
        return Redirect("/book/calendar")

    @get("/booking/cancel", name="resident:cancel")
    async def cancel_page(
        self,
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """Ask before cancelling."""
        booking = await self._own(holder, booking_port)
        if booking is None:
            return Redirect("/booking")
        return page("resident/cancel.html", booking=booking, site=site)

    @post("/booking/cancel", name="resident:cancel-submit")
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """Cancel the resident's own booking (the code in the form must be theirs)."""
        booking = await self._own(holder, booking_port)
        try:
            await booking_port.cancel(holder, data.get("confirmation_code", ""))
        except Refusal as refusal:
            if refusal.code == "not_logged_in":
                request.clear_session()
                return login_redirect()
            rules = await booking_port.rules(booking.location.id if booking else None)
            return problem(refusal, site, rules)
        return page("resident/cancelled.html", site=site)
