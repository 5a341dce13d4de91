"""Signed-in staff clients for HTTP tests: a real account, a real login, a real session.

Routes are guarded for real in every test app; a test that calls staff routes signs in
as a member of staff holding the permissions it needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.identity.cli import create_account_with_role
from api.core.identity.permissions import ZONE_PERMISSIONS
from api.core.settings import Zone, ZoneSettings
from api.core.tables import CoreTables

# Staff cookies are Secure: the client must speak https for the session to come back.
BASE_URL = "https://testserver.local"
STAFF_PASSWORD = "correct horse battery staple"
PEER_HEADER = b"x-test-peer"


def loopback_peer(app: Litestar) -> None:
    """Startup hook: requests come from 127.0.0.1 (or ``x-test-peer``), not "testclient".

    Litestar's test client names its peer "testclient", which no staff network contains.
    """

    inner: ASGIApp = app.asgi_handler

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(PEER_HEADER, b"127.0.0.1").decode()
            scope["client"] = (peer, 50000)
        await inner(scope, receive, send)

    app.asgi_handler = wrapper


async def create_staff_account(
    url: str,
    settings: ZoneSettings,
    tables: CoreTables,
    login_id: str,
    permissions: Iterable[str],
) -> None:
    """Create an account (password already chosen) holding a role with ``permissions``."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await create_account_with_role(
                session,
                tables,
                settings,
                login_id=login_id,
                display_name=login_id.title(),
                password=STAFF_PASSWORD,
                role_name=f"role-of-{login_id}",
                role_description="",
                permissions=permissions,
            )
    finally:
        await engine.dispose()


@asynccontextmanager
async def signed_in_client(
    app: Litestar,
    url: str,
    settings: ZoneSettings,
    tables: CoreTables,
    *,
    permissions: Iterable[str] | None = None,
    login_id: str = "tester",
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of ``app`` signed in as staff; by default holding every permission of the zone.

    The client sends the CSRF token on every request, as the staff console does.
    """
    zone: Zone = settings.zone
    held = [p.value for p in ZONE_PERMISSIONS[zone]] if permissions is None else list(permissions)
    app.on_startup.append(loopback_peer)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        await create_staff_account(url, settings, tables, login_id, held)
        response = await client.post(
            "/api/staff/login", json={"login_id": login_id, "password": STAFF_PASSWORD}
        )
        assert response.status_code in {200, 201}, response.text
        token = client.cookies.get(f"madoguchi_{zone.value}_csrf")
        if token is None:
            await client.get("/api/staff/me")
            token = client.cookies.get(f"madoguchi_{zone.value}_csrf")
        assert token is not None
        client.headers["x-csrftoken"] = token
        yield client
