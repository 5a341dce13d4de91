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

HEADERS = [
    "製造管理番号",
    "申請書ID",
    "発送番号",
    "氏名",
    "氏名カナ",
    "生年月日",
    "性別",
    "郵便番号",
    "住所",
    "方書",
    "署名用電子証明書",
    "利用者証明用電子証明書",
    "カード有効期限",
]
VALID = {
    "製造管理番号": "A1B-123456",
    "申請書ID": "00123456789012345678901",
    "発送番号": "9012345678123",
    "氏名": "見本\u3000太郎",
    "氏名カナ": "ミホン\u3000タロウ",
    "生年月日": "1985-02-14",
    "性別": "1",
    "郵便番号": "000-0001",
    "住所": "見本県デモ市見本町1丁目2番3号",
    "方書": "",
    "署名用電子証明書": "有",
    "利用者証明用電子証明書": "無",
    "カード有効期限": "2035-02-14",
}


def quote(cell: str) -> str:
    if any(special in cell for special in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def card_list(*rows: dict[str, str], headers: list[str] | None = None) -> bytes:
    """A small UTF-8 card list: each row is VALID with some cells changed."""
    headers = headers or HEADERS
    lines = [",".join(headers)]
    for row in rows:
        cells = {**VALID, **row}
        lines.append(",".join(quote(cells.get(header, "")) for header in headers))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


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
