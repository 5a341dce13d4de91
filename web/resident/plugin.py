"""``ResidentSitePlugin``: the resident booking site on the reservation zone's app.

It adds the templates (unless the app has them already), static files, residents' own
session and CSRF protection, the security headers, and the pages. The booking engine is
reached through a port factory: ``(request, db_session, booking_context) -> port``;
the default is :class:`~web.resident.engine.EngineBookingPort`, the real engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from litestar import Request, Router
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import SkipValidation
from litestar.plugins import InitPluginProtocol
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.secrets import resolve_secret_key
from api.core.settings import ZoneSettings
from api.reservation.booking.config import cached_booking_settings
from api.reservation.booking.deps import BookingContext, provide_context
from web.resident.controllers import ResidentSiteController
from web.resident.engine import EngineBookingPort
from web.resident.own_booking import OwnBookingController
from web.resident.pages import PUBLIC_OPT, LoginNeeded, login_needed
from web.resident.port import Holder, ResidentBookingPort
from web.resident.session import (
    ResidentSessionMiddleware,
    current_holder,
    resident_session_config,
)
from web.resident.site import ResidentSiteConfig
from web.resident.wizard import BookingWizardController
from web.security import PageHeadersMiddleware
from web.templating import static_files_router, template_config

PortFactory = Callable[[Request[Any, Any, Any], AsyncSession, BookingContext], ResidentBookingPort]
CSRF_COOKIE: Final = "madoguchi_resident_csrf"
# Its own opt key: the staff CSRF middleware skips routes marked "exclude_from_csrf".
RESIDENT_CSRF_EXEMPT: Final = "resident_csrf_exempt"


def provide_context_for(settings: ZoneSettings) -> BookingContext:
    """The booking context of the zone's settings (as ``provide_context`` resolves it)."""
    return BookingContext(
        settings=cached_booking_settings(settings),
        secret_key=resolve_secret_key(settings),
        zone=settings,
    )


def engine_port(
    request: Request[Any, Any, Any], session: AsyncSession, context: BookingContext
) -> ResidentBookingPort:
    """The booking engine, as the pages call it."""
    return EngineBookingPort(request, session, context)


def site_globals(site: ResidentSiteConfig) -> dict[str, Any]:
    """What every page may show about the city."""
    return {
        "site_phone": site.phone,
        "site_hours": site.phone_hours,
        "site_timezone": site.timezone,
        "site_policy_date": site.policy_date,
    }


def resident_csrf_config(settings: ZoneSettings) -> CSRFConfig:
    """CSRF for resident forms: a token in each form, checked against an HttpOnly cookie."""
    return CSRFConfig(
        secret=resolve_secret_key(settings),
        cookie_name=CSRF_COOKIE,
        cookie_secure=True,
        cookie_httponly=True,
        cookie_samesite="strict",
        exclude_from_csrf_key=RESIDENT_CSRF_EXEMPT,
    )


def resident_site_route_handlers(
    settings: ZoneSettings,
    port_factory: PortFactory = engine_port,
    site: ResidentSiteConfig | None = None,
    context: BookingContext | None = None,
) -> list[Router]:
    """The resident pages and static files, with their session, CSRF and headers."""
    site = site or ResidentSiteConfig(timezone=settings.timezone)
    # The session cookie's key and lifetime come from the booking settings; an app that
    # configures them in its state (tests) passes its context in.
    session_context = context or provide_context_for(settings)

    def provide_booking_context(request: Request[Any, Any, Any]) -> BookingContext:
        return provide_context(request.app.state)

    def provide_port(
        request: Request[Any, Any, Any],
        db_session: NamedDependency[SkipValidation[AsyncSession]],
        booking_context: NamedDependency[SkipValidation[BookingContext]],
    ) -> ResidentBookingPort:
        return port_factory(request, db_session, booking_context)

    async def provide_maybe_holder(
        request: Request[Any, Any, Any],
        booking_context: NamedDependency[SkipValidation[BookingContext]],
        booking_port: NamedDependency[SkipValidation[ResidentBookingPort]],
    ) -> Holder | None:
        return await current_holder(request, booking_context, booking_port)

    async def provide_holder(
        maybe_holder: NamedDependency[SkipValidation[Holder | None]],
    ) -> Holder:
        # Every page of the booking flow needs a login: one place answers "log in first".
        if maybe_holder is None:
            raise LoginNeeded
        return maybe_holder

    pages = Router(
        path="/",
        route_handlers=[ResidentSiteController, BookingWizardController, OwnBookingController],
        opt=dict(PUBLIC_OPT),
        middleware=[
            PageHeadersMiddleware(),
            DefineMiddleware(
                ResidentSessionMiddleware, config=resident_session_config(session_context)
            ),
            DefineMiddleware(CSRFMiddleware, config=resident_csrf_config(settings)),
        ],
        dependencies={
            "booking_context": Provide(provide_booking_context, sync_to_thread=False),
            "booking_port": Provide(provide_port, sync_to_thread=False),
            "maybe_holder": Provide(provide_maybe_holder),
            "holder": Provide(provide_holder),
            "site": Provide(lambda: site, sync_to_thread=False, use_cache=True),
        },
        exception_handlers={LoginNeeded: login_needed},
        include_in_schema=False,
    )
    static = static_files_router(PUBLIC_OPT)
    return [pages, static]


class ResidentSitePlugin(InitPluginProtocol):
    """Registers the resident booking site on the reservation zone's app."""

    def __init__(
        self,
        settings: ZoneSettings,
        port_factory: PortFactory = engine_port,
        site: ResidentSiteConfig | None = None,
    ) -> None:
        self.settings = settings
        self.port_factory = port_factory
        self.site = site

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add templates and the resident routes (sessions need no store: see session.py)."""
        site = self.site or ResidentSiteConfig(timezone=self.settings.timezone)
        self.site = site
        if app_config.template_config is None:
            app_config.template_config = template_config(site_globals=site_globals(site))
        app_config.route_handlers.extend(
            resident_site_route_handlers(self.settings, self.port_factory, self.site)
        )
        return app_config
