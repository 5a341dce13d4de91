"""No CSV reader accepts a cell holding NUL or another C0 control character.

PostgreSQL cannot store NUL in text (COPY and bound parameters refuse it, and the import
answered 500 naming no line), and the other C0 characters are never part of a name, an
address or a code. Every reader reports such a cell as ``value.control_character`` with
its line and column; TAB, CR and LF stay allowed where a quoted cell may hold them.
"""

from __future__ import annotations

import io
import re
from typing import Any

import polars as pl
import pytest

from sync_format.csv import card_list_blocks, card_list_frames
from sync_format.csv.card_list import read_card_list
from sync_format.csv.card_list_blocks import CardListFrame, iter_card_list_blocks
from sync_format.csv.columns import CANONICAL_CELLS
from sync_format.csv.normalize import CONTROL_CHARACTERS, has_control_character
from sync_format.csv.problems import ProblemCode
from sync_format.csv.progress import read_issued_results, read_presetup_results
from sync_format.csv.reservation_list import read_reservation_list
from tests.unit.sync_format.csv.conftest import build_card_list

CONTROL = ProblemCode.CONTROL_CHARACTER
REFUSED = [chr(code) for code in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20))]
SECOND = {"製造管理番号": "B2C-654321", "申請書ID": "00123456789012345678902"}
PROGRESS_HEADER = "製造管理番号,結果,実施日,交付場所コード,備考\r\n"
RESERVATION_HEADER = (
    "予約番号,予約用ID,交付場所コード,交付場所,予約日,開始時刻,終了時刻,予約結果,予約経路,"
    "電子メールアドレス,同時予約者ID,メモ,更新日時\r\n"
)


def _reservation_row(number: int, memo: str) -> str:
    return (
        f"K{number:03d}QXM3PA,A1B-{number:06d},HQ,本庁舎,2026-12-03,09:00,09:30,予約済,web,,,"
        f"{memo},2026-11-30T10:00:00+09:00\r\n"
    )


def _found(problems: list[Any]) -> list[tuple[Any, ...]]:
    return [(p.line, p.column, p.value, p.code) for p in problems]


def _block_reader(data: bytes, *, frames: bool = True) -> tuple[list[int], list[Any]]:
    stream = iter_card_list_blocks(io.BytesIO(data))
    lines: list[int] = []
    for batch in stream.batches(frames=frames):
        block = batch.to_block() if isinstance(batch, CardListFrame) else batch
        lines.extend(block.lines)
    return lines, stream.problems


def test_the_control_class_is_c0_but_tab_and_line_breaks_in_python_and_rust() -> None:
    chars = [chr(code) for code in range(0x80)] + ["\x85", "\u3000", "\ufeff"]
    expected = [char in REFUSED for char in chars]
    assert [has_control_character(char) for char in chars] == expected
    rust = pl.Series(chars).str.contains(f"[{CONTROL_CHARACTERS}]").to_list()
    assert rust == expected


@pytest.mark.parametrize("field", sorted(CANONICAL_CELLS))
@pytest.mark.parametrize("char", REFUSED)
def test_no_canonical_pattern_accepts_a_control_character(field: str, char: str) -> None:
    pattern = CANONICAL_CELLS[field]
    cells = [f"見本{char}太郎", f"{char}見本", f"見本{char}", char, f"A1B-12345{char}"]
    assert [cell for cell in cells if re.fullmatch(pattern, cell)] == []
    assert not pl.Series(cells).str.contains(f"^(?:{pattern})$").any()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("氏名", "見本\x00太郎"),  # NUL: PostgreSQL refuses it in COPY
        ("住所", "見本町\x01"),
        ("方書", "\x1b"),
        ("氏名カナ", "ミホン\x08タロウ"),
        ("製造管理番号", "B2C-654321\x0c"),  # str.strip() would have trimmed it away
        ("性別", "1\x1c"),  # code_key would have read it as 1
        ("生年月日", "1985-02-14\x1f"),
        ("カード有効期限", "\x0b"),  # str.isspace(): would have read as no expiry
        ("署名用電子証明書", "有\x1e"),
    ],
)
def test_a_control_character_is_a_problem_naming_line_and_column_in_every_card_list_reader(
    column: str, value: str
) -> None:
    data = build_card_list([{}, {**SECOND, column: value}])

    by_row = read_card_list(data)
    by_blocks = _block_reader(data, frames=False)
    by_frames = _block_reader(data)

    expected = [(3, column, value, CONTROL)]
    assert _found(by_row.problems) == expected
    assert "control character" in by_row.problems[0].reason
    assert [row.line for row in by_row.rows] == [2]
    assert by_blocks == ([2], by_row.problems)
    assert by_frames == ([2], by_row.problems)


def test_a_control_character_is_reported_before_anything_else_wrong_with_the_cell() -> None:
    data = build_card_list([{"製造管理番号": "A1B\x00", "生年月日": "2001-02-30"}])

    problems = read_card_list(data).problems

    assert [(p.column, p.code) for p in problems] == [
        ("製造管理番号", CONTROL),
        ("生年月日", ProblemCode.BAD_DATE),
    ]
    assert _block_reader(data)[1] == problems


def test_tabs_and_line_breaks_in_quoted_cells_stay_allowed() -> None:
    data = build_card_list([{"住所": "見本町\t2丁目\r\n3号", "方書": "a\nb"}])

    result = read_card_list(data)

    assert result.problems == []
    assert (result.rows[0].address, result.rows[0].address_extra) == (
        "見本町\t2丁目\r\n3号",
        "a\nb",
    )
    assert _block_reader(data) == ([2], [])


def test_a_control_character_in_an_ignored_column_is_not_a_problem() -> None:
    headers = [*build_card_list([]).decode().rstrip("\r\n").split(","), "備考"]
    data = build_card_list([{"備考": "x\x00y"}], headers=headers)

    assert read_card_list(data).problems == []
    assert _block_reader(data) == ([2], [])


def test_every_row_with_a_control_character_is_named_across_blocks_and_the_polars_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(card_list_blocks, "BLOCK_BYTES", 2000)
    rows = [
        {"製造管理番号": f"A1B-{number:06d}", "申請書ID": f"{number:023d}"} for number in range(60)
    ]
    rows[10]["氏名"] = "見本\x00太郎"  # NUL: the block leaves the polars path
    rows[40]["住所"] = "見本町\x07"  # no NUL: polars sends the row to the row parser
    data = build_card_list(rows, newline="\n")

    by_row = read_card_list(data)
    lines, problems = _block_reader(data)

    assert _found(by_row.problems) == [
        (12, "氏名", "見本\x00太郎", CONTROL),
        (42, "住所", "見本町\x07", CONTROL),
    ]
    assert problems == by_row.problems
    assert (
        lines
        == [row.line for row in by_row.rows]
        == [line for line in range(2, 62) if line not in (12, 42)]
    )
    batches = list(iter_card_list_blocks(io.BytesIO(data)).batches())
    assert sum(isinstance(batch, CardListFrame) for batch in batches) >= 2


def test_the_polars_path_sends_a_control_character_to_the_row_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(card_list_frames, "SUSPECT_SHARE", 1.0)
    data = build_card_list([{}, {**SECOND, "氏名": "見本\x01太郎", "性別": "2\x1f"}], newline="\n")

    stream = iter_card_list_blocks(io.BytesIO(data))
    batches = list(stream.batches())

    assert [type(batch) for batch in batches] == [CardListFrame]
    assert batches[0].frame.get_column("line").to_list() == [2]
    assert _found(stream.problems) == [
        (3, "氏名", "見本\x01太郎", CONTROL),
        (3, "性別", "2\x1f", CONTROL),
    ]


def test_a_progress_result_with_a_control_character_is_refused_naming_the_cell() -> None:
    data = (
        PROGRESS_HEADER
        + "A1B-000001,済,2026-12-03,,券面\x00印字\r\n"
        + "A1B-000002,済,2026-02-30,,\r\n"  # still reported: every problem at once
        + "A1B-000003,済,2026-12-03,,\r\n"
    ).encode()

    result = read_presetup_results(data)

    assert _found(result.problems) == [
        (3, "実施日", "2026-02-30", ProblemCode.BAD_DATE),
        (2, "備考", "券面\x00印字", CONTROL),
    ]
    assert not result.ok
    assert [row.line for row in result.rows] == [4]


def test_a_result_file_names_the_first_control_character_and_counts_the_rest() -> None:
    rows = [f"A1B-{number:06d},交付済,2026-12-03,HQ,{chr(number)}\r\n" for number in range(1, 9)]
    data = (PROGRESS_HEADER + "".join(rows)).encode()

    result = read_issued_results(data)

    assert _found(result.problems) == [(2, "備考", "\x01", CONTROL)]
    assert "7 more rows hold control characters too (lines 3, 4, 5, 6, 7, ...)" in (
        result.problems[0].reason
    )
    assert result.rows == []


def test_a_control_character_in_a_header_is_a_problem_of_the_header() -> None:
    data = ("製造管理番号,結果\x00,実施日\r\nA1B-000001,済,2026-12-03\r\n").encode()

    problems = read_presetup_results(data).problems

    assert [(p.line, p.column, p.code) for p in problems] == [(1, None, CONTROL)]
    assert problems[0].reason.startswith("header cell 2 holds the control character U+0000")


def test_a_reservation_list_with_a_control_character_is_refused_naming_the_cell() -> None:
    data = (
        RESERVATION_HEADER + _reservation_row(1, "車いす") + _reservation_row(2, "車\x0bいす")
    ).encode("utf-8-sig")

    result = read_reservation_list(data)

    assert _found(result.problems) == [(3, "メモ", "車\x0bいす", CONTROL)]
    assert [row.reservation_id for row in result.rows] == ["A1B-000001"]


def test_a_reservation_list_keeps_tabs_and_line_breaks_in_a_quoted_memo() -> None:
    data = (RESERVATION_HEADER + _reservation_row(1, '"車いす\t使用\r\n2名"')).encode()

    result = read_reservation_list(data)

    assert result.problems == []
    assert result.rows[0].memo == "車いす\t使用\r\n2名"
