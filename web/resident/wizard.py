"""The booking wizard (``/book/...``): place, day, time, household, e-mail, confirm.

Each step keeps the resident's choices in the session's draft and sends them back a step
when one is missing; the last step books, or changes a booking (``/booking/change``).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from web.i18n import N_, Text
from web.resident.calendar import month_grid, parse_month
from web.resident.forms import FieldError, credentials_errors, email_error
from web.resident.pages import (
    Context,
    Port,
    Resident,
    ResidentPages,
    Site,
    load_draft,
    login_redirect,
    message,
    page,
    problem,
    save_draft,
)
from web.resident.port import Credentials, Holder, Refusal, SiteRules
from web.resident.site import ResidentSiteConfig


def _members(draft: dict[str, Any]) -> list[str]:
    return [member[0] for member in draft.get("members", [])]


def _drop_stale_members(draft: dict[str, Any], lifetime_seconds: int) -> bool:
    """Forget members verified longer ago than a login lasts; whether any were."""
    oldest = time.time() - lifetime_seconds
    members = draft.get("members", [])
    kept = [member for member in members if member[1] >= oldest]
    draft["members"] = kept
    return len(kept) != len(members)


class BookingWizardController(ResidentPages):
    """The booking steps, for logged-in residents: a new booking or a change of one."""

    @get("/book/location", name="resident:location")
    async def location_page(
        self,
        request: Request[Any, Any, Any],
        booking_port: Port,
        holder: Resident,  # noqa: ARG002 - asked for so that only logged-in residents get here
    ) -> Template | Redirect:
        """Step 1: choose the place."""
        draft = load_draft(request)
        return page(
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
        draft = load_draft(request)
        raw = data.get("location", "")
        location = await booking_port.location(int(raw)) if raw.isdigit() else None
        if location is None:
            return page(
                "resident/location.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[FieldError("location", Text(N_("Choose a place.")))],
                locations=await booking_port.locations(),
                selected=None,
                draft=draft,
            )
        draft.update(location=location.id, slot=None, day=None)
        save_draft(request, draft)
        return Redirect("/book/calendar")

    async def _party_size(
        self, request: Request[Any, Any, Any], booking_port: Port, holder: Holder
    ) -> int:
        draft = load_draft(request)
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
        draft = load_draft(request)
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
        return page("resident/calendar.html", **context)

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
        draft = load_draft(request)
        if not draft.get("location"):
            return Redirect("/book/location")
        try:
            chosen_day = dt.date.fromisoformat(day or draft.get("day") or "")
        except ValueError:
            return Redirect("/book/calendar")
        draft["day"] = chosen_day.isoformat()
        notice = draft.pop("notice", None)
        save_draft(request, draft)
        location = await booking_port.location(draft["location"])
        party = await self._party_size(request, booking_port, holder)
        slots = await booking_port.day_slots(draft["location"], chosen_day, party)
        return page(
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
        draft = load_draft(request)
        raw = data.get("slot", "")
        slot = await booking_port.slot(int(raw)) if raw.isdigit() else None
        if slot is None or slot.location_id != draft.get("location"):
            chosen_day = dt.date.fromisoformat(
                draft.get("day") or dt.datetime.now(site.tz).date().isoformat()
            )
            party = await self._party_size(request, booking_port, holder)
            return page(
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
        save_draft(request, draft)
        return Redirect("/book/confirm" if draft.get("mode") == "change" else "/book/household")

    @get("/book/household", name="resident:household")
    async def household_page(
        self, request: Request[Any, Any, Any], booking_port: Port, holder: Resident
    ) -> Template | Redirect:
        """Step 4: add household members (optional); the place's rules say how many."""
        draft = load_draft(request)
        if not draft.get("slot"):
            return Redirect("/book/calendar")
        return page(
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
        draft = load_draft(request)
        members: list[list[Any]] = list(draft.get("members", []))
        rules = await booking_port.rules(draft.get("location"))
        action = data.get("action", "")
        if action.startswith("remove:"):
            removed = action.removeprefix("remove:")
            draft["members"] = [member for member in members if member[0] != removed]
            save_draft(request, draft)
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
                    message(Refusal("household_too_large"), site, rules),
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
                errors = [FieldError(field, message(refusal, site, rules))]
            else:
                # Only the verified ID and when: the password is forgotten here.
                members.append([member, int(time.time())])
                draft["members"] = members
                save_draft(request, draft)
                return Redirect("/book/household?added=1")
        return page(
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
        draft = load_draft(request)
        if not draft.get("slot"):
            return Redirect("/book/calendar")
        return page("resident/contact.html", draft=draft, values={"email": draft.get("email")})

    @post("/book/contact", name="resident:contact-submit")
    async def contact(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        holder: Resident,  # noqa: ARG002 - asked for so that only logged-in residents get here
    ) -> Template | Redirect:
        """Remember the e-mail address (or none)."""
        draft = load_draft(request)
        email, error = email_error(data.get("email", ""))
        if error is not None:
            return page(
                "resident/contact.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[error],
                draft=draft,
                values={"email": email},
            )
        draft["email"] = email
        save_draft(request, draft)
        return Redirect("/book/confirm")

    @get("/book/confirm", name="resident:confirm")
    async def confirm_page(
        self, request: Request[Any, Any, Any], booking_port: Port, holder: Resident
    ) -> Template | Redirect:
        """Step 6: check everything before booking."""
        draft = load_draft(request)
        slot = await booking_port.slot(draft["slot"]) if draft.get("slot") else None
        if slot is None:
            return Redirect("/book/calendar")
        current = (
            await booking_port.booking_of(holder.reservation_id)
            if draft.get("mode") == "change"
            else None
        )
        return page(
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
        draft = load_draft(request)
        if not draft.get("slot"):
            return Redirect("/book/calendar")
        rules = await booking_port.rules(draft.get("location"))
        if _drop_stale_members(draft, booking_context.settings.session_minutes * 60):
            save_draft(request, draft)
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
            return login_redirect()
        if refusal.code in {"slot_full", "slot_unavailable"}:
            text = message(refusal, site, rules)
            draft["slot"] = None
            draft["notice"] = [text.msgid, text.params]
            save_draft(request, draft)
            return Redirect("/book/times")
        return problem(refusal, site, rules)
