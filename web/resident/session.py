"""Residents' browser sessions: the booking engine's signed session, in an encrypted cookie.

Who is logged in is the engine's resident session: the signed token
``r1.<id>.<generation>.<expiry>.<hmac>`` that ``POST /api/resident/login`` issues too, plus
the eligibility row's ``session_generation`` in PostgreSQL (every page checks it, so a
logout anywhere ends the session on every replica). The pages keep the token and the
booking draft (place, day, time, verified household members' IDs, e-mail) in one
AES-GCM-encrypted cookie (Litestar's client-side session, key derived from the zone's
secret key): nothing is stored per process or on disk, so any replica serves any request.

The cookie is HttpOnly, Secure, SameSite=Strict, expires after the resident session's
lifetime without a request, and gets a new value at login (a new token); a planted or
forged cookie decrypts to nothing. Household members' passwords never enter it: they
are checked when added and only the IDs are kept, each with the time it was verified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from typing import Any, Final

from litestar import Request
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.types import ASGIApp

from api.reservation.booking.credentials import (
    ResidentSession,
    issue_session_token,
    read_session_token,
)
from api.reservation.booking.deps import BookingContext
from web.resident.port import Holder, ResidentBookingPort

COOKIE: Final = "madoguchi_resident_session"
TOKEN: Final = "token"  # noqa: S105 - the name of a session key
_COOKIE_CONTEXT: Final = b"madoguchi resident page session v1"


def cookie_key(secret_key: str) -> bytes:
    """The cookie's AES-256-GCM key: derived from the zone's secret, for this use only."""
    return hmac.new(secret_key.encode(), _COOKIE_CONTEXT, hashlib.sha256).digest()


def resident_session_config(context: BookingContext) -> CookieBackendConfig:
    """The encrypted session cookie of the resident pages."""
    return CookieBackendConfig(
        secret=cookie_key(context.secret_key),
        key=COOKIE,
        max_age=context.settings.session_minutes * 60,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


class ResidentSessionMiddleware(SessionMiddleware[ClientSideSessionBackend]):
    """Litestar's session middleware on the encrypted cookie.

    It builds its backend from the config itself: a router's middleware definitions are
    deep-copied, and the backend's cipher cannot be.
    """

    def __init__(self, app: ASGIApp, config: CookieBackendConfig) -> None:
        super().__init__(app, backend=ClientSideSessionBackend(config=config))


def start_session(request: Request[Any, Any, Any], context: BookingContext, holder: Holder) -> None:
    """Begin a fresh session for ``holder`` (any earlier draft is dropped)."""
    token, _ = issue_session_token(
        context.secret_key,
        holder.reservation_id,
        holder.generation,
        context.settings.session_minutes * 60,
    )
    request.set_session({TOKEN: token, "since": dt.datetime.now(dt.UTC).isoformat()})


def _token_session(
    request: Request[Any, Any, Any], context: BookingContext
) -> ResidentSession | None:
    raw = request.session.get(TOKEN) if request.session else None
    return read_session_token(context.secret_key, raw) if isinstance(raw, str) else None


async def current_holder(
    request: Request[Any, Any, Any], context: BookingContext, port: ResidentBookingPort
) -> Holder | None:
    """The logged-in resident, or None (an ended or forged session is cleared).

    A token past half its lifetime is re-issued, so an active resident is not logged out
    in the middle of booking; a logout anywhere still ends it (the generation check).
    """
    token = _token_session(request, context)
    if token is None:
        if request.session:
            request.clear_session()
        return None
    holder = Holder(token.reservation_id, token.generation)
    if not await port.is_current(holder):
        request.clear_session()
        return None
    lifetime = context.settings.session_minutes * 60
    if token.expires_at - time.time() < lifetime / 2:
        renewed, _ = issue_session_token(
            context.secret_key, holder.reservation_id, holder.generation, lifetime
        )
        request.session[TOKEN] = renewed
    return holder
