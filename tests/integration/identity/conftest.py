"""A zone app with CorePlugin (identity and access log included) on the test database.

``tests.staff.loopback_peer`` sets the connecting peer's address from the ``x-test-peer``
header (Litestar's test client always says "testclient"), so tests can act from inside or
outside the staff networks, or as the TLS proxy.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.identity.guards import PERMISSION
from api.core.identity.passwords import PasswordPolicy
from api.core.identity.permissions import Permission
from api.core.identity.services import AccountService, RoleService
from api.core.plugin import CorePlugin
from api.core.settings import Zone, ZoneSettings, get_settings
from api.core.tables import CoreTables
from api.issuance.models import CORE_TABLES as ISSUANCE_TABLES
from api.reservation.models import CORE_TABLES as RESERVATION_TABLES
from tests.conftest import truncate_all
from tests.staff import loopback_peer
from tests.support import make_settings

BASE_URL = "https://testserver.local"
PASSWORD = "correct horse battery staple"


def _tables(zone: Zone) -> CoreTables:
    return ISSUANCE_TABLES if zone is Zone.ISSUANCE else RESERVATION_TABLES


def _probe_route(permission: Permission) -> Any:
    @get(
        f"/test/probe/{permission.value}", opt={PERMISSION: permission.value}, sync_to_thread=False
    )
    def probe() -> dict[str, str]:
        return {"permission": permission.value}

    return probe


@get("/test/public", opt={"public": True}, sync_to_thread=False)
def public_probe() -> dict[str, str]:
    return {"public": "yes"}


@get("/test/undeclared", sync_to_thread=False)
def undeclared_probe() -> dict[str, str]:
    return {"undeclared": "yes"}


def build_app(
    zone: Zone, settings: ZoneSettings, url: str, *, extra_routes: bool = True
) -> Litestar:
    """The zone's core wiring (CorePlugin brings identity and the access log), plus probes."""
    routes: list[Any] = []
    if extra_routes:
        routes = [_probe_route(permission) for permission in Permission]
        routes += [public_probe, undeclared_probe]
    return Litestar(
        route_handlers=routes,
        plugins=[CorePlugin(settings, url, _tables(zone), null_pool=True)],
        on_startup=[loopback_peer],
    )


@dataclass
class StaffApp:
    """A running zone app, its client and direct database access for arranging tests."""

    zone: Zone
    client: AsyncTestClient[Litestar]
    settings: ZoneSettings
    engine: AsyncEngine
    tables: CoreTables
    csrf_cookie: str = field(init=False)

    def __post_init__(self) -> None:
        self.csrf_cookie = f"madoguchi_{self.zone.value}_csrf"
        self.session_cookie = f"madoguchi_{self.zone.value}_session"

    async def run(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        """Run ``work`` in a committed transaction of its own."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            result = await work(session)
            await session.commit()
            return result

    async def make_account(
        self,
        login_id: str,
        *,
        permissions: tuple[str, ...] = (),
        password: str = PASSWORD,
        must_change_password: bool = False,
        **fields: Any,
    ) -> int:
        """Create an account holding a role with ``permissions``; return its id."""

        async def work(session: AsyncSession) -> int:
            accounts = AccountService.for_zone(session, self.tables)
            roles = RoleService.for_zone(session, self.tables)
            account = await accounts.create_account(
                login_id=login_id,
                display_name=login_id.title(),
                password=password,
                policy=PasswordPolicy(min_length=8, history=5),
                must_change_password=must_change_password,
                **fields,
            )
            if permissions:
                role = await roles.create({"name": f"role-of-{login_id}", "description": ""})
                await roles.set_permissions(role, permissions, self.settings)
                held = self.tables.account_role
                session.add(held(account_id=account.id, role_id=role.id))
            return int(account.id)

        account_id: int = await self.run(work)
        return account_id

    async def update_account(self, login_id: str, **values: Any) -> None:
        """Change columns of an account directly in the database."""
        model: Any = self.tables.staff_account

        async def work(session: AsyncSession) -> None:
            account = await session.scalar(select(model).where(model.login_id == login_id))
            for name, value in values.items():
                setattr(account, name, value)

        await self.run(work)

    async def account(self, login_id: str) -> Any:
        """The account row as it is now."""
        model: Any = self.tables.staff_account

        async def work(session: AsyncSession) -> Any:
            return await session.scalar(select(model).where(model.login_id == login_id))

        return await self.run(work)

    async def log_entries(self) -> list[dict[str, Any]]:
        """Every access-log entry, oldest first."""

        async def work(session: AsyncSession) -> list[dict[str, Any]]:
            rows = await session.execute(
                text(
                    "SELECT actor, actor_kind, outcome, detail, terminal "
                    "FROM access_log ORDER BY sequence"
                )
            )
            return [dict(row._mapping) for row in rows]

        return await self.run(work)

    async def login(self, login_id: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
        """POST /api/staff/login as an API client would (JSON)."""
        headers = extra.pop("headers", {})
        return await self.client.post(
            "/api/staff/login",
            json={"login_id": login_id, "password": password, **extra},
            headers=headers,
        )

    async def csrf_headers(self) -> dict[str, str]:
        """Headers carrying the CSRF token (fetched with a GET when the cookie is missing)."""
        token = self.client.cookies.get(self.csrf_cookie)
        if token is None:
            await self.client.get("/api/staff/me")
            token = self.client.cookies.get(self.csrf_cookie)
        assert token is not None
        return {"x-csrftoken": token}


StaffAppFactory = Callable[..., Awaitable[StaffApp]]


@pytest.fixture
async def staff_app_factory(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[StaffAppFactory]:
    """Make a running app of a zone with settings overrides (cleaned up after the test)."""
    opened: list[tuple[AsyncTestClient[Litestar], AsyncEngine, str]] = []

    async def make(zone: Zone = Zone.ISSUANCE, **overrides: str) -> StaffApp:
        url = zone_database_urls[zone]
        settings = make_settings(zone, tmp_path, **overrides)
        client = AsyncTestClient(app=build_app(zone, settings, url), base_url=BASE_URL)
        await client.__aenter__()
        engine = create_async_engine(url, poolclass=NullPool)
        opened.append((client, engine, url))
        return StaffApp(zone, client, settings, engine, _tables(zone))

    yield make
    for client, engine, url in opened:
        await client.__aexit__(None, None, None)
        await engine.dispose()
        await truncate_all(url)


@pytest.fixture(params=list(Zone), ids=lambda zone: zone.value)
async def staff_app(request: pytest.FixtureRequest, staff_app_factory: StaffAppFactory) -> StaffApp:
    """Each zone's app in turn, with default settings."""
    return await staff_app_factory(request.param)


@pytest.fixture
async def issuance_app(staff_app_factory: StaffAppFactory) -> StaffApp:
    """The issuance zone's app with default settings."""
    return await staff_app_factory(Zone.ISSUANCE)


def today() -> dt.date:
    """Today in the counters' time zone (validity dates are office days)."""
    return dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()


def days_ago(days: int) -> dt.datetime:
    """A moment ``days`` days before now (UTC)."""
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def _invoke(group: click.Group, environment: dict[str, str], args: list[str], stdin: str) -> Any:
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(group, args, input=stdin)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def invoke_zone_cli(
    group: click.Group, zone: Zone, url: str, tmp_path: Path, args: list[str], stdin: str = ""
) -> Any:
    """Run a zone's command group on the test database (in a thread: it calls asyncio.run)."""
    environment = {f"{zone.value.upper()}_DATABASE_URL": url, "MADOGUCHI_VAR_DIR": str(tmp_path)}
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(_invoke, group, environment, args, stdin).result()
