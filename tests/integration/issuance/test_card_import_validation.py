"""Every bad-input case of FORMATS.md refuses the whole card list and names the row."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.models import Resident
from api.issuance.residents import importing, parts
from api.issuance.residents.importing import CardImportRefused, import_card_list
from api.issuance.residents.models import CardImport, ResidentHistory
from tests.integration.issuance.conftest import card_list
from tests.unit.sync_format.csv.conftest import HEADERS

SECOND = {"製造管理番号": "B2C-654321", "申請書ID": "00123456789012345678902"}


async def _count(session: AsyncSession, model: type = Resident) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _refused(session: AsyncSession, data: bytes) -> list[dict[str, object]]:
    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(session, data)
    assert await _count(session) == 0
    details: list[dict[str, object]] = refused.value.details
    return details


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("製造管理番号", "", "value.required"),
        ("製造管理番号", "A1B-12345", "value.malformed"),
        ("申請書ID", "0012345678901234567890", "value.malformed"),
        ("申請書ID", "", "value.required"),
        ("発送番号", "9012-3456", "value.malformed"),
        ("発送番号", "123456789012345678901", "value.malformed"),
        ("氏名", "  ", "value.required"),
        ("氏名カナ", "みほん たろう", "value.malformed"),
        ("生年月日", "2001-02-30", "value.bad_date"),
        ("生年月日", "平成32年1月1日", "value.bad_date"),
        ("生年月日", "昭和60年13月1日", "value.bad_date"),
        ("生年月日", "yesterday", "value.bad_date"),
        ("生年月日", "", "value.required"),
        ("性別", "3", "value.unknown_code"),
        ("性別", "", "value.required"),
        ("郵便番号", "251-860", "value.malformed"),
        ("住所", "", "value.required"),
        ("署名用電子証明書", "たぶん", "value.unknown_code"),
        ("利用者証明用電子証明書", "2", "value.unknown_code"),
        ("カード有効期限", "2035-02-29", "value.bad_date"),
    ],
)
async def test_a_bad_cell_refuses_the_file_and_names_row_column_and_value(
    issuance_session: AsyncSession, column: str, value: str, code: str
) -> None:
    problems = await _refused(issuance_session, card_list(SECOND, {column: value}))

    assert [(p["line"], p["column"], p["value"], p["code"]) for p in problems] == [
        (3, column, value, code)
    ]


async def test_same_reservation_id_with_different_content_is_bad(
    issuance_session: AsyncSession,
) -> None:
    problems = await _refused(
        issuance_session, card_list({}, {"申請書ID": "00123456789012345678902"})
    )

    assert [(p["line"], p["code"]) for p in problems] == [(3, "row.duplicate_conflict")]


async def test_same_row_twice_is_imported_once_with_a_warning(
    issuance_session: AsyncSession,
) -> None:
    report = await import_card_list(issuance_session, card_list({}, {}))

    assert (report.new, [w.code for w in report.warnings]) == (1, ["row.duplicate_identical"])


async def test_application_id_twice_in_the_file_is_bad(issuance_session: AsyncSession) -> None:
    problems = await _refused(issuance_session, card_list({}, {"製造管理番号": "B2C-654321"}))

    assert [(p["line"], p["code"]) for p in problems] == [(3, "row.application_id_duplicate")]


async def test_application_id_of_another_card_is_bad(issuance_session: AsyncSession) -> None:
    await import_card_list(issuance_session, card_list({}))

    problems = await _refused_after_first(issuance_session)

    assert [(p["line"], p["code"]) for p in problems] == [(2, "row.application_id_taken")]


async def test_a_changed_row_taking_another_cards_application_id_is_bad(
    issuance_session: AsyncSession,
) -> None:
    second = {"製造管理番号": "B2C-654321", "申請書ID": "00123456789012345678902"}
    await import_card_list(issuance_session, card_list({}, second))
    unchanged = await import_card_list(
        issuance_session, card_list({}, second), same_file_shortcut=False
    )
    assert (unchanged.unchanged, unchanged.problems) == (2, [])

    with pytest.raises(CardImportRefused) as refused:
        # Card B2C-654321 now names A1B-123456's application ID (A is not in this file).
        await import_card_list(
            issuance_session, card_list({**second, "申請書ID": "00123456789012345678901"})
        )

    assert [(p["line"], p["code"]) for p in refused.value.details] == [
        (2, "row.application_id_taken")
    ]


async def _refused_after_first(session: AsyncSession) -> list[dict[str, object]]:
    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(session, card_list({"製造管理番号": "B2C-654321"}))
    return list(refused.value.details)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (card_list({}, headers=[h for h in HEADERS if h != "生年月日"]), "header.missing_column"),
        (card_list({}, headers=[*HEADERS, "氏名"]), "header.duplicate_column"),
        (card_list({})[:-2] + b",x\r\n", "row.wrong_cell_count"),
        (card_list({}).replace(b"A1B-123456", b'"A1B-123456'), "file.malformed_csv"),
        (b"", "file.empty"),
        (codecs.BOM_UTF16_LE + "製造管理番号".encode("utf-16-le"), "file.unsupported_encoding"),
        (b"\xff\xfe\xfd\x80\x81 not text", "file.unsupported_encoding"),
    ],
    ids=[
        "missing column",
        "duplicate column",
        "wrong cell count",
        "broken quoting",
        "empty file",
        "UTF-16",
        "undecodable bytes",
    ],
)
async def test_file_level_problems_refuse_the_file(
    issuance_session: AsyncSession, data: bytes, code: str
) -> None:
    problems = await _refused(issuance_session, data)

    assert code in [p["code"] for p in problems]


async def test_header_only_file_imports_nothing_and_warns(issuance_session: AsyncSession) -> None:
    report = await import_card_list(issuance_session, card_list())

    assert (report.rows, report.new, report.problems) == (0, 0, [])
    assert [w.code for w in report.warnings] == ["file.no_rows"]
    assert await _count(issuance_session) == 0


async def test_unknown_column_is_a_warning_and_quoted_line_breaks_are_kept(
    issuance_session: AsyncSession,
) -> None:
    data = card_list(
        {"住所": "見本県デモ市\n見本町1-2\t3", "備考": "x"}, headers=[*HEADERS, "備考"]
    )

    report = await import_card_list(issuance_session, data)

    assert [w.code for w in report.warnings] == ["header.unknown_column"]
    address = await issuance_session.scalar(select(Resident.address))
    assert address == "見本県デモ市\n見本町1-2\t3"


async def test_a_preview_of_a_bad_file_lists_every_bad_row_and_records_the_refusal(
    issuance_session: AsyncSession,
) -> None:
    data = card_list({}, {**SECOND, "生年月日": "2001-02-30", "性別": "9"})

    report = await import_card_list(issuance_session, data, refuse=False, dry_run=True)

    assert [(p.line, p.column) for p in report.problems] == [(3, "生年月日"), (3, "性別")]
    assert (report.new, report.applied) == (1, False)
    status = await issuance_session.scalar(select(CardImport.status))
    assert status == "refused"
    assert await _count(issuance_session) == 0


_CONTROL_CELLS = [
    ("氏名", "見本\x00太郎"),  # NUL: PostgreSQL's COPY refused it (a 500, no line named)
    ("住所", "見本町\x01"),  # stored as it was
    ("性別", "1\x1c"),  # read as 1 (trimmed as a space)
]


@pytest.mark.parametrize(("column", "value"), _CONTROL_CELLS)
async def test_a_control_character_in_a_cell_refuses_the_file_and_names_row_and_column(
    issuance_session: AsyncSession, column: str, value: str
) -> None:
    problems = await _refused(issuance_session, card_list(SECOND, {column: value}))

    assert [(p["line"], p["column"], p["value"], p["code"]) for p in problems] == [
        (3, column, value, "value.control_character")
    ]


@pytest.mark.parametrize(("column", "value"), _CONTROL_CELLS)
async def test_a_control_character_in_a_changed_row_changes_nothing(
    issuance_session: AsyncSession, column: str, value: str
) -> None:
    await import_card_list(issuance_session, card_list({}, SECOND))
    before = (await issuance_session.execute(select(Resident.__table__))).all()

    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(issuance_session, card_list({column: value}, SECOND))

    assert [(p["line"], p["column"]) for p in refused.value.details] == [(2, column)]
    assert (await issuance_session.execute(select(Resident.__table__))).all() == before
    assert await _count(issuance_session, ResidentHistory) == 0


async def test_a_control_character_is_named_when_parser_processes_read_the_file(
    issuance_session: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "PARALLEL_MINIMUM_BYTES", 0)
    rows = [
        {"製造管理番号": f"A1B-{number:06d}", "申請書ID": f"{number:023d}"} for number in range(300)
    ]
    rows[250]["住所"] = "見本町\x00"
    path = tmp_path / "card-list.csv"
    path.write_bytes(card_list(*rows))

    with pytest.raises(CardImportRefused) as refused:
        await import_card_list(issuance_session, path, workers=3)

    assert [(p["line"], p["column"], p["code"]) for p in refused.value.details] == [
        (252, "住所", "value.control_character")
    ]
    assert await _count(issuance_session) == 0


class _BrokenLoader:
    """A loader whose COPY text PostgreSQL refuses (the line column is not a number)."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    async def batches(self) -> AsyncIterator[bytes]:
        yield b"not a line number\n"


async def test_a_failed_copy_is_raised_as_itself_not_hidden_by_the_staging_clean_up(
    issuance_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "CardListLoader", _BrokenLoader)

    with pytest.raises(asyncpg.PostgresError) as failed:
        await import_card_list(issuance_session, card_list({}), dry_run=True)

    # Before, the DROP TABLE of the clean-up failed in the aborted transaction and its
    # InFailedSQLTransactionError replaced the error that said what went wrong.
    assert not isinstance(failed.value, asyncpg.InFailedSQLTransactionError)
    assert isinstance(failed.value, asyncpg.DataError)
