"""A test app with the counter location and progress (letters) routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.core.plugin import CorePlugin
from api.core.settings import Zone
from api.issuance.locations.controllers import locations_route_handlers
from api.issuance.models import CORE_TABLES
from api.issuance.progress.controllers import progress_route_handlers
from tests.conftest import truncate_all
from tests.integration.issuance.progress.app_fixtures import (  # noqa: F401 - fixtures
    committed_session,
)
from tests.staff import signed_in_client
from tests.support import make_settings


def build_app(url: str, tmp_path: Path) -> Litestar:
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    return Litestar(
        route_handlers=[*locations_route_handlers(), *progress_route_handlers()],
        plugins=[CorePlugin(settings, url, CORE_TABLES, null_pool=True)],
    )


@pytest.fixture
async def locations_client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """Signed in as staff holding every issuance permission (tables emptied afterwards)."""
    url = zone_database_urls[Zone.ISSUANCE]
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    async with signed_in_client(build_app(url, tmp_path), url, settings, CORE_TABLES) as client:
        yield client
    await truncate_all(url)
