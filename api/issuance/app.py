"""The issuance zone's Litestar application (intranet; holds the personal data)."""

from __future__ import annotations

from litestar import Litestar

from api.core.database import resolve_database_url
from api.core.plugin import CorePlugin
from api.core.settings import Zone, ZoneSettings, get_settings
from api.issuance.exchange.controllers import exchange_route_handlers
from api.issuance.locations.controllers import locations_route_handlers
from api.issuance.models import CORE_TABLES
from api.issuance.progress.controllers import progress_route_handlers
from api.issuance.residents.controllers import residents_route_handlers
from web.console.plugin import ConsolePlugin


def create_app(settings: ZoneSettings | None = None, database_url: str | None = None) -> Litestar:
    """Build the issuance zone app; settings and URL default to the environment's."""
    settings = settings or get_settings(Zone.ISSUANCE)
    url = database_url or resolve_database_url(settings)
    return Litestar(
        route_handlers=[
            *residents_route_handlers(),
            *progress_route_handlers(),
            *exchange_route_handlers(),
            *locations_route_handlers(),
        ],
        plugins=[
            CorePlugin(settings, url, CORE_TABLES, null_pool=database_url is not None),
            ConsolePlugin(settings),
        ],
    )
