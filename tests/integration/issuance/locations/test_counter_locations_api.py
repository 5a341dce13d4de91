"""Staff keep the counter locations; letters list the active ones from the first day."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.identity.permissions import ZONE_PERMISSIONS, Permission
from api.core.settings import Zone
from api.issuance.models import CORE_TABLES
from api.issuance.progress.rules import Action
from tests.conftest import truncate_all
from tests.integration.issuance.locations.conftest import build_app
from tests.integration.issuance.progress.factories import add_residents, advance
from tests.staff import signed_in_client
from tests.support import make_settings

HONCHO = {
    "code": "HONCHO",
    "name": "デモ市役所 本庁舎 市民窓口センター",
    "address": "見本県デモ市中央1-1-1 本庁舎1階",
}
KITA = {"code": "KITA", "name": "デモ市 北支所", "address": "見本県デモ市北町2-3-4"}


async def test_letters_list_the_active_locations_staff_added_before_any_reservation_import(
    locations_client: AsyncTestClient[Litestar], committed_session: AsyncSession
) -> None:
    residents = await add_residents(committed_session, 1)
    await advance(committed_session, residents, Action.PRESETUP_DONE)
    await committed_session.commit()

    honcho = await locations_client.post("/api/locations", json=HONCHO)
    kita = await locations_client.post("/api/locations", json={**KITA, "active": False})
    letters = await locations_client.get("/api/notices/letters")
    sheet = await locations_client.get("/api/notices/letters.csv")

    assert (honcho.status_code, kita.status_code) == (201, 201), honcho.text + kita.text
    assert letters.json()["locations"] == [HONCHO]
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[1][-1] == HONCHO["name"]

    listed = await locations_client.patch("/api/locations/KITA", json={"active": True})
    assert listed.status_code == 200, listed.text
    letters = await locations_client.get("/api/notices/letters")
    sheet = await locations_client.get("/api/notices/letters.csv")
    assert [place["code"] for place in letters.json()["locations"]] == ["HONCHO", "KITA"]
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[1][-1] == f"{HONCHO['name']}、{KITA['name']}"


async def test_staff_list_create_and_change_locations_and_mistakes_are_refused(
    locations_client: AsyncTestClient[Litestar],
) -> None:
    created = await locations_client.post("/api/locations", json=KITA)
    again = await locations_client.post("/api/locations", json={**KITA, "name": "別名"})
    unknown_field = await locations_client.post("/api/locations", json={**HONCHO, "colour": "red"})
    bad_code = await locations_client.post("/api/locations", json={**HONCHO, "code": "本庁"})
    renamed = await locations_client.patch(
        "/api/locations/KITA", json={"name": "北支所 (改)", "active": False}
    )
    missing = await locations_client.patch("/api/locations/NOPE", json={"name": "x"})
    listed = await locations_client.get("/api/locations")

    assert created.status_code == 201
    assert created.json()["active"] is True
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "location_exists"
    assert (unknown_field.status_code, bad_code.status_code) == (400, 400)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "location_not_found"
    assert renamed.status_code == 200
    [kita] = listed.json()
    assert (kita["name"], kita["address"], kita["active"]) == (
        "北支所 (改)",
        KITA["address"],
        False,
    )
    assert kita["updated_by"] == "tester"


async def test_location_routes_refuse_staff_without_settings_manage(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    url = zone_database_urls[Zone.ISSUANCE]
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    held = [p.value for p in ZONE_PERMISSIONS[Zone.ISSUANCE] if p is not Permission.SETTINGS_MANAGE]
    try:
        async with signed_in_client(
            build_app(url, tmp_path), url, settings, CORE_TABLES, permissions=held
        ) as client:
            answers = [
                await client.get("/api/locations"),
                await client.post("/api/locations", json=KITA),
                await client.patch("/api/locations/KITA", json={"active": False}),
            ]
    finally:
        await truncate_all(url)

    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert answers[0].json()["error"]["details"] == {"permission": "settings.manage"}


def test_every_location_route_needs_settings_manage(tmp_path: Path) -> None:
    app = build_app("postgresql+asyncpg://unused/unused", tmp_path)
    permissions = [
        handler.opt.get("permission")
        for route in app.routes
        if route.path.startswith("/api/locations")
        for handler in getattr(route, "route_handlers", [])
        if "OPTIONS" not in handler.http_methods
    ]
    assert permissions == ["settings.manage"] * 3
