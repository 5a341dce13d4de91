"""The resident booking site's own pages: start, language, accessibility, login, logout.

Every route is public in the staff guard's sense; residents have their own session
(``web.resident.session``: the engine's signed token, checked against the database on
every page), which the ``holder`` dependency resolves. No page takes a booking or
reservation ID from the URL: whose booking is shown or changed comes from the session.
The booking steps are in ``wizard``, the resident's own booking in ``own_booking``, and
what they share in ``pages``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from web.i18n import LANGUAGE_COOKIE, LANGUAGES
from web.resident.forms import FieldError, credentials_errors
from web.resident.pages import (
    Context,
    MaybeResident,
    Port,
    ResidentPages,
    Site,
    message,
    page,
)
from web.resident.port import Credentials, Refusal
from web.resident.session import start_session


def _safe_next(raw: str | None) -> str:
    """A local path to go back to; anything else becomes the start page."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return "/"
    return raw


class ResidentSiteController(ResidentPages):
    """The site's own pages: start, language, accessibility, login and logout."""

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
        return page("resident/accessibility.html", site=site)

    # -- login ----------------------------------------------------------------------------

    @get("/login", name="resident:login")
    async def login_page(
        self, request: Request[Any, Any, Any], reservation_id: FromQuery[str] = ""
    ) -> Template:
        """The login form; the letter's QR code fills in the reservation ID (``?id=``)."""
        prefill = reservation_id or request.query_params.get("id", "")
        return page("resident/login.html", values={"reservation_id": prefill[:20]})

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
            return page(
                "resident/login.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=errors,
                values=values,
                rules=rules,
            )
        try:
            holder = await booking_port.login(Credentials(reservation_id, password))
        except Refusal as refusal:
            return page(
                "resident/login.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[FieldError("password", message(refusal, site, rules))],
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
