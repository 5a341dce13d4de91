"""The residents HTTP API: upload, preview, apply, search, 外字 substitutions, errors."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.issuance.conftest import card_list

GAIJI = "\ue001"
SECOND = {
    "製造管理番号": "B2C-654321",
    "申請書ID": "00123456789012345678902",
    "発送番号": "777",
    "氏名": f"試験\u3000花{GAIJI}",
    "氏名カナ": "ｼｹﾝ ﾊﾅｺ",
    "生年月日": "昭和61年3月1日",
    "性別": "2",
}
Client = AsyncTestClient[Litestar]


async def _upload(client: Client, data: bytes) -> dict[str, object]:
    response = await client.post(
        "/api/card-imports",
        content=data,
        params={"file_name": "list.csv"},
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_upload_previews_then_apply_imports(residents_client: Client) -> None:
    preview = await _upload(residents_client, card_list({}, SECOND))

    assert (preview["status"], preview["new"], preview["gaiji"]) == ("previewed", 2, 1)
    assert (await residents_client.get("/api/residents")).json()["total"] == 0

    applied = await residents_client.post(f"/api/card-imports/{preview['id']}/apply")
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "applied"
    again = await residents_client.post(f"/api/card-imports/{preview['id']}/apply")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "card_import_not_applicable"
    assert (await residents_client.get("/api/residents")).json()["total"] == 2


async def test_bad_upload_lists_every_bad_row_and_cannot_be_applied(
    residents_client: Client,
) -> None:
    preview = await _upload(residents_client, card_list({"生年月日": "2001-02-30"}, SECOND))

    assert preview["status"] == "refused"
    assert [(p["line"], p["column"]) for p in preview["problems"]] == [(2, "生年月日")]  # type: ignore[union-attr, index]
    response = await residents_client.post(f"/api/card-imports/{preview['id']}/apply")
    assert response.status_code == 409
    assert set(response.json()["error"]) == {"status", "code", "message", "details", "request_id"}


async def test_an_upload_naming_a_path_as_its_profile_is_refused(residents_client: Client) -> None:
    response = await residents_client.post(
        "/api/card-imports",
        content=card_list({}),
        params={"profile": "../../../pyproject"},
        headers={"Content-Type": "text/csv"},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_profile"
    assert "default, example-city, example-positional" in error["message"]
    assert error["message"].count("import profile") == 1


async def test_search_is_width_and_spacing_insensitive(residents_client: Client) -> None:
    preview = await _upload(residents_client, card_list({}, SECOND))
    await residents_client.post(f"/api/card-imports/{preview['id']}/apply")

    async def found(**params: str) -> list[str]:
        response = await residents_client.get("/api/residents", params=params)
        assert response.status_code == 200, response.text
        return [item["reservation_id"] for item in response.json()["items"]]

    assert await found(reservation_id="ｂ２ｃ６５４３２１") == ["B2C-654321"]  # noqa: RUF001
    assert await found(shipment_no="７７７") == ["B2C-654321"]  # noqa: RUF001
    assert await found(application_id="00123456789012345678901") == ["A1B-123456"]
    assert await found(name="見本太郎") == ["A1B-123456"]
    assert await found(name="しけん　はな") == ["B2C-654321"]
    assert await found(name="ｼｹﾝﾊ") == ["B2C-654321"]
    assert await found(birth_date="S61.03.01") == ["B2C-654321"]
    assert await found(birth_date="1985-02-14", name="ミホン") == ["A1B-123456"]
    assert await found(has_gaiji="true") == ["B2C-654321"]
    bad = await residents_client.get("/api/residents", params={"birth_date": "2月30日"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_search")


async def test_gaiji_are_listed_and_substituted_for_display(residents_client: Client) -> None:
    preview = await _upload(residents_client, card_list({}, SECOND))
    await residents_client.post(f"/api/card-imports/{preview['id']}/apply")

    characters = (await residents_client.get("/api/gaiji/characters")).json()
    assert characters == [
        {
            "character": GAIJI,
            "code_point": "U+E001",
            "residents": 1,
            "replacement": None,
            "note": None,
        }
    ]
    put = await residents_client.put(
        "/api/gaiji/substitutions/U+E001", json={"replacement": "子", "note": "戸籍で確認"}
    )
    assert put.status_code == 200, put.text
    refused = await residents_client.put(
        "/api/gaiji/substitutions/U+E001", json={"replacement": "子", "extra": 1}
    )
    assert refused.status_code == 400
    resident = (await residents_client.get("/api/residents", params={"has_gaiji": "true"})).json()
    item = resident["items"][0]
    assert (item["name"], item["display_name"], item["unmapped_gaiji"]) == (
        f"試験\u3000花{GAIJI}",
        "試験\u3000花子",
        [],
    )


async def test_every_route_declares_its_permission_and_is_documented(
    residents_client: Client,
) -> None:
    app = residents_client.app
    permissions = {
        route.path: handler.opt.get("permission")
        for route in app.routes
        if route.path.startswith(("/api/card-imports", "/api/residents", "/api/gaiji"))
        for handler in getattr(route, "route_handlers", [])
        if "OPTIONS" not in handler.http_methods  # Litestar's automatic CORS answer
    }
    assert permissions
    assert set(permissions.values()) <= {"residents.read", "residents.import"}
    schema = (await residents_client.get("/api/docs/openapi.json")).json()
    assert "/api/card-imports/{import_id}/apply" in schema["paths"]


async def test_upload_with_a_nul_in_a_cell_is_refused_naming_the_row_not_a_server_error(
    residents_client: Client,
) -> None:
    preview = await _upload(residents_client, card_list({}, {**SECOND, "住所": "見本\x00町"}))

    assert preview["status"] == "refused"
    assert [(p["line"], p["column"], p["code"]) for p in preview["problems"]] == [  # type: ignore[union-attr, index]
        (3, "住所", "value.control_character")
    ]
    assert (await residents_client.get("/api/residents")).json()["total"] == 0
