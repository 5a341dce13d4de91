"""The wiring both zones share: database, health probes, metrics, errors, logging, OpenAPI.

One plugin registers it, so the two apps differ only in what they add.
"""

from __future__ import annotations

import gc

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins import InitPluginProtocol

from api.core.audit import AuditPlugin
from api.core.database import create_sqlalchemy_config
from api.core.errors import exception_handlers
from api.core.health import HealthController
from api.core.identity.guards import AUTHENTICATED
from api.core.identity.plugin import IdentityPlugin
from api.core.logging import configure_logging, request_log_middleware, request_logger
from api.core.metrics import MetricsController, count_requests
from api.core.settings import ZoneSettings
from api.core.tables import CoreTables

__version__ = "0.1.0"
OPENAPI_PATH = "/api/docs"


def _log_every_request(app: Litestar) -> None:
    # Litestar middleware runs only for matched routes; wrapping the app's ASGI handler
    # logs (and gives a request id to) every request, 404s and refusals included.
    if not getattr(app.asgi_handler, "logs_requests", False):
        settings: ZoneSettings = app.state["settings"]
        app.asgi_handler = request_log_middleware(app.asgi_handler, request_logger(settings))


def _count_every_request(app: Litestar) -> None:
    # Like the request log: around the whole app, so refusals by middleware count too.
    if not getattr(app.asgi_handler, "counts_requests", False):
        settings: ZoneSettings = app.state["settings"]
        app.asgi_handler = count_requests(app.asgi_handler, settings.zone.value)


def _freeze_startup_objects(_: Litestar) -> None:
    # Everything made so far (modules, routes, signature models, mappers) lives as long as
    # the process: moved out of the collector's generations, the full collections that
    # the requests' allocations trigger no longer walk it each time.
    gc.freeze()


class CorePlugin(InitPluginProtocol):
    """Registers the shared pieces of a zone's Litestar app."""

    def __init__(
        self,
        settings: ZoneSettings,
        database_url: str,
        tables: CoreTables,
        *,
        null_pool: bool = False,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.database_url = database_url
        self.null_pool = null_pool
        self.database = create_sqlalchemy_config(
            settings.zone,
            database_url,
            pool_size=settings.database_pool_size,
            null_pool=null_pool,
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add database, probes, metrics, error handlers, request logging and OpenAPI."""
        configure_logging(self.settings)
        zone = self.settings.zone.value
        app_config.debug = self.settings.debug
        # Logging is configured above, once, for structlog and the standard library alike.
        app_config.logging_config = None
        app_config.openapi_config = OpenAPIConfig(
            title=f"Madoguchi {zone} zone",
            version=__version__,
            path=OPENAPI_PATH,
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            # The API's description is for staff: it needs a session like any staff route.
            openapi_router=Router(
                OPENAPI_PATH, route_handlers=[], opt={AUTHENTICATED: True}, include_in_schema=False
            ),
        )
        app_config.plugins.append(SQLAlchemyPlugin(config=self.database))
        app_config.plugins.append(IdentityPlugin(self.settings, self.tables, self.database))
        app_config.plugins.append(
            AuditPlugin(
                zone,
                self.database_url,
                self.tables.access_log,
                null_pool=self.null_pool,
                trusted_proxies=self.settings.trusted_proxies,
            )
        )
        app_config.route_handlers.extend([HealthController, MetricsController])
        app_config.exception_handlers = {**exception_handlers, **app_config.exception_handlers}
        app_config.on_startup.append(_log_every_request)
        app_config.on_startup.append(_count_every_request)
        app_config.on_startup.append(_freeze_startup_objects)
        app_config.dependencies["zone_name"] = Provide(lambda: zone, sync_to_thread=False)
        app_config.state["settings"] = self.settings
        app_config.state["tables"] = self.tables
        app_config.state["key_dir"] = self.settings.key_dir
        return app_config
