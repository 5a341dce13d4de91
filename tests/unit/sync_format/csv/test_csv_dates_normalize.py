"""Normalisation of cells and every date form of FORMATS.md."""

# Full-width and look-alike characters are the input these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_format.csv.dates import DateStyle, format_date, parse_date
from sync_format.csv.normalize import (
    has_private_use,
    normalize_katakana,
    normalize_postal_code,
    normalize_reservation_id,
    normalize_text,
)
from sync_format.csv.problems import CellError, ProblemCode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-02-14", dt.date(1985, 2, 14)),
        ("1985/2/14", dt.date(1985, 2, 14)),
        ("19850214", dt.date(1985, 2, 14)),
        ("昭和60年2月14日", dt.date(1985, 2, 14)),
        ("S60.02.14", dt.date(1985, 2, 14)),
        ("s60.02.14", dt.date(1985, 2, 14)),
        ("昭60.02.14", dt.date(1985, 2, 14)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("平成元年1月8日", dt.date(1989, 1, 8)),
        ("3600214", dt.date(1985, 2, 14)),
        ("1450101", dt.date(1912, 1, 1)),
        ("2150101", dt.date(1926, 1, 1)),
        ("4310430", dt.date(2019, 4, 30)),
        ("5010501", dt.date(2019, 5, 1)),
        ("H31.04.30", dt.date(2019, 4, 30)),
        ("R2.1.1", dt.date(2020, 1, 1)),
        ("１９８５－０２－１４", dt.date(1985, 2, 14)),
        ("１９８５／２／１４", dt.date(1985, 2, 14)),
        ("昭和６０年２月１４日", dt.date(1985, 2, 14)),
        ("３６００２１４", dt.date(1985, 2, 14)),
        ("\u3000 1985-02-14 ", dt.date(1985, 2, 14)),
        ("1985年2月14日", dt.date(1985, 2, 14)),
    ],
)
def test_every_date_form_parses(text: str, expected: dt.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1985-02-30",
        "1985/2/30",
        "19850230",
        "昭和60年2月30日",
        "S60.02.30",
        "3600230",
        "2023-02-29",
        "1985-13-01",
        "1985-00-10",
        "昭和0年1月1日",
    ],
)
def test_impossible_dates_are_bad(text: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_date(text)
    assert caught.value.code == ProblemCode.BAD_DATE


@pytest.mark.parametrize(
    "text", ["", "abc", "1985-2", "6600214", "360021", "X60.02.14", "昭和六十年二月十四日"]
)
def test_unrecognised_dates_are_bad(text: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_date(text)
    assert caught.value.code == ProblemCode.BAD_DATE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("平成32年1月1日", dt.date(2020, 1, 1)),
        ("H31.05.01", dt.date(2019, 5, 1)),
        ("昭和64年1月8日", dt.date(1989, 1, 8)),
        ("4320101", dt.date(2020, 1, 1)),
    ],
)
def test_era_overflow_is_bad_unless_allowed(text: str, expected: dt.date) -> None:
    with pytest.raises(CellError, match="era overflow"):
        parse_date(text)
    assert parse_date(text, allow_era_overflow=True) == expected


@pytest.mark.parametrize("text", ["令和元年4月30日", "平成元年1月7日", "R01.04.30", "5010430"])
def test_date_before_the_era_began_is_bad(text: str) -> None:
    with pytest.raises(CellError, match="before"):
        parse_date(text, allow_era_overflow=True)


@given(st.dates(min_value=dt.date(1873, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_every_written_style_reads_back(value: dt.date) -> None:
    for style in DateStyle:
        assert parse_date(format_date(value, style)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A1B-123456", "A1B-123456"),
        ("a1b-123456", "A1B-123456"),
        ("A1B123456", "A1B-123456"),
        ("Ａ１Ｂ－１２３４５６", "A1B-123456"),
        (" A1B‐123456\u3000", "A1B-123456"),
        ("A1B−123456", "A1B-123456"),
        ("A1Bー123456", "A1B-123456"),
        ("A1B―123456", "A1B-123456"),
        ("A1B–123456", "A1B-123456"),
    ],
)
def test_reservation_ids_are_normalised(text: str, expected: str) -> None:
    assert normalize_reservation_id(text) == expected


@pytest.mark.parametrize(
    "text", ["A1-123456", "A1B-12345", "A1B-1234567", "A1B_123456", "日本A-123456"]
)
def test_malformed_reservation_ids_are_bad(text: str) -> None:
    with pytest.raises(CellError):
        normalize_reservation_id(text)


def test_postal_codes_are_normalised() -> None:
    assert normalize_postal_code("2518601") == "251-8601"
    assert normalize_postal_code("２５１－８６０１") == "251-8601"
    with pytest.raises(CellError):
        normalize_postal_code("25-18601")


def test_half_width_kana_widens_but_names_keep_their_characters() -> None:
    assert normalize_katakana("ﾐﾎﾝ ﾀﾞｲｽｹ") == "ミホン ダイスケ"
    assert normalize_katakana("ミホン\u3000パール") == "ミホン\u3000パール"
    # A CJK compatibility ideograph and full-width letters stay as written in a name.
    assert normalize_text(" \ufa19田\u3000ＡＢ ") == "\ufa19田\u3000ＡＢ"
    with pytest.raises(CellError):
        normalize_katakana("みほん")


def test_private_use_characters_are_detected() -> None:
    assert has_private_use("見本\ue000")
    assert has_private_use("\U000f0001")
    assert not has_private_use("見本\u3000太郎ＡＢｶ")
    assert not has_private_use("")
