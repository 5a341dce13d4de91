"""The resident booking site's pages: thin handlers over the booking engine's port.

Every route is public in the staff guard's sense; residents have their own session
(``web.resident.session``: the engine's signed token, checked against the database on
every page), which the ``holder`` dependency resolves. No page takes a booking or
reservation ID from the URL: whose booking is shown or changed comes from the session.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, SkipValidation, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY

from api.reservation.booking.deps import BookingContext
from web.i18n import LANGUAGE_COOKIE, LANGUAGES, N_, Text
from web.resident.calendar import month_grid, parse_month
from web.resident.forms import FieldError, credentials_errors, email_error
from web.resident.ics import booking_ics
from web.resident.messages import refusal_text
from web.resident.port import (
    BookingView,
    Credentials,
    Holder,
    Refusal,
    ResidentBookingPort,
    SiteRules,
)
from web.resident.session import start_session
from web.resident.site import ResidentSiteConfig
from web.templating import language_of

# Provided by ResidentSitePlugin; a Protocol and Structs need no validation.
Port = NamedDependency[SkipValidation[ResidentBookingPort]]
Site = NamedDependency[SkipValidation[ResidentSiteConfig]]
# ``holder`` answers "log in first" (a redirect to the login page) for anyone not logged in;
# ``maybe_holder`` is for the pages that serve both.
Resident = NamedDependency[SkipValidation[Holder]]
MaybeResident = NamedDependency[SkipValidation[Holder | None]]
Context = NamedDependency[SkipValidation[BookingContext]]
PUBLIC_OPT: Final = {"public": True, "exclude_from_csrf": True}


def _message(refusal: Refusal, site: ResidentSiteConfig, rules: SiteRules) -> Text:
    return refusal_text(refusal, phone=site.phone, tz=site.tz, rules=rules)


def _members(draft: dict[str, Any]) -> list[str]:
    return [member[0] for member in draft.get("members", [])]


def _drop_stale_members(draft: dict[str, Any], lifetime_seconds: int) -> bool:
    """Forget members verified longer ago than a login lasts; whether any were."""
    oldest = time.time() - lifetime_seconds
    members = draft.get("members", [])
    kept = [member for member in members if member[1] >= oldest]
    draft["members"] = kept
    return len(kept) != len(members)


def _draft(request: Request[Any, Any, Any]) -> dict[str, Any]:
    draft = request.session.get("draft")
    if not isinstance(draft, dict):
        draft = {"mode": "new", "members": [], "email": ""}
        request.session["draft"] = draft
    return draft


def _save(request: Request[Any, Any, Any], draft: dict[str, Any]) -> None:
    # Reassign so the session middleware sees a change.
    request.session["draft"] = dict(draft)


def _login_redirect() -> Redirect:
    return Redirect("/login")


class LoginNeeded(Exception):
    """Raised by the ``holder`` dependency: the page needs a logged-in resident."""


def login_needed(_: Request[Any, Any, Any], __: LoginNeeded) -> Redirect:
    """Send a resident who is not (or no longer) logged in to the login page."""
    return _login_redirect()


def _page(
    template: str,
    status_code: int = 200,
    *,
    errors: list[FieldError] | None = None,
    **context: Any,
) -> Template:
    return Template(
        template_name=template,
        context={"errors": errors or [], "field_errors": _by_field(errors or []), **context},
        status_code=status_code,
    )


def _by_field(errors: list[FieldError]) -> dict[str, Text]:
    return {error.field: error.text for error in errors}


def _safe_next(raw: str | None) -> str:
    """A local path to go back to; anything else becomes the start page."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return "/"
    return raw


class ResidentSiteController(Controller):
    """The resident pages: login, booking flow, own booking, accessibility, language."""

    opt = PUBLIC_OPT
    include_in_schema = False
    request_class = HTMXRequest

    # -- start, language, accessibility ---------------------------------------------------

    @get("/", name="resident:start")
    async def start(self, maybe_holder: MaybeResident) -> Redirect:
        """Logged-in residents go to their booking; others to the login page."""
        return Redirect("/booking" if maybe_holder else "/login")

    @get("/lang/{language:str}", name="resident:language")
    async def language(
        self, language: FromPath[str], next_page: FromQuery[str | None] = None
    ) -> Redirect:
        """Remember the chosen language (a cookie for a year) and return to the page."""
        if language not in LANGUAGES:
            raise NotFoundException
        return Redirect(
            _safe_next(next_page),
            cookies=[
                Cookie(
                    key=LANGUAGE_COOKIE,
                    value=language,
                    max_age=365 * 24 * 3600,
                    path="/",
                    secure=True,
                    httponly=True,
                    samesite="lax",
                )
            ],
        )

    @get("/accessibility", name="resident:accessibility")
    async def accessibility(self, site: Site) -> Template:
        """The site's accessibility policy (ウェブアクセシビリティ方針)."""
        return _page("resident/accessibility.html", site=site)

    # -- login ----------------------------------------------------------------------------

    @get("/login", name="resident:login")
    async def login_page(
        self, request: Request[Any, Any, Any], reservation_id: FromQuery[str] = ""
    ) -> Template:
        """The login form; the letter's QR code fills in the reservation ID (``?id=``)."""
        prefill = reservation_id or request.query_params.get("id", "")
        return _page("resident/login.html", values={"reservation_id": prefill[:20]})

    @post("/login", name="resident:login-submit")
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        booking_port: Port,
        booking_context: Context,
        site: Site,
    ) -> Template | Redirect:
        """Check the credentials (the engine's login); start a fresh session on success."""
        reservation_id, password, errors = credentials_errors(
            data.get("reservation_id", ""), data.get("password", "")
        )
        values = {"reservation_id": reservation_id}
        rules = await booking_port.rules(None)
        if errors:
            return _page(
                "resident/login.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=errors,
                values=values,
                rules=rules,
            )
        try:
            holder = await booking_port.login(Credentials(reservation_id, password))
        except Refusal as refusal:
            return _page(
                "resident/login.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[FieldError("password", _message(refusal, site, rules))],
                values=values,
                refused=True,
                rules=rules,
            )
        start_session(request, booking_context, holder)
        booking = await booking_port.booking_of(holder.reservation_id)
        return Redirect("/booking" if booking else "/book/location")

    @post("/logout", name="resident:logout")
    async def logout(
        self, request: Request[Any, Any, Any], booking_port: Port, maybe_holder: MaybeResident
    ) -> Redirect:
        """End the session here and every other session of the ID (as the API's logout)."""
        if maybe_holder is not None:
            await booking_port.logout(maybe_holder)
        request.clear_session()
        return Redirect("/login?bye=1")

    # -- booking flow ---------------------------------------------------------------------

    @get("/book/location", name="resident:location")
    async def location_page(
        self,
        request: Request[Any, Any, Any],
        booking_port: Port,
        holder: Resident,  # noqa: ARG002 - asked for so that only logged-in residents get here
    ) -> Template | Redirect:
        """Step 1: choose the place."""
        draft = _draft(request)
        return _page(
            "resident/location.html",
            locations=await booking_port.locations(),
            selected=draft.get("location"),
            draft=draft,
        )

    @post("/book/location", name="resident:location-submit")
    async def choose_location(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        booking_port: Port,
        holder: Resident,  # noqa: ARG002 - asked for so that only logged-in residents get here
    ) -> Template | Redirect:
        """Remember the place and show its calendar."""
        draft = _draft(request)
        raw = data.get("location", "")
        location = await booking_port.location(int(raw)) if raw.isdigit() else None
        if location is None:
            return _page(
                "resident/location.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[FieldError("location", Text(N_("Choose a place.")))],
                locations=await booking_port.locations(),
                selected=None,
                draft=draft,
            )
        draft.update(location=location.id, slot=None, day=None)
        _save(request, draft)
        return Redirect("/book/calendar")

    async def _party_size(
        self, request: Request[Any, Any, Any], booking_port: Port, holder: Holder
    ) -> int:
        draft = _draft(request)
        if draft.get("mode") == "change":
            booking = await booking_port.booking_of(holder.reservation_id)
            return len(booking.member_ids) if booking else 1
        return 1 + len(draft.get("members", []))

    @get("/book/calendar", name="resident:calendar")
    async def calendar_page(
        self,
        request: HTMXRequest,
        booking_port: Port,
        site: Site,
        holder: Resident,
        month: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        """Step 2: a month calendar; each day says free, few, full or closed."""
        draft = _draft(request)
        location = await booking_port.location(draft["location"]) if draft.get("location") else None
        if location is None:
            return Redirect("/book/location")
        today = dt.datetime.now(site.tz).date()
        first = parse_month(month, today)
        party = await self._party_size(request, booking_port, holder)
        days = await booking_port.month(location.id, first, party)
        rules = await booking_port.rules(location.id)
        # Booking opens ``opens_days_ahead`` days before a day: no later month is offered.
        last_open = today + dt.timedelta(days=rules.opens_days_ahead)
        context: dict[str, Any] = {
            "location": location,
            "grid": month_grid(first, days),
            "month_start": first,
            "previous": first > today.replace(day=1),
            "previous_month": (first - dt.timedelta(days=1)).replace(day=1),
            "next_month": (first + dt.timedelta(days=32)).replace(day=1),
            "has_next": (first + dt.timedelta(days=32)).replace(day=1) <= last_open,
            "rules": rules,
            "party": party,
            "draft": draft,
        }
        if request.htmx:
            return HTMXTemplate(template_name="resident/_calendar.html", context=context)
        return _page("resident/calendar.html", **context)

    @get("/book/times", name="resident:times")
    async def times_page(
        self,
        request: Request[Any, Any, Any],
        booking_port: Port,
        site: Site,
        holder: Resident,
        day: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        """Step 3: the free times of one day, as a radio group."""
        draft = _draft(request)
        if not draft.get("location"):
            return Redirect("/book/location")
        try:
            chosen_day = dt.date.fromisoformat(day or draft.get("day") or "")
        except ValueError:
            return Redirect("/book/calendar")
        draft["day"] = chosen_day.isoformat()
        notice = draft.pop("notice", None)
        _save(request, draft)
        location = await booking_port.location(draft["location"])
        party = await self._party_size(request, booking_port, holder)
        slots = await booking_port.day_slots(draft["location"], chosen_day, party)
        return _page(
            "resident/times.html",
            location=location,
            day=chosen_day,
            slots=slots,
            selected=draft.get("slot"),
            notice=Text(notice[0], notice[1]) if notice else None,
            draft=draft,
            tz=site.tz,
        )

    @post("/book/times", name="resident:times-submit")
    async def choose_time(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """Remember the time; a new booking goes on to the household step."""
        draft = _draft(request)
        raw = data.get("slot", "")
        slot = await booking_port.slot(int(raw)) if raw.isdigit() else None
        if slot is None or slot.location_id != draft.get("location"):
            chosen_day = dt.date.fromisoformat(
                draft.get("day") or dt.datetime.now(site.tz).date().isoformat()
            )
            party = await self._party_size(request, booking_port, holder)
            return _page(
                "resident/times.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[FieldError("slot", Text(N_("Choose a time.")))],
                location=await booking_port.location(draft["location"]),
                day=chosen_day,
                slots=await booking_port.day_slots(draft["location"], chosen_day, party),
                selected=None,
                notice=None,
                draft=draft,
                tz=site.tz,
            )
        draft["slot"] = slot.id
        _save(request, draft)
        return Redirect("/book/confirm" if draft.get("mode") == "change" else "/book/household")

    @get("/book/household", name="resident:household")
    async def household_page(
        self, request: Request[Any, Any, Any], booking_port: Port, holder: Resident
    ) -> Template | Redirect:
        """Step 4: add household members (optional); the place's rules say how many."""
        draft = _draft(request)
        if not draft.get("slot"):
            return Redirect("/book/calendar")
        return _page(
            "resident/household.html",
            draft=draft,
            values={},
            holder=holder,
            rules=await booking_port.rules(draft.get("location")),
        )

    @post("/book/household", name="resident:household-submit")
    async def household(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        booking_port: Port,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """Add a member (after checking their ID and password), remove one, or go on.

        The password is checked here, once, as a logged password attempt; the draft keeps
        only the member's ID and when it was verified, never the password.
        """
        draft = _draft(request)
        members: list[list[Any]] = list(draft.get("members", []))
        rules = await booking_port.rules(draft.get("location"))
        action = data.get("action", "")
        if action.startswith("remove:"):
            removed = action.removeprefix("remove:")
            draft["members"] = [member for member in members if member[0] != removed]
            _save(request, draft)
            return Redirect("/book/household")
        if action != "add":
            return Redirect("/book/contact")
        reservation_id, password, errors = credentials_errors(
            data.get("member_reservation_id", ""),
            data.get("member_password", ""),
            prefix="member_",
        )
        values = {"member_reservation_id": reservation_id}
        if not errors and 1 + len(members) >= rules.household_max:
            errors = [
                FieldError(
                    "member_reservation_id",
                    _message(Refusal("household_too_large"), site, rules),
                )
            ]
        if not errors:
            try:
                member = await booking_port.check_member(Credentials(reservation_id, password))
                if member == holder.reservation_id or member in _members(draft):
                    raise Refusal("duplicate_member")
            except Refusal as refusal:
                field = (
                    "member_password"
                    if refusal.code in {"invalid_credentials", "locked"}
                    else "member_reservation_id"
                )
                errors = [FieldError(field, _message(refusal, site, rules))]
            else:
                # Only the verified ID and when: the password is forgotten here.
                members.append([member, int(time.time())])
                draft["members"] = members
                _save(request, draft)
                return Redirect("/book/household?added=1")
        return _page(
            "resident/household.html",
            HTTP_422_UNPROCESSABLE_ENTITY,
            errors=errors,
            draft=draft,
            values=values,
            holder=holder,
            rules=rules,
        )

    @get("/book/contact", name="resident:contact")
    async def contact_page(
        self,
        request: Request[Any, Any, Any],
        holder: Resident,  # noqa: ARG002 - asked for so that only logged-in residents get here
    ) -> Template | Redirect:
        """Step 5: an optional e-mail address for the confirmation."""
        draft = _draft(request)
        if not draft.get("slot"):
            return Redirect("/book/calendar")
        return _page("resident/contact.html", draft=draft, values={"email": draft.get("email")})

    @post("/book/contact", name="resident:contact-submit")
    async def contact(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        holder: Resident,  # noqa: ARG002 - asked for so that only logged-in residents get here
    ) -> Template | Redirect:
        """Remember the e-mail address (or none)."""
        draft = _draft(request)
        email, error = email_error(data.get("email", ""))
        if error is not None:
            return _page(
                "resident/contact.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[error],
                draft=draft,
                values={"email": email},
            )
        draft["email"] = email
        _save(request, draft)
        return Redirect("/book/confirm")

    @get("/book/confirm", name="resident:confirm")
    async def confirm_page(
        self, request: Request[Any, Any, Any], booking_port: Port, holder: Resident
    ) -> Template | Redirect:
        """Step 6: check everything before booking."""
        draft = _draft(request)
        slot = await booking_port.slot(draft["slot"]) if draft.get("slot") else None
        if slot is None:
            return Redirect("/book/calendar")
        current = (
            await booking_port.booking_of(holder.reservation_id)
            if draft.get("mode") == "change"
            else None
        )
        return _page(
            "resident/confirm.html",
            draft=draft,
            holder=holder.reservation_id,
            slot=slot,
            location=await booking_port.location(slot.location_id),
            current=current,
        )

    @post("/book/confirm", name="resident:confirm-submit")
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        booking_port: Port,
        booking_context: Context,
        site: Site,
        holder: Resident,
    ) -> Template | Redirect:
        """Book (or change); a time taken meanwhile sends the resident back to the times."""
        draft = _draft(request)
        if not draft.get("slot"):
            return Redirect("/book/calendar")
        rules = await booking_port.rules(draft.get("location"))
        if _drop_stale_members(draft, booking_context.settings.session_minutes * 60):
            _save(request, draft)
            return Redirect("/book/household")
        try:
            if draft.get("mode") == "change":
                current = await booking_port.booking_of(holder.reservation_id)
                if current is None:
                    raise Refusal("not_found")
                await booking_port.change(holder, current.confirmation_code, draft["slot"])
            else:
                await booking_port.book(
                    holder, _members(draft), draft["slot"], draft.get("email") or None
                )
        except Refusal as refusal:
            return self._refused(request, draft, refusal, site, rules)
        request.session.pop("draft", None)
        request.session["done"] = True
        return Redirect("/booking/done")

    def _refused(
        self,
        request: Request[Any, Any, Any],
        draft: dict[str, Any],
        refusal: Refusal,
        site: ResidentSiteConfig,
        rules: SiteRules,
    ) -> Template | Redirect:
        """A time taken meanwhile: back to the times; an ended session: log in again."""
        if refusal.code == "not_logged_in":
            request.clear_session()
            return _login_redirect()
        if refusal.code in {"slot_full", "slot_unavailable"}:
            text = _message(refusal, site, rules)
            draft["slot"] = None
            draft["notice"] = [text.msgid, text.params]
            _save(request, draft)
            return Redirect("/book/times")
        return self._problem(refusal, site, rules)

    def _problem(self, refusal: Refusal, site: ResidentSiteConfig, rules: SiteRules) -> Template:
        return _page(
            "resident/problem.html",
            HTTP_409_CONFLICT,
            message=_message(refusal, site, rules),
            code=refusal.code,
            site=site,
        )

    # -- own booking: look up, done, calendar file, change, cancel -------------------------

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
        return _page("resident/booking.html", booking=booking, just_booked=False, site=site)

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
        return _page("resident/booking.html", booking=booking, just_booked=True, site=site)

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
            return self._problem(Refusal("not_found"), site, rules)
        if not booking.can_change:
            return self._problem(Refusal("deadline_passed"), site, rules)
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
        return _page("resident/cancel.html", booking=booking, site=site)

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
                return _login_redirect()
            rules = await booking_port.rules(booking.location.id if booking else None)
            return self._problem(refusal, site, rules)
        return _page("resident/cancelled.html", site=site)
