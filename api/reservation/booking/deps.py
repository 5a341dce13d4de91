"""Dependencies of the booking routes: settings, the resident's session, the engine."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.identity.terminals import client_address, peer_address
from api.core.secrets import resolve_secret_key
from api.core.settings import Network, ZoneSettings
from api.reservation.booking.config import BookingSettings, cached_booking_settings
from api.reservation.booking.credentials import ResidentSession, read_session_token
from api.reservation.booking.refusals import NotLoggedIn
from api.reservation.booking.services import BookingEngine

SESSION_COOKIE: Final = "madoguchi_resident"
BOOKING_SETTINGS_STATE_KEY: Final = "booking_settings"
_CONTEXT_STATE_KEY: Final = "booking_context"
_BEARER: Final = "bearer "


class BookingContext:
    """What the booking routes need from the zone's configuration, resolved once.

    A plain holder (not a Struct): the zone settings' network types are beyond what
    Litestar's signature model can describe.
    """

    __slots__ = ("secret_key", "settings", "zone")

    def __init__(self, *, settings: BookingSettings, secret_key: str, zone: ZoneSettings) -> None:
        self.settings = settings
        self.secret_key = secret_key
        self.zone = zone

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        """Proxies whose ``X-Forwarded-For`` names the client (for the rate limit)."""
        return self.zone.trusted_proxies

    def client_of(self, request: Request[Any, Any, Any]) -> str | None:
        """The client's address, behind a trusted proxy the one it reports.

        When the proxy's report is unreadable, the proxy's own address: such attempts then
        share one rate limit instead of escaping it.
        """
        return client_address(request.scope, self.trusted_proxies) or peer_address(request.scope)


def provide_context(state: State) -> BookingContext:
    """The booking context of the app (resolved at first use, then kept in the app state)."""
    context = state.get(_CONTEXT_STATE_KEY)
    if isinstance(context, BookingContext):
        return context
    zone: ZoneSettings = state["settings"]
    configured = state.get(BOOKING_SETTINGS_STATE_KEY)
    settings = configured if isinstance(configured, BookingSettings) else None
    context = BookingContext(
        settings=settings or cached_booking_settings(zone),
        secret_key=resolve_secret_key(zone),
        zone=zone,
    )
    state[_CONTEXT_STATE_KEY] = context
    return context


def session_token_of(request: Request[Any, Any, Any]) -> str | None:
    """The resident's token: ``Authorization: Bearer`` (API clients) or the session cookie."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith(_BEARER):
        return authorization[len(_BEARER) :].strip()
    return request.cookies.get(SESSION_COOKIE)


def provide_resident(
    request: Request[Any, Any, Any], booking_context: NamedDependency[BookingContext]
) -> ResidentSession:
    """The logged-in resident; refuse when the token is missing, forged or expired.

    Logging out elsewhere is seen by the engine, which compares the token's generation.
    """
    token = session_token_of(request)
    session = read_session_token(booking_context.secret_key, token) if token else None
    if session is None:
        message = "Log in with your reservation ID and password."
        raise NotLoggedIn(message)
    return session


def provide_engine(
    db_session: NamedDependency[AsyncSession], booking_context: NamedDependency[BookingContext]
) -> BookingEngine:
    """The booking engine on the request's database session."""
    return BookingEngine(db_session, booking_context.zone.tz)


def utc_now() -> dt.datetime:
    """The current time (UTC, aware)."""
    return dt.datetime.now(dt.UTC)


BOOKING_DEPENDENCIES: Final[dict[str, Any]] = {
    "booking_context": Provide(provide_context, sync_to_thread=False),
    "resident": Provide(provide_resident, sync_to_thread=False),
    "booking_engine": Provide(provide_engine, sync_to_thread=False),
}
