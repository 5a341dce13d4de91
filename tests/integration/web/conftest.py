"""A test client of the reservation zone's app (resident site included) on seeded data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.settings import Zone
from api.reservation.app import create_app
from tests.browser.seeding import ENVIRONMENT, seed_site
from tests.conftest import truncate_all
from tests.support import make_settings


@pytest.fixture
async def site_client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """HTTPS test client (Secure cookies are sent) of the app with demo data."""
    url = zone_database_urls[Zone.RESERVATION]
    engine = create_async_engine(url, poolclass=NullPool)
    async with async_sessionmaker(engine)() as session, session.begin():
        await seed_site(session)
    await engine.dispose()
    settings = make_settings(Zone.RESERVATION, tmp_path, **ENVIRONMENT)
    app = create_app(settings, url)
    try:
        async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
            yield client
    finally:
        await truncate_all(url)
