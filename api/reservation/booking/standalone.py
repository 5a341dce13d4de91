"""A reservation app with only what residents use at opening time, for load runs.

``uvicorn api.reservation.booking.standalone:create_app --factory --workers 2`` serves the
resident booking routes and the public availability routes (what a resident looks at
before choosing a slot) with the same core plugin as the zone app. Staff routes are left
out: the load runs play residents only.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State

from api.core.database import resolve_database_url
from api.core.metrics import METRICS_REFRESH
from api.core.plugin import CorePlugin
from api.core.settings import Zone, ZoneSettings, get_settings
from api.reservation.booking.alarm import refresh_failure_alarm
from api.reservation.booking.config import BookingSettings
from api.reservation.booking.controllers import ResidentController
from api.reservation.booking.deps import BOOKING_SETTINGS_STATE_KEY
from api.reservation.models import CORE_TABLES
from api.reservation.places.controllers import AvailabilityController


def create_app(
    settings: ZoneSettings | None = None,
    database_url: str | None = None,
    booking_settings: BookingSettings | None = None,
) -> Litestar:
    """Build the resident-only app; settings and URL default to the environment's."""
    settings = settings or get_settings(Zone.RESERVATION)
    url = database_url or resolve_database_url(settings)
    null_pool = database_url is not None
    app = Litestar(
        route_handlers=[ResidentController, AvailabilityController],
        # CorePlugin brings the access log, so resident login attempts are recorded.
        plugins=[CorePlugin(settings, url, CORE_TABLES, null_pool=null_pool)],
        state=State({METRICS_REFRESH: (refresh_failure_alarm,)}),
    )
    if booking_settings is not None:
        app.state[BOOKING_SETTINGS_STATE_KEY] = booking_settings
    return app
