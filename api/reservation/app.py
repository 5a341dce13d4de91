"""The reservation zone's Litestar application (internet-facing; pseudonymous data only)."""

from __future__ import annotations

from litestar import Litestar

from api.core.database import resolve_database_url
from api.core.plugin import CorePlugin
from api.core.settings import Zone, ZoneSettings, get_settings
from api.reservation.models import CORE_TABLES


def create_app(settings: ZoneSettings | None = None, database_url: str | None = None) -> Litestar:
    """Build the reservation zone app; settings and URL default to the environment's."""
    settings = settings or get_settings(Zone.RESERVATION)
    url = database_url or resolve_database_url(settings)
    return Litestar(
        plugins=[CorePlugin(settings, url, CORE_TABLES, null_pool=database_url is not None)]
    )
