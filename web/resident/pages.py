"""What the resident site's controllers share: dependency types, the draft, page rendering.

The site's own pages (``controllers``), the booking wizard (``wizard``) and the resident's
own booking (``own_booking``) all answer with these pages, keep the same booking draft in
the session, and send a resident who is not logged in to the login page the same way.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT

from api.reservation.booking.deps import BookingContext
from web.i18n import Text
from web.resident.forms import FieldError
from web.resident.messages import refusal_text
from web.resident.port import Holder, Refusal, ResidentBookingPort, SiteRules
from web.resident.site import ResidentSiteConfig

# Provided by ResidentSitePlugin; a Protocol and Structs need no validation.
Port = NamedDependency[SkipValidation[ResidentBookingPort]]
Site = NamedDependency[SkipValidation[ResidentSiteConfig]]
# ``holder`` answers "log in first" (a redirect to the login page) for anyone not logged in;
# ``maybe_holder`` is for the pages that serve both.
Resident = NamedDependency[SkipValidation[Holder]]
MaybeResident = NamedDependency[SkipValidation[Holder | None]]
Context = NamedDependency[SkipValidation[BookingContext]]
PUBLIC_OPT: Final = {"public": True, "exclude_from_csrf": True}


class ResidentPages(Controller):
    """Base of the resident site's controllers: public, not in the schema, HTMX-aware."""

    opt = PUBLIC_OPT
    include_in_schema = False
    request_class = HTMXRequest


class LoginNeeded(Exception):
    """Raised by the ``holder`` dependency: the page needs a logged-in resident."""


def login_redirect() -> Redirect:
    """The answer to a resident who has to log in (again)."""
    return Redirect("/login")


def login_needed(_: Request[Any, Any, Any], __: LoginNeeded) -> Redirect:
    """Send a resident who is not (or no longer) logged in to the login page."""
    return login_redirect()


def message(refusal: Refusal, site: ResidentSiteConfig, rules: SiteRules) -> Text:
    """The words of a refusal, with the city's phone number, time zone and rules."""
    return refusal_text(refusal, phone=site.phone, tz=site.tz, rules=rules)


def load_draft(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The booking draft in the session; an empty new-booking draft if there is none."""
    draft = request.session.get("draft")
    if not isinstance(draft, dict):
        draft = {"mode": "new", "members": [], "email": ""}
        request.session["draft"] = draft
    return draft


def save_draft(request: Request[Any, Any, Any], draft: dict[str, Any]) -> None:
    """Store the draft in the session (the cookie is rewritten with the response)."""
    # Reassign so the session middleware sees a change.
    request.session["draft"] = dict(draft)


def page(
    template: str,
    status_code: int = 200,
    *,
    errors: list[FieldError] | None = None,
    **context: Any,
) -> Template:
    """A page with its context, its error summary (``errors``) and errors by field."""
    return Template(
        template_name=template,
        context={"errors": errors or [], "field_errors": _by_field(errors or []), **context},
        status_code=status_code,
    )


def _by_field(errors: list[FieldError]) -> dict[str, Text]:
    return {error.field: error.text for error in errors}


def problem(refusal: Refusal, site: ResidentSiteConfig, rules: SiteRules) -> Template:
    """The problem page (409) for a refusal the resident cannot fix on the form."""
    return page(
        "resident/problem.html",
        HTTP_409_CONFLICT,
        message=message(refusal, site, rules),
        code=refusal.code,
        site=site,
    )
