"""The reservation zone's Litestar application (internet-facing; pseudonymous data only).

The resident booking site (``web/``) is served at ``/``, the JSON APIs under ``/api/...``.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State

from api.core.database import resolve_database_url
from api.core.metrics import METRICS_REFRESH
from api.core.plugin import CorePlugin
from api.core.settings import Zone, ZoneSettings, get_settings
from api.reservation.booking.alarm import refresh_failure_alarm
from api.reservation.booking.controllers import booking_route_handlers
from api.reservation.exchange.controllers import exchange_route_handlers
from api.reservation.models import CORE_TABLES
from api.reservation.places.controllers import places_route_handlers
from web.resident.plugin import ResidentSitePlugin


def create_app(settings: ZoneSettings | None = None, database_url: str | None = None) -> Litestar:
    """Build the reservation zone app; settings and URL default to the environment's."""
    settings = settings or get_settings(Zone.RESERVATION)
    url = database_url or resolve_database_url(settings)
    return Litestar(
        route_handlers=[
            *booking_route_handlers(),
            *places_route_handlers(),
            *exchange_route_handlers(),
        ],
        plugins=[
            CorePlugin(settings, url, CORE_TABLES, null_pool=database_url is not None),
            ResidentSitePlugin(settings),
        ],
        state=State({METRICS_REFRESH: (refresh_failure_alarm,)}),
    )
