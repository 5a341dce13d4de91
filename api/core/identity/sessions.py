"""Server-side staff browser sessions: in PostgreSQL (the zone's ``StaffSession`` table) or Redis.

The cookie holds only a random id: HttpOnly, Secure, SameSite=Strict. The id is renewed
at login (no session fixation), nothing is stored for visitors who have no session, and
the row expires after the idle timeout (renewed at each request).
"""

from __future__ import annotations

from typing import Any, Final, cast

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar.session import SQLAlchemyAsyncSessionBackend
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.settings import ZoneSettings

# A key the login handler puts into the session: "give this session a new id".
RENEW_ID: Final = "_renew_id"
SESSION_STORE: Final = "staff_sessions"


def session_cookie_name(settings: ZoneSettings) -> str:
    """The session cookie's name; one per zone, as both zones may share a host name."""
    return f"madoguchi_{settings.zone.value}_session"


def session_config(settings: ZoneSettings) -> ServerSideSessionConfig:
    """The cookie and lifetime of staff sessions (lifetime = the idle timeout)."""
    return ServerSideSessionConfig(
        key=session_cookie_name(settings),
        max_age=settings.session_idle_minutes * 60,
        renew_on_access=True,
        secure=True,
        httponly=True,
        samesite="strict",
        store=SESSION_STORE,
        # Public routes (residents, probes) never read or write staff sessions.
        exclude_opt_key="public",
    )


async def _store_in_message(
    backend: ServerSideSessionBackend,
    scope_session: ScopeSession,
    message: Message,
    connection: ASGIConnection[Any, Any, Any, Any],
) -> None:
    config = backend.config
    store: Store = config.get_store_from_app(connection.scope["app"])
    headers = MutableScopeHeaders.from_message(message)
    cookie_params = dict(
        extract_dataclass_items(config, exclude_none=True, include=Cookie.__dict__.keys())
    )
    presented = connection.cookies.get(config.key)
    if presented == "null":
        presented = None
    if scope_session is Empty or not scope_session:
        if presented is not None:
            await backend.delete(presented, store=store)
            headers.add(
                "Set-Cookie",
                Cookie(value="null", key=config.key, expires=0, **cookie_params).to_header(
                    header=""
                ),
            )
        # A visitor without a session gets none: no row, no cookie.
        return
    data: dict[str, Any] = dict(cast("dict[str, Any]", scope_session))
    if data.pop(RENEW_ID, False) or presented is None:
        if presented is not None:
            await backend.delete(presented, store=store)
        session_id = backend.generate_session_id()
    else:
        session_id = presented
    await backend.set(session_id, backend.serialize_data(data, connection.scope), store=store)
    headers.add(
        "Set-Cookie", Cookie(value=session_id, key=config.key, **cookie_params).to_header(header="")
    )


class DatabaseSessionBackend(SQLAlchemyAsyncSessionBackend):
    """advanced-alchemy's PostgreSQL session backend, with id renewal at login."""

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        """Write the session (under a new id when asked) and set or clear its cookie."""
        await _store_in_message(self, scope_session, message, connection)


class StoreSessionBackend(ServerSideSessionBackend):
    """Litestar's store-backed session backend (Redis), with id renewal at login."""

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        """Write the session (under a new id when asked) and set or clear its cookie."""
        await _store_in_message(self, scope_session, message, connection)


def session_backend(
    settings: ZoneSettings, database: SQLAlchemyAsyncConfig, model: type[Any]
) -> tuple[ServerSideSessionBackend, dict[str, Store]]:
    """The backend for the zone's settings, and the stores it needs registered on the app."""
    config = session_config(settings)
    if not settings.redis_url:
        return DatabaseSessionBackend(config=config, alchemy_config=database, model=model), {}
    from litestar.stores.redis import RedisStore  # noqa: PLC0415 - only with Redis configured

    store = RedisStore.with_client(
        url=settings.redis_url, namespace=f"madoguchi_{settings.zone.value}_sessions"
    )
    return StoreSessionBackend(config=config), {SESSION_STORE: store}


_PRUNE_EXPIRED = text("DELETE FROM staff_sessions WHERE expires_at < now()")


async def prune_expired_sessions(session: AsyncSession) -> int:
    """Delete the zone's expired staff sessions (PostgreSQL store); return how many went.

    Called at each login, so the table never grows with sessions nobody can use again.
    """
    result = await session.execute(_PRUNE_EXPIRED)
    return int(getattr(result, "rowcount", 0) or 0)
