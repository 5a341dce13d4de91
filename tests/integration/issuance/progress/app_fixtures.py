"""A test app with the progress and exchange routes, and a session that commits.

The client is signed in as staff holding every issuance permission; the guard is real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.plugin import CorePlugin
from api.core.settings import Zone
from api.issuance.exchange.controllers import exchange_route_handlers
from api.issuance.models import CORE_TABLES
from api.issuance.progress.controllers import progress_route_handlers
from tests.conftest import truncate_all
from tests.staff import signed_in_client
from tests.support import make_settings


def build_app(
    url: str, tmp_path: Path, handlers: Sequence[ControllerRouterHandler] | None = None
) -> Litestar:
    """An issuance app with ``handlers`` (default: the progress and exchange routes)."""
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    return Litestar(
        route_handlers=(
            list(handlers)
            if handlers is not None
            else [*progress_route_handlers(), *exchange_route_handlers()]
        ),
        plugins=[CorePlugin(settings, url, CORE_TABLES, null_pool=True)],
    )


async def staff_client(
    url: str, tmp_path: Path, handlers: Sequence[ControllerRouterHandler] | None = None
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client signed in as staff holding every issuance permission (tables emptied after)."""
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    app = build_app(url, tmp_path, handlers)
    async with signed_in_client(app, url, settings, CORE_TABLES) as client:
        yield client
    await truncate_all(url)


@pytest.fixture
async def progress_client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of an app with only this part's routes (tables emptied afterwards)."""
    async for client in staff_client(zone_database_urls[Zone.ISSUANCE], tmp_path):
        yield client


@pytest.fixture
async def committed_session(zone_database_urls: dict[Zone, str]) -> AsyncIterator[AsyncSession]:
    """A session whose commits the app sees (use with ``progress_client``, which cleans up)."""
    engine = create_async_engine(zone_database_urls[Zone.ISSUANCE], poolclass=NullPool)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await engine.dispose()
