"""The polars path (simple blocks) decides exactly what the Python parsers decide."""

# Full-width and look-alike characters are the input these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import re
import sys

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_format.csv import card_list_frames
from sync_format.csv.card_list import _build_parsers
from sync_format.csv.card_list_frames import FrameChecker
from sync_format.csv.columns import CANONICAL_CELLS, WHITESPACE
from sync_format.csv.dates import ERAS, DateStyle, format_date, parse_date
from sync_format.csv.frame_dates import parse_dates
from sync_format.csv.normalize import PRIVATE_USE
from sync_format.csv.problems import CellError
from sync_format.csv.profile import CARD_LIST_FIELDS, default_profile

_WIDE = str.maketrans("0123456789", "０１２３４５６７８９")


def python_dates(cells: list[str], *, overflow: bool) -> list[dt.date | None]:
    answers: list[dt.date | None] = []
    for cell in cells:
        try:
            answers.append(parse_date(cell, allow_era_overflow=overflow))
        except CellError:
            answers.append(None)
    return answers


def polars_dates(cells: list[str], *, overflow: bool) -> list[dt.date | None]:
    return parse_dates(pl.Series("cell", cells, dtype=pl.String), overflow=overflow).to_list()


def assert_never_differs(cells: list[str], *, overflow: bool) -> list[dt.date | None]:
    """Every date polars gives equals parse_date's; returns polars' answers."""
    found = polars_dates(cells, overflow=overflow)
    expected = python_dates(cells, overflow=overflow)
    for cell, mine, theirs in zip(cells, found, expected, strict=True):
        if mine is not None:
            assert mine == theirs, cell
    return found


def _days_around_era_starts() -> list[dt.date]:
    days = [dt.date(1985, 2, 14), dt.date(2000, 2, 29), dt.date(2024, 12, 31)]
    for era in ERAS:
        days += [era.start + dt.timedelta(days=shift) for shift in (-1, 0, 1)]
        days.append(dt.date(era.start.year, 1, 1))
        days.append(dt.date(era.start.year, 12, 31))
    return [day for day in days if day >= ERAS[0].start]


@pytest.mark.parametrize("overflow", [False, True])
@pytest.mark.parametrize("style", list(DateStyle))
def test_every_date_style_reads_like_parse_date_around_every_era_boundary(
    style: DateStyle, overflow: bool
) -> None:
    cells = [format_date(day, style) for day in _days_around_era_starts()]
    wide = [cell.translate(_WIDE) for cell in cells]
    found = assert_never_differs(cells + wide, overflow=overflow)
    # Every plainly written form is decided here, full-width digits included.
    assert found == python_dates(cells + wide, overflow=overflow)
    assert None not in found


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("昭和元年12月25日", dt.date(1926, 12, 25)),
        ("S元.12.31", dt.date(1926, 12, 31)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("R01.05.01", dt.date(2019, 5, 1)),
        ("5010501", dt.date(2019, 5, 1)),
        ("明治元年10月23日", dt.date(1868, 10, 23)),
        ("1985/2/14", dt.date(1985, 2, 14)),
        ("1985.02-14", dt.date(1985, 2, 14)),  # mixed separators, as _GREGORIAN allows
        ("1985年2月14日", dt.date(1985, 2, 14)),
        ("昭60年2月14日", dt.date(1985, 2, 14)),
        ("昭和60.2.14", dt.date(1985, 2, 14)),
        ("３６００２１４", dt.date(1985, 2, 14)),
        ("平成３１年４月３０日", dt.date(2019, 4, 30)),
        ("1800-01-01", dt.date(1800, 1, 1)),
        ("2199-12-31", dt.date(2199, 12, 31)),
    ],
)
def test_plain_dates_are_decided_by_polars_with_parse_dates_answer(
    cell: str, expected: dt.date
) -> None:
    assert parse_date(cell) == expected
    assert polars_dates([cell], overflow=False) == [expected]


_NEVER_ACCEPTED = [
    "1985-02-30",  # no such day
    "1985-02-29",  # not a leap year
    "1900-02-29",  # century, not a leap year
    "1985-13-01",
    "1985-00-10",
    "1985-01-00",
    "19850230",
    "1799-12-31",  # before MIN_YEAR
    "2200-01-01",  # after MAX_YEAR
    "0000-01-01",
    "昭和0年1月1日",  # no year 0
    "S00.01.01",
    "明治元年10月22日",  # before 明治 began
    "昭和元年12月24日",  # before 昭和 began
    "令和元年4月30日",  # before 令和 began
    "6600214",  # no era 6
    "0600214",
    "360021",
    "985-02-14",
    "",
    "1985-02-14日",
    "1985年2-14",
    "S60年02.14",
]


@pytest.mark.parametrize("overflow", [False, True])
@pytest.mark.parametrize("cell", _NEVER_ACCEPTED)
def test_impossible_or_malformed_dates_are_left_to_the_row_parser(
    cell: str, overflow: bool
) -> None:
    assert polars_dates([cell], overflow=overflow) == [None]


@pytest.mark.parametrize(
    "cell", ["平成32年1月1日", "H31.05.01", "4310501", "昭和64年1月8日", "大正15年12月25日"]
)
def test_era_overflow_is_accepted_only_when_the_profile_allows_it(cell: str) -> None:
    assert polars_dates([cell], overflow=False) == [None]
    with pytest.raises(CellError):
        parse_date(cell)
    assert polars_dates([cell], overflow=True) == [parse_date(cell, allow_era_overflow=True)]


@pytest.mark.parametrize(
    "cell",
    [" 1985-02-14", "1985-02-14 ", "s60.02.14", "Ｓ６０．０２．１４", "1985－02－14", "١٩٨٥-02-14"],
)
def test_odd_but_valid_dates_go_to_the_row_parser(cell: str) -> None:
    parse_date(cell)  # valid for the row parser, which decides it
    assert polars_dates([cell], overflow=False) == [None]


_DATE_ALPHABET = "0123456789０１２３４５６７８９-/.年月日元明治大正昭和平成令和MTSHRs ０"


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(st.text(alphabet=_DATE_ALPHABET, max_size=12), min_size=1, max_size=20),
    overflow=st.booleans(),
)
def test_no_date_text_gets_another_answer_than_parse_dates(
    cells: list[str], overflow: bool
) -> None:
    assert_never_differs(cells, overflow=overflow)


@settings(max_examples=200, deadline=None)
@given(
    days=st.lists(st.dates(dt.date(1868, 10, 23), dt.date(2199, 12, 31)), min_size=1),
    style=st.sampled_from(list(DateStyle)),
    overflow=st.booleans(),
)
def test_any_written_date_gets_parse_dates_answer(
    days: list[dt.date], style: DateStyle, overflow: bool
) -> None:
    cells = [format_date(day, style) for day in days]  # 令和 years past 99 are bad for both
    assert polars_dates(cells, overflow=overflow) == python_dates(cells, overflow=overflow)


def test_whitespace_class_is_exactly_what_str_strip_strips() -> None:
    spelled = re.compile(f"[{WHITESPACE}]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert bool(spelled.fullmatch(char)) == (char.strip() == "") == char.isspace(), hex(code)


def test_whitespace_class_reads_the_same_in_rust() -> None:
    chars = [chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF]
    found = pl.Series(chars).str.contains(f"^[{WHITESPACE}]$").to_list()
    assert [char for char, hit in zip(chars, found, strict=True) if hit] == [
        char for char in chars if char.isspace()
    ]


# Characters around every edge the patterns draw: spaces of both engines, NUL and other
# control characters, half-width kana, katakana, private use, astral characters.
_CELL_CHARS = st.sampled_from(
    list(" \t\n\x0b\x0c\r\x1c\x1f\x85\xa0\u1680\u2000\u200b\u2028\u202f\u205f\u3000\ufeff")
    + list("\x01\x08\x0e\x1b")
    + list("\x00Aaz09-_,ｱｰﾟ\uff60\uffa0ァヾヿ・ー見\ue000\uf8ff\U000f0000\U0010fffd\U0001f600")
)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(sorted(CANONICAL_CELLS)),
    cells=st.lists(st.text(_CELL_CHARS, max_size=8), min_size=1, max_size=10),
)
def test_each_pattern_reads_the_same_in_rust_as_in_python(field: str, cells: list[str]) -> None:
    pattern = CANONICAL_CELLS[field]
    found = pl.Series(cells, dtype=pl.String).str.contains(f"^(?:{pattern})$").to_list()
    assert found == [re.fullmatch(pattern, cell) is not None for cell in cells]
    gaiji = pl.Series(cells, dtype=pl.String).str.contains(PRIVATE_USE.pattern).to_list()
    assert gaiji == [PRIVATE_USE.search(cell) is not None for cell in cells]


_PARSERS = _build_parsers(default_profile())


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(sorted(CANONICAL_CELLS)),
    cells=st.lists(st.text(_CELL_CHARS, max_size=8), min_size=1, max_size=10),
)
def test_each_pattern_accepts_only_what_its_parser_leaves_unchanged(
    field: str, cells: list[str]
) -> None:
    found = pl.Series(cells, dtype=pl.String).str.contains(f"^(?:{CANONICAL_CELLS[field]})$")
    for cell, accepted in zip(cells, found.to_list(), strict=True):
        if accepted:
            assert _PARSERS[field](cell) == cell


def _checker(width: int = len(CARD_LIST_FIELDS)) -> FrameChecker:
    positions = list(range(len(CARD_LIST_FIELDS)))
    return FrameChecker(positions, width, _PARSERS, allow_era_overflow=False)


_ROW = (
    "A1B-123456,00123456789012345678901,9012345678123,見本\u3000太郎,ミホン\u3000タロウ,"
    "昭和60年2月14日,1,000-0001,見本県デモ市,,有,無,2035-02-14"
)


@pytest.mark.parametrize(
    "text",
    [
        f'{_ROW}\n"{_ROW}"\n',  # a quote
        f"{_ROW}\n{_ROW}\x00\n",  # NUL
        f"{_ROW}\r{_ROW}\n",  # a lone CR
        f"{_ROW}\n\n{_ROW}\n",  # a blank line
        f"{_ROW}\n{_ROW},\n",  # a cell too many
        f"{_ROW},\n{_ROW.rsplit(',', 1)[0]}\n",  # as many commas, one row short
        f"\ufeff{_ROW}\n",  # a BOM polars would drop
    ],
)
def test_a_block_that_is_not_simple_is_left_to_the_row_path(text: str) -> None:
    assert _checker().check(text, 2, None) is None


def test_a_simple_block_is_split_into_accepted_rows_and_suspects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(card_list_frames, "SUSPECT_SHARE", 1.0)
    odd = _ROW.replace("見本\u3000太郎", " 見本 ").replace(",1,", ",男,")
    tab = _ROW.replace("見本県デモ市", "見本\t県")
    text = f"{_ROW}\r\n{odd}\r\n{tab}\r\n{_ROW.replace('2035-02-14', '2035-02-30')}"
    checked = _checker().check(text, 7, None)
    assert checked is not None
    assert checked.frame.get_column("line").to_list() == [7]
    assert checked.frame.get_column("birth_date").to_list() == [dt.date(1985, 2, 14)]
    assert checked.frame.get_column("sex").to_list() == ["male"]
    assert [line for line, _ in checked.suspects] == [8, 9, 10]
    assert checked.suspects[0][1] == odd.split(",")


def test_a_block_of_mostly_suspects_is_left_to_the_row_path_and_then_the_file() -> None:
    checker = _checker()
    clean = f"{_ROW}\n" * 8
    spaced = _ROW.replace("昭和60年2月14日", " 1985-02-14")  # valid, but not plain
    odd = f"{_ROW}\n" * 5 + f"{spaced}\n" * 3
    assert checker.check(clean, 2, None) is not None
    assert checker.check(odd, 10, None) is None  # 3 of 8 rows: more than a quarter
    assert checker.check(clean, 18, None) is not None  # a clean block resets the count
    assert checker.check(odd, 26, None) is None
    assert checker.check(odd, 34, None) is None
    # Two such blocks in a row: the file is written that way; the row path takes the rest.
    assert checker.check(clean, 42, None) is None
