from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.core.settings import Zone
from api.issuance.app import create_app as create_issuance_app
from api.issuance.models import CORE_TABLES as ISSUANCE_TABLES
from api.reservation.app import create_app
from api.reservation.models import CORE_TABLES as RESERVATION_TABLES
from tests.conftest import truncate_all
from tests.staff import signed_in_client
from tests.support import make_settings


async def test_probes_answer_ok_when_database_is_up(
    zone_client: tuple[Zone, AsyncTestClient[Litestar]],
) -> None:
    zone, client = zone_client

    live = await client.get("/healthz")
    ready = await client.get("/readyz")

    assert live.status_code == 200
    assert live.json() == {"status": "ok", "zone": zone.value}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "zone": zone.value, "database": "ok"}
    assert len(live.headers["x-request-id"]) == 32


async def test_readyz_answers_503_when_database_is_unreachable(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback has no PostgreSQL: the probe must say so, not crash.
    app = create_app(
        make_settings(Zone.RESERVATION, tmp_path),
        "postgresql+asyncpg://nobody@127.0.0.1:9/nothing",
    )
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/readyz")
        live = await client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert live.status_code == 200


async def test_unknown_route_answers_the_stable_error_shape(
    issuance_client: AsyncTestClient[Litestar],
) -> None:
    response = await issuance_client.get("/no-such-page", headers={"x-request-id": "abcdef123456"})

    assert response.status_code == 404
    body = response.json()
    assert body["error"]["status"] == 404
    assert body["error"]["code"] == "not_found"
    assert body["error"]["request_id"] == "abcdef123456"


async def test_openapi_document_needs_a_staff_session(
    zone_client: tuple[Zone, AsyncTestClient[Litestar]],
) -> None:
    _, client = zone_client

    response = await client.get("/api/docs/openapi.json")

    assert response.status_code == 401


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
async def test_openapi_document_is_served_to_staff(
    zone: Zone, zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    url = zone_database_urls[zone]
    settings = make_settings(zone, tmp_path)
    factory, tables = (
        (create_issuance_app, ISSUANCE_TABLES)
        if zone is Zone.ISSUANCE
        else (create_app, RESERVATION_TABLES)
    )
    try:
        async with signed_in_client(factory(settings, url), url, settings, tables) as client:
            response = await client.get("/api/docs/openapi.json")
    finally:
        await truncate_all(url)

    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == f"Madoguchi {zone.value} zone"
    assert "/readyz" in document["paths"]
    assert "/api/staff/login" in document["paths"]


async def test_public_routes_set_no_staff_csrf_cookie(
    zone_client: tuple[Zone, AsyncTestClient[Litestar]],
) -> None:
    zone, client = zone_client

    public = await client.get("/healthz")
    staff = await client.get("/api/staff/me")

    cookie = f"madoguchi_{zone.value}_csrf"
    assert cookie not in public.headers.get("set-cookie", "")
    assert cookie in staff.headers.get("set-cookie", "")
