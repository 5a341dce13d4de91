"""Test fixtures: a real PostgreSQL for every database test, never SQLite or a mock.

With ``TEST_DATABASE_URL`` set (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) the
tests use that server; otherwise they start the embedded one from ``pgserver`` under
``var/test-pg``. Each run creates its own two zone databases (named after the process, so
parallel runs do not collide), migrates them with the real migrations, and drops them at
the end. Each test runs inside a transaction that is rolled back (savepoints), so tests
see an empty schema and leave nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from advanced_alchemy.alembic.commands import AlembicCommands
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.database import (
    TRUNCATE_ON_PURPOSE,
    asyncpg_url,
    create_sqlalchemy_config,
    ensure_database,
    start_embedded_server,
)
from api.core.settings import Zone
from api.issuance.app import create_app as create_issuance_app
from api.reservation.app import create_app as create_reservation_app
from tests.staff import BASE_URL, loopback_peer
from tests.support import make_settings

ROOT = Path(__file__).resolve().parent.parent
# pgserver logs at exit, after pytest has closed the streams its handlers point to.
logging.getLogger("pgserver").setLevel(logging.WARNING)
T = TypeVar("T")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of the PostgreSQL server the tests use (an admin database on it)."""
    configured = os.environ.get("TEST_DATABASE_URL", "").strip()
    if configured:
        return configured
    return start_embedded_server(ROOT / "var" / "test-pg")


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(asyncpg_url(admin_url).replace("+asyncpg", ""))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def _in_own_thread(function: Callable[[], T]) -> T:
    # Alembic's env.py and the set-up below call asyncio.run(), which refuses to start
    # inside pytest-asyncio's running loop; a worker thread has no loop of its own.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function).result()


def _create_migrated_database(admin_url: str, zone: Zone) -> str:
    name = f"madoguchi_test_{zone.value}_{os.getpid()}"
    asyncio.run(drop_database(admin_url, name))
    url = asyncpg_url(admin_url, name)
    asyncio.run(ensure_database(url))
    AlembicCommands(create_sqlalchemy_config(zone, url, null_pool=True)).upgrade("head")
    return url


@pytest.fixture(scope="session")
def zone_database_urls(postgres_admin_url: str) -> Iterator[dict[Zone, str]]:
    """Fresh, migrated databases for both zones, dropped when the session ends."""
    urls = {
        zone: _in_own_thread(lambda zone=zone: _create_migrated_database(postgres_admin_url, zone))
        for zone in Zone
    }
    yield urls
    for zone in Zone:
        name = f"madoguchi_test_{zone.value}_{os.getpid()}"
        _in_own_thread(lambda name=name: asyncio.run(drop_database(postgres_admin_url, name)))


async def _engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def issuance_engine(zone_database_urls: dict[Zone, str]) -> AsyncIterator[AsyncEngine]:
    """Engine of the issuance test database (session-scoped loop)."""
    async for engine in _engine(zone_database_urls[Zone.ISSUANCE]):
        yield engine


@pytest.fixture(scope="session")
async def reservation_engine(zone_database_urls: dict[Zone, str]) -> AsyncIterator[AsyncEngine]:
    """Engine of the reservation test database (session-scoped loop)."""
    async for engine in _engine(zone_database_urls[Zone.RESERVATION]):
        yield engine


async def _rolled_back_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
async def issuance_session(issuance_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the issuance database whose work is rolled back after the test."""
    async for session in _rolled_back_session(issuance_engine):
        yield session


@pytest.fixture
async def reservation_session(reservation_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the reservation database whose work is rolled back after the test."""
    async for session in _rolled_back_session(reservation_engine):
        yield session


async def truncate_all(url: str) -> None:
    # App tests commit through the app's own engine, so they are cleaned by truncation.
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT LIKE 'alembic_version%'"
        )
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await connection.execute(
                f"{TRUNCATE_ON_PURPOSE}; TRUNCATE {names} RESTART IDENTITY CASCADE"
            )
    finally:
        await connection.close()


async def _client(app: Litestar, url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    # Anonymous, but from an office terminal (loopback) over https, like the staff console.
    app.on_startup.append(loopback_peer)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        yield client
    await truncate_all(url)


@pytest.fixture
async def issuance_client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A test client of the issuance app on the test database (tables emptied afterwards)."""
    url = zone_database_urls[Zone.ISSUANCE]
    async for client in _client(
        create_issuance_app(make_settings(Zone.ISSUANCE, tmp_path), url), url
    ):
        yield client


@pytest.fixture
async def reservation_client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A test client of the reservation app on the test database (tables emptied afterwards)."""
    url = zone_database_urls[Zone.RESERVATION]
    async for client in _client(
        create_reservation_app(make_settings(Zone.RESERVATION, tmp_path), url), url
    ):
        yield client


@pytest.fixture(params=list(Zone), ids=lambda zone: zone.value)
async def zone_client(
    request: pytest.FixtureRequest, zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[tuple[Zone, AsyncTestClient[Litestar]]]:
    """Each zone's test client in turn, for behaviour both apps share."""
    zone: Zone = request.param
    factory = create_issuance_app if zone is Zone.ISSUANCE else create_reservation_app
    url = zone_database_urls[zone]
    async for client in _client(factory(make_settings(zone, tmp_path), url), url):
        yield zone, client
