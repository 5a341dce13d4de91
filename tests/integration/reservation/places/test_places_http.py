"""The places and exchange routes over HTTP: declared access, settings, availability."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.core.plugin import CorePlugin
from api.core.settings import Zone
from api.reservation.exchange.controllers import exchange_route_handlers
from api.reservation.models import CORE_TABLES
from api.reservation.places.controllers import places_route_handlers
from tests.conftest import truncate_all
from tests.staff import signed_in_client
from tests.support import make_settings

MY_PREFIXES = (
    "/api/locations",
    "/api/staff/locations",
    "/api/staff/reservations",
    "/api/staff/sync",
)


def build_app(url: str, tmp_path: Path) -> Litestar:
    settings = make_settings(Zone.RESERVATION, tmp_path)
    return Litestar(
        route_handlers=[*places_route_handlers(), *exchange_route_handlers()],
        plugins=[CorePlugin(settings, url, CORE_TABLES, null_pool=True)],
    )


@pytest.fixture
async def client(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    url = zone_database_urls[Zone.RESERVATION]
    settings = make_settings(Zone.RESERVATION, tmp_path)
    app = build_app(url, tmp_path)
    async with signed_in_client(app, url, settings, CORE_TABLES) as test_client:
        yield test_client
    await truncate_all(url)


def test_every_route_declares_who_may_call_it(tmp_path: Path) -> None:
    app = build_app("postgresql+asyncpg://unused/unused", tmp_path)
    mine = [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if handler.handler_name != "options_handler" and str(route.path).startswith(MY_PREFIXES)
    ]
    assert mine
    for handler in mine:
        opt = handler.opt
        assert opt.get("public") or opt.get("permission") in {
            "settings.manage",
            "reservations.read",
            "sync.import",
            "sync.export",
        }, handler.handler_name
        if str(handler.paths).startswith("{'/api/staff"):
            assert not opt.get("public")


async def test_settings_then_availability_over_http(client: AsyncTestClient[Litestar]) -> None:
    created = await client.post(
        "/api/staff/locations", json={"code": "KITA", "name": "北支所", "address": "北町2-3-4"}
    )
    assert created.status_code == 201, created.text
    hours = await client.put(
        "/api/staff/locations/KITA/hours",
        json={
            "days": [
                {"weekday": d, "opens_at": "09:00:00", "closes_at": "12:00:00"} for d in range(7)
            ]
        },
    )
    assert hours.status_code == 200, hours.text
    assert hours.json()["created"] > 0
    unknown = await client.post("/api/staff/locations", json={"code": "X", "name": "x", "bad": 1})
    assert unknown.status_code == 400

    later = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)
    month = await client.get(
        "/api/locations/KITA/availability", params={"month": later.strftime("%Y-%m")}
    )
    assert month.status_code == 200, month.text
    assert any(day["status"] in {"open", "closed"} for day in month.json()["days"])
    day = await client.get(f"/api/locations/KITA/days/{later.isoformat()}")
    assert day.status_code == 200
    missing = await client.get("/api/locations/NOPE/availability", params={"month": "2027-01"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "location_not_found"
    listed = await client.get("/api/locations")
    assert [item["code"] for item in listed.json()["items"]] == ["KITA"]
