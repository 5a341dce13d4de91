"""Fixtures of the booking tests: committed places and eligibilities, and a booking app.

The app commits through its own engine, so these tests write committed rows and the
tables are emptied afterwards (``reservation_client``'s way), not rolled back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.identity.passwords import PasswordPolicy
from api.core.identity.services import AccountService, RoleService
from api.core.identity.tokens import TokenService
from api.core.metrics import METRICS_REFRESH
from api.core.plugin import CorePlugin
from api.core.settings import Zone
from api.reservation.booking.alarm import refresh_failure_alarm
from api.reservation.booking.config import BookingSettings
from api.reservation.booking.controllers import booking_route_handlers
from api.reservation.booking.credentials import password_verifier
from api.reservation.booking.deps import BOOKING_SETTINGS_STATE_KEY
from api.reservation.booking.rate_limit import WINDOW_SECONDS
from api.reservation.models import CORE_TABLES
from tests.conftest import truncate_all
from tests.staff import loopback_peer
from tests.support import make_settings

PASSWORD_KEY = b"test-password-key-0123456789abcdef"
TZ_NAME = "Asia/Tokyo"


def booking_settings(**overrides: Any) -> BookingSettings:
    values: dict[str, Any] = {
        "password_key": PASSWORD_KEY,
        "login_rate_limit": 1000,
        "alarm_failures_per_minute": 1000,
    }
    values.update(overrides)
    return BookingSettings(**values)


async def inside_one_rate_window(seconds_needed: float = 5.0) -> None:
    """Wait, if need be, for a fresh rate-limit window, so that a test's attempts share one.

    Login limits and the failure alarm count in fixed windows of ``WINDOW_SECONDS`` on the
    database's clock (this machine's): attempts that straddle a window's end count in two.
    """
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < seconds_needed:
        await asyncio.sleep(left + 0.1)


def rid(number: int) -> str:
    return f"T01-{number:06d}"


def password_of(number: int) -> str:
    return f"{number % 12 + 1:02d}{number % 28 + 1:02d}"


async def staff_token(url: str, tmp_path: Path, login_id: str, *permissions: str) -> dict[str, str]:
    """A staff account holding ``permissions`` and an access token of it, as headers."""
    zone = make_settings(Zone.RESERVATION, tmp_path)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            accounts = AccountService.for_zone(session, CORE_TABLES)
            roles = RoleService.for_zone(session, CORE_TABLES)
            account = await accounts.create_account(
                login_id=login_id,
                display_name=login_id.title(),
                password="correct horse battery staple",
                policy=PasswordPolicy(min_length=8, history=5),
                must_change_password=False,
            )
            role = await roles.create({"name": f"role-of-{login_id}", "description": ""})
            await roles.set_permissions(role, permissions, zone)
            session.add(CORE_TABLES.account_role(account_id=account.id, role_id=role.id))
            await session.flush()
            _, secret = await TokenService.for_zone(session, CORE_TABLES).issue(
                owner=account,
                owner_permissions=frozenset(permissions),
                name="test",
                permissions=permissions,
                days=1,
            )
            await session.commit()
    finally:
        await engine.dispose()
    return {"authorization": f"Bearer {secret}"}


@dataclass
class Places:
    """Committed test data on the reservation database, through asyncpg."""

    dsn: str
    slots: dict[str, int] = field(default_factory=dict)

    async def run(self, query: str, *arguments: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.dsn)
        try:
            return list(await connection.fetch(query, *arguments))
        finally:
            await connection.close()

    async def add_slot(
        self, name: str, starts_at: dt.datetime, *, online: int = 2, staff: int = 1
    ) -> int:
        rows = await self.run(
            "INSERT INTO locations (code, name, address, access_notes, created_at, updated_at) "
            "VALUES ('TEST', 'Test office', '', '', now(), now()) "
            "ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id"
        )
        location_id = rows[0]["id"]
        rows = await self.run(
            "INSERT INTO slots (location_id, starts_at, ends_at, online_capacity, staff_capacity, "
            "online_booked, staff_booked, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, 0, 0, now(), now()) RETURNING id",
            location_id,
            starts_at,
            starts_at + dt.timedelta(minutes=30),
            online,
            staff,
        )
        self.slots[name] = rows[0]["id"]
        return int(rows[0]["id"])

    async def add_eligible(self, *numbers: int, revoked: bool = False) -> None:
        await self.run(
            "INSERT INTO eligibilities (reservation_id, shipment_no, password_verifier, "
            "revoked_at, created_at, updated_at) "
            "SELECT r, 'S' || right(r, 6), v, CASE WHEN $3 THEN now() END, now(), now() "
            "FROM unnest($1::varchar[], $2::varchar[]) AS t(r, v)",
            [rid(n) for n in numbers],
            [password_verifier(PASSWORD_KEY, rid(n), password_of(n)) for n in numbers],
            revoked,
        )

    async def slot(self, name: str) -> asyncpg.Record:
        return (await self.run("SELECT * FROM slots WHERE id = $1", self.slots[name]))[0]


def slot_time(days_ahead: int, hour: int = 10) -> dt.datetime:
    tz = ZoneInfo(TZ_NAME)
    day = dt.datetime.now(tz).date() + dt.timedelta(days=days_ahead)
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=tz)


@pytest.fixture
async def places(zone_database_urls: dict[Zone, str]) -> AsyncIterator[Places]:
    url = zone_database_urls[Zone.RESERVATION]
    yield Places(url.replace("+asyncpg", ""))
    await truncate_all(url)


def build_app(url: str, tmp_path: Path, settings: BookingSettings) -> Litestar:
    zone = make_settings(Zone.RESERVATION, tmp_path)
    app = Litestar(
        route_handlers=booking_route_handlers(),
        # CorePlugin brings the access log and staff identity (guard, middleware) with it.
        plugins=[CorePlugin(zone, url, CORE_TABLES, null_pool=True)],
        on_startup=[loopback_peer],
    )
    app.state[BOOKING_SETTINGS_STATE_KEY] = settings
    app.state[METRICS_REFRESH] = (refresh_failure_alarm,)  # as the zone's app has it
    return app


@pytest.fixture
def settings_override() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(
    zone_database_urls: dict[Zone, str],
    tmp_path: Path,
    places: Places,
    settings_override: dict[str, Any],
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    url = zone_database_urls[Zone.RESERVATION]
    app = build_app(url, tmp_path, booking_settings(**settings_override))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def log_in(client: AsyncTestClient[Litestar], number: int) -> dict[str, str]:
    response = await client.post(
        "/api/resident/login", json={"reservation_id": rid(number), "password": password_of(number)}
    )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['session_token']}"}


@pytest.fixture
async def staff(zone_database_urls: dict[Zone, str], tmp_path: Path, client: Any) -> dict[str, str]:
    """Headers of a member of staff (``tanaka``) holding ``reservations.proxy``."""
    return await staff_token(
        zone_database_urls[Zone.RESERVATION], tmp_path, "tanaka", "reservations.proxy"
    )
