"""``IdentityPlugin``: staff sessions, CSRF, terminal restriction, authentication, the one guard.

Both zones register it the same way (through ``CorePlugin``); the routes come along.
Middleware order, outermost first: sessions, then terminal restriction and authentication,
then CSRF (a refused terminal is logged before anything else is looked at).
"""

from __future__ import annotations

from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.plugins import InitPluginProtocol

from api.core.identity.admin_controllers import ADMIN_CONTROLLERS
from api.core.identity.controllers import AccessTokenController, StaffSessionController
from api.core.identity.deps import IDENTITY_DEPENDENCIES
from api.core.identity.guards import require_declared_access
from api.core.identity.middleware import StaffAuthenticationMiddleware, StaffCSRFMiddleware
from api.core.identity.sessions import session_backend
from api.core.secrets import resolve_secret_key
from api.core.settings import ZoneSettings
from api.core.tables import CoreTables

CONTROLLERS: tuple[type[Any], ...] = (
    StaffSessionController,
    AccessTokenController,
    *ADMIN_CONTROLLERS,
)


def csrf_config(settings: ZoneSettings) -> CSRFConfig:
    """CSRF tokens for the zone: signed with its secret key, sent back in a header or form."""
    return CSRFConfig(
        secret=resolve_secret_key(settings),
        cookie_name=f"madoguchi_{settings.zone.value}_csrf",
        cookie_secure=True,
        cookie_samesite="strict",
        # Pages read it to put into HTMX/fetch headers; it grants nothing by itself.
        cookie_httponly=False,
        header_name="x-csrftoken",
    )


class IdentityPlugin(InitPluginProtocol):
    """Registers staff identity on a zone's app (after ``CorePlugin``'s database plugin)."""

    def __init__(
        self, settings: ZoneSettings, tables: CoreTables, database: SQLAlchemyAsyncConfig
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.database = database
        self.csrf = csrf_config(settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add sessions, CSRF, terminal restriction, authentication, the guard and the routes."""
        backend, stores = session_backend(self.settings, self.database, self.tables.staff_session)
        if stores:
            # Only with Redis: the PostgreSQL backend needs no Litestar store.
            app_config.stores = {**(app_config.stores or {}), **stores}  # type: ignore[dict-item]
        app_config.middleware.extend(
            [
                DefineMiddleware(SessionMiddleware, backend=backend),
                StaffAuthenticationMiddleware(
                    settings=self.settings, tables=self.tables, database=self.database
                ),
                StaffCSRFMiddleware(self.csrf),
            ]
        )
        app_config.guards.append(require_declared_access)
        app_config.route_handlers.extend(CONTROLLERS)
        app_config.dependencies.update(IDENTITY_DEPENDENCIES)
        app_config.state.setdefault("settings", self.settings)
        app_config.state.setdefault("tables", self.tables)
        return app_config
