"""Dates in every form FORMATS.md lists: Gregorian, Japanese era (和暦) and era codes."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from typing import NamedTuple

from sync_format.csv.normalize import to_ascii_width
from sync_format.csv.problems import CellError, ProblemCode


class Era(NamedTuple):
    """A Japanese era: its names, its digit in the 7-digit code, and its first day."""

    name: str
    short: str
    letter: str
    code: int
    start: dt.date


ERAS: tuple[Era, ...] = (
    # 明治 is counted from the proclamation date; earlier 明治 dates were lunar-calendar
    # dates anyway, and no resident on a card list was born then.
    Era("明治", "明", "M", 1, dt.date(1868, 10, 23)),
    Era("大正", "大", "T", 2, dt.date(1912, 7, 30)),
    Era("昭和", "昭", "S", 3, dt.date(1926, 12, 25)),
    Era("平成", "平", "H", 4, dt.date(1989, 1, 8)),
    Era("令和", "令", "R", 5, dt.date(2019, 5, 1)),
)
_ERA_BY_KEY: dict[str, int] = {}
for _index, _era in enumerate(ERAS):
    for _key in (_era.name, _era.short, _era.letter, str(_era.code)):
        _ERA_BY_KEY[_key] = _index

MIN_YEAR = 1800
MAX_YEAR = 2199

_GREGORIAN = re.compile(r"(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日)")
_ERA_FORM = re.compile(
    r"(明治|大正|昭和|平成|令和|[明大昭平令MTSHR])(元|\d{1,2})"
    r"(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日)"
)


class DateStyle(enum.StrEnum):
    """The written forms a card list date can take; used by writers and the demo data."""

    ISO = "iso"  # 1985-02-14
    SLASH = "slash"  # 1985/2/14
    COMPACT = "compact"  # 19850214
    ERA = "era"  # 昭和60年2月14日 (元年 for year 1)
    ERA_LETTER = "era_letter"  # S60.02.14
    ERA_SHORT = "era_short"  # 昭60.02.14
    ERA_CODE = "era_code"  # 3600214


def _make_date(year: int, month: int, day: int) -> dt.date:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise CellError(f"year {year} is out of range", ProblemCode.BAD_DATE)
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CellError(
            f"no such date: {year}-{month:02d}-{day:02d}", ProblemCode.BAD_DATE
        ) from None


def _era_date(era_index: int, era_year: int, month: int, day: int, allow_overflow: bool) -> dt.date:
    era = ERAS[era_index]
    if era_year < 1:
        raise CellError(f"{era.name} has no year {era_year}", ProblemCode.BAD_DATE)
    value = _make_date(era.start.year + era_year - 1, month, day)
    if value < era.start:
        raise CellError(
            f"{era.name} began on {era.start.isoformat()}; this date is before it",
            ProblemCode.BAD_DATE,
        )
    if era_index + 1 < len(ERAS) and not allow_overflow:
        following = ERAS[era_index + 1]
        if value >= following.start:
            raise CellError(
                f"{era.name}{era_year}年 is past the end of {era.name} (it became "
                f"{following.name} on {following.start.isoformat()}); the import profile "
                "does not allow era overflow",
                ProblemCode.BAD_DATE,
            )
    return value


@functools.lru_cache(maxsize=65536)
def _parse(text: str, allow_era_overflow: bool) -> dt.date:
    # Cached: a card list has at most ~40,000 distinct birth dates, so a 1,000,000-row
    # file parses each distinct written form once.
    value = to_ascii_width(text).replace(" ", "").upper()
    if value.isdigit() and value.isascii():
        if len(value) == 8:
            return _make_date(int(value[:4]), int(value[4:6]), int(value[6:]))
        if len(value) == 7 and value[0] in _ERA_BY_KEY:
            return _era_date(
                _ERA_BY_KEY[value[0]],
                int(value[1:3]),
                int(value[3:5]),
                int(value[5:]),
                allow_era_overflow,
            )
        raise CellError("a date in digits must be YYYYMMDD or an era code GYYMMDD")
    match = _GREGORIAN.fullmatch(value)
    if match:
        year, month_a, day_a, month_b, day_b = match.groups()
        return _make_date(int(year), int(month_a or month_b), int(day_a or day_b))
    match = _ERA_FORM.fullmatch(value)
    if match:
        era_key, era_year, month_a, day_a, month_b, day_b = match.groups()
        return _era_date(
            _ERA_BY_KEY[era_key],
            1 if era_year == "元" else int(era_year),
            int(month_a or month_b),
            int(day_a or day_b),
            allow_era_overflow,
        )
    raise CellError(
        "unrecognised date; use e.g. 1985-02-14, 1985/2/14, 19850214, 昭和60年2月14日, "
        "S60.02.14, 昭60.02.14 or 3600214",
        ProblemCode.BAD_DATE,
    )


def parse_date(text: str, *, allow_era_overflow: bool = False) -> dt.date:
    """Parse a date in any form FORMATS.md allows, or raise CellError with the reason.

    Args:
        text: the cell, possibly with full-width digits and surrounding spaces.
        allow_era_overflow: accept era years past the era's end (平成32年 = 2020).
    """
    try:
        return _parse(text.strip(), allow_era_overflow)
    except CellError as error:
        if error.code == ProblemCode.MALFORMED:
            raise CellError(error.reason, ProblemCode.BAD_DATE) from None
        raise


def era_of(value: dt.date) -> tuple[Era, int]:
    """Return the era a date falls in and its year within that era."""
    for era in reversed(ERAS):
        if value >= era.start:
            return era, value.year - era.start.year + 1
    raise ValueError(f"{value.isoformat()} is before 明治")


_ERA_TEMPLATES = {
    DateStyle.ERA: "{name}{year_text}年{month}月{day}日",
    DateStyle.ERA_LETTER: "{letter}{year:02d}.{month:02d}.{day:02d}",
    DateStyle.ERA_SHORT: "{short}{year:02d}.{month:02d}.{day:02d}",
    DateStyle.ERA_CODE: "{code}{year:02d}{month:02d}{day:02d}",
}


def format_date(value: dt.date, style: DateStyle = DateStyle.ISO) -> str:
    """Write a date in one of the forms ``parse_date`` reads."""
    if style is DateStyle.ISO:
        return value.isoformat()
    if style is DateStyle.SLASH:
        return f"{value.year}/{value.month}/{value.day}"
    if style is DateStyle.COMPACT:
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    era, year = era_of(value)
    return _ERA_TEMPLATES[style].format(
        name=era.name,
        short=era.short,
        letter=era.letter,
        code=era.code,
        year=year,
        year_text="元" if year == 1 else str(year),
        month=value.month,
        day=value.day,
    )
