"""Fixtures of the residents tests: card list builders and a residents-only test app."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.core.plugin import CorePlugin
from api.core.settings import Zone
from api.issuance.demo_data import generate_residents
from api.issuance.models import CORE_TABLES
from api.issuance.residents.controllers import residents_route_handlers
from sync_format.csv import write_card_list
from tests.conftest import truncate_all
from tests.staff import signed_in_client
from tests.support import make_settings
from tests.unit.sync_format.csv.conftest import build_card_list


def card_list(*rows: dict[str, str], headers: list[str] | None = None) -> bytes:
    """A small UTF-8 card list: each row is VALID with some cells changed."""
    return build_card_list(list(rows), headers=headers)


def demo_card_list(count: int, seed: int = 1, encoding: str = "utf-8") -> bytes:
    """A card list of synthetic residents (mixed date forms, some 外字)."""
    buffer = io.BytesIO()
    write_card_list(
        buffer, [resident.row for resident in generate_residents(count, seed)], encoding=encoding
    )
    return buffer.getvalue()


@pytest.fixture
async def residents_client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of an app with the residents routes, signed in as staff with every permission."""
    url = zone_database_urls[Zone.ISSUANCE]
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    app = Litestar(
        route_handlers=residents_route_handlers(),
        plugins=[CorePlugin(settings, url, CORE_TABLES, null_pool=True)],
    )
    try:
        async with signed_in_client(app, url, settings, CORE_TABLES) as client:
            yield client
    finally:
        await truncate_all(url)
