"""``AuditPlugin``: the access log's middleware, writer, routes and dependency, in one place."""

from __future__ import annotations

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.audit.controller import AccessLogController
from api.core.audit.middleware import access_log_middleware, is_wrapped
from api.core.audit.models import AccessLogMixin
from api.core.audit.recorder import (
    RUNTIME_STATE_KEY,
    AccessLogRuntime,
    AccessLogWriter,
)
from api.core.settings import Network


def create_access_log_engine(database_url: str, *, null_pool: bool = False) -> AsyncEngine:
    """The access log's own small engine: its writes never wait for the request pool."""
    if null_pool:
        return create_async_engine(database_url, poolclass=NullPool)
    # No pre-ping (three round trips per checkout); a connection broken by a database
    # restart fails one write, which the writer retries, and the pool is then renewed.
    return create_async_engine(database_url, pool_size=2, max_overflow=8, pool_recycle=1800)


class AuditPlugin(InitPluginProtocol):
    """Records staff requests, serves search and export, and lets code call ``record_event``.

    ``record_requests=False`` keeps the routes and ``record_event`` but records no
    requests (the benchmark's baseline). ``trusted_proxies`` (the zone's
    ``TRUSTED_PROXIES``) are believed when they name the client in ``X-Forwarded-For``.
    """

    def __init__(
        self,
        zone: str,
        database_url: str,
        model: type[AccessLogMixin],
        *,
        null_pool: bool = False,
        record_requests: bool = True,
        batch_size: int = 500,
        queue_size: int = 10_000,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        self.zone = zone
        self.database_url = database_url
        self.model = model
        self.null_pool = null_pool
        self.record_requests = record_requests
        self.batch_size = batch_size
        self.queue_size = queue_size
        self.trusted_proxies = trusted_proxies

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the routes and the start and stop hooks."""
        app_config.route_handlers.append(AccessLogController)
        app_config.on_startup.append(self._start)
        app_config.on_shutdown.append(self._stop)
        return app_config

    def _start(self, app: Litestar) -> None:
        # The engine is made here, in the loop that serves requests, not at import time.
        engine = create_access_log_engine(self.database_url, null_pool=self.null_pool)
        writer = AccessLogWriter(
            engine, self.model, queue_size=self.queue_size, batch_size=self.batch_size
        )
        writer.start()
        runtime = AccessLogRuntime(
            self.zone, self.model, writer, trusted_proxies=self.trusted_proxies
        )
        app.state[RUNTIME_STATE_KEY] = runtime
        # Wrapping the app's ASGI handler (not Litestar middleware, which runs inside
        # routing) lets the recorder see the final status of refusals and errors too.
        if self.record_requests and not is_wrapped(app.asgi_handler):
            app.asgi_handler = access_log_middleware(app.asgi_handler, runtime)

    async def _stop(self, app: Litestar) -> None:
        runtime = app.state.get(RUNTIME_STATE_KEY)
        if isinstance(runtime, AccessLogRuntime):
            await runtime.writer.stop()
            await runtime.engine.dispose()
