"""A test app with the counter location and progress (letters) routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler

from api.core.settings import Zone
from api.issuance.locations.controllers import locations_route_handlers
from api.issuance.progress.controllers import progress_route_handlers
from tests.integration.issuance.progress.app_fixtures import build_app as issuance_app
from tests.integration.issuance.progress.app_fixtures import (  # noqa: F401 - a fixture
    committed_session,
    staff_client,
)


def handlers() -> list[ControllerRouterHandler]:
    """The counter location routes, and the progress routes (letters list the locations)."""
    return [*locations_route_handlers(), *progress_route_handlers()]


def build_app(url: str, tmp_path: Path) -> Litestar:
    """An issuance app with the counter location and progress routes."""
    return issuance_app(url, tmp_path, handlers())


@pytest.fixture
async def locations_client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """Signed in as staff holding every issuance permission (tables emptied afterwards)."""
    async for client in staff_client(zone_database_urls[Zone.ISSUANCE], tmp_path, handlers()):
        yield client
