"""The staff sync routes over HTTP: an eligibility bundle may exceed Litestar's default 10 MB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.core.plugin import CorePlugin
from api.core.settings import Zone, ZoneSettings
from api.reservation.exchange.controllers import MAX_SYNC_FILE_BYTES, exchange_route_handlers
from api.reservation.exchange.streams import key_dir
from api.reservation.models import CORE_TABLES
from sync_format import TrustStore, ZoneSecretKeys, init_keys
from sync_format.header import MAGIC
from tests.conftest import truncate_all
from tests.staff import signed_in_client
from tests.support import make_settings

ELIGIBILITY = "/api/staff/sync/eligibility"


@pytest.fixture
def settings(tmp_path: Path, issuance_keys: ZoneSecretKeys) -> ZoneSettings:
    """The zone's settings, with its keys made and the issuance zone's pinned."""
    zone_settings = make_settings(Zone.RESERVATION, tmp_path)
    directory = key_dir(zone_settings)
    init_keys(directory, "reservation")
    TrustStore([issuance_keys.public()]).save(directory)
    return zone_settings


@pytest.fixture
async def client(
    zone_database_urls: dict[Zone, str], settings: ZoneSettings
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    url = zone_database_urls[Zone.RESERVATION]
    app = Litestar(
        route_handlers=exchange_route_handlers(),
        plugins=[CorePlugin(settings, url, CORE_TABLES, null_pool=True)],
    )
    async with signed_in_client(app, url, settings, CORE_TABLES) as test_client:
        yield test_client
    await truncate_all(url)


async def test_an_eligibility_upload_over_litestars_default_10_mb_is_read(
    client: AsyncTestClient[Litestar],
) -> None:
    eleven_mib = MAGIC + bytes(11 << 20)

    answer = await client.post(
        ELIGIBILITY, files={"data": ("eligibility.bundle", eleven_mib, "application/octet-stream")}
    )

    # Refused for what it holds (zeros where the format version should be), not its size.
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["details"]["reason"]) == (
        "bundle_file_refused",
        "UnsupportedVersion",
    )


async def test_an_eligibility_upload_over_the_limit_is_refused_with_the_limit_named(
    client: AsyncTestClient[Litestar],
) -> None:
    # The announced size is enough: the route refuses before reading the body.
    answer = await client.post(
        ELIGIBILITY,
        content=b"--x--\r\n",
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(MAX_SYNC_FILE_BYTES + 1),
        },
    )

    assert answer.status_code == 413, answer.text
    error = answer.json()["error"]
    assert error["code"] == "too_large"
    assert error["message"] == (
        f"the uploaded file is larger than 256 MiB, the most {ELIGIBILITY} accepts"
    )
