"""Fixtures for the CSV codec tests: sample files and a small card list builder."""

# The example city's headers have full-width brackets, as its exports do.
# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# The column names of the bundled example city profile.
CITY_HEADERS = [
    "予約用ID",
    "申請書番号",
    "発送番号",
    "氏名（漢字）",
    "氏名（カナ）",
    "生年月日",
    "性別コード",
    "〒",
    "住所",
    "方書",
    "署名用",
    "利用者用",
]

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


def _quote(cell: str) -> str:
    if any(char in cell for char in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def build_card_list(
    rows: list[dict[str, str]],
    *,
    headers: list[str] | None = None,
    encoding: str = "utf-8",
    newline: str = "\r\n",
) -> bytes:
    """Return card list bytes: each row is VALID overridden by the given cells."""
    headers = HEADERS if headers is None else headers
    lines = [",".join(_quote(header) for header in headers)]
    for overrides in rows:
        cells = {**VALID, **overrides}
        lines.append(",".join(_quote(cells.get(header, "")) for header in headers))
    return (newline.join(lines) + newline).encode(encoding)


class CardListBuilder:
    """Callable fixture that builds card list bytes; also carries the default layout."""

    headers = HEADERS
    valid = VALID

    def __call__(self, rows: list[dict[str, str]], **options: str | list[str]) -> bytes:
        return build_card_list(rows, **options)  # type: ignore[arg-type]


@pytest.fixture
def card_list() -> CardListBuilder:
    """Return the card list builder (see ``build_card_list``)."""
    return CardListBuilder()


@pytest.fixture
def data_dir() -> Path:
    """Return the folder of sample files copied from /work/shared/formats/samples."""
    return DATA
