"""Dates of the card list parsed a column at a time by polars, exactly as ``parse_date`` does.

Polars steps here turn a column of date cells into dates (``pl.Date``) for the cells they
are sure of, and null for every other cell; the caller sends a null's row to the row
parser, which decides it (and words its problem) as always. "Sure" means the cell is one of
the forms of ``dates`` written plainly: ASCII or full-width digits (the only characters
``to_ascii_width`` changes that it accepts), upper-case era letters, no spaces. Every
calendar and era check of ``dates`` is repeated here on integers: an impossible date or an
era year past the era's end (without ``allow_era_overflow``) gives null, never a value.
A column written all in ISO (as real exports usually are) takes a quicker path, ``iso_dates``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from sync_format.csv.dates import ERAS, MAX_YEAR, MIN_YEAR

# Full-width digits: the part of ``to_ascii_width`` this path applies itself.
_WIDE_DIGITS: Final = [chr(0xFF10 + digit) for digit in range(10)]
_ASCII_DIGITS: Final = [str(digit) for digit in range(10)]
_ERA_NAMES: Final = "|".join(era.name for era in ERAS)
_ERA_LETTERS: Final = "".join(era.short + era.letter for era in ERAS)
_ERA_CODES: Final = "".join(str(era.code) for era in ERAS)
_MONTH_DAY: Final = r"(?:[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})|年([0-9]{1,2})月([0-9]{1,2})日)"
# One pass over the column. The alternatives cannot both match one cell: 8 digits are
# YYYYMMDD; 7 digits starting with an era code are GYYMMDD (``_parse``'s digits branch);
# otherwise a 4-digit year or an era name/letter, then a month and a day. Groups:
# 1 year, 2-3 compact, 4-7 month-day; 8-11 era code; 12 era, 13 era year, 14-17 month-day.
DATE_CELL: Final = (
    rf"^(?:([0-9]{{4}})(?:([0-9]{{2}})([0-9]{{2}})|{_MONTH_DAY})"
    rf"|([{_ERA_CODES}])([0-9]{{2}})([0-9]{{2}})([0-9]{{2}})"
    rf"|({_ERA_NAMES}|[{_ERA_LETTERS}])(元|[0-9]{{1,2}}){_MONTH_DAY})$"
)
_ERA_INDEX: Final = {
    key: index
    for index, era in enumerate(ERAS)
    for key in (era.name, era.short, era.letter, str(era.code))
}


def _days_in_month(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )


def _ordinal(index: int) -> int:
    """An era's first day as the integer YYYYMMDD."""
    start = ERAS[index].start
    return start.year * 10_000 + start.month * 100 + start.day


def date_stages(cell: str, out: str, *, overflow: bool) -> list[dict[str, pl.Expr]]:
    """``with_columns`` steps that write into ``out`` the dates (pl.Date) of column ``cell``.

    ``out`` is null where this path is not sure; a value equals
    ``parse_date(cell, allow_era_overflow=overflow)``. The steps also add working columns
    named ``_{out}_*``. Run in order, each step is computed once (eager polars would
    compute a shared sub-expression again for every use).
    """
    work = f"_{out}_"

    def group(*names: str) -> pl.Expr:
        # The first of the capture groups that took part, as an integer.
        fields = [pl.col(f"{work}groups").struct.field(name) for name in names]
        return pl.coalesce(fields).cast(pl.Int32, strict=False)

    groups = (
        pl.col(cell).str.replace_many(_WIDE_DIGITS, _ASCII_DIGITS).str.extract_groups(DATE_CELL)
    )
    era_key = pl.coalesce(
        pl.col(f"{work}groups").struct.field("8"), pl.col(f"{work}groups").struct.field("12")
    )
    era_year = pl.col(f"{work}groups").struct.field("13")
    parts = {
        f"{work}era": era_key.replace_strict(_ERA_INDEX, default=None, return_dtype=pl.Int32),
        f"{work}era_year": pl.when(era_year == "元")
        .then(pl.lit(1, pl.Int32))
        .otherwise(group("9", "13")),
        f"{work}month": group("2", "4", "6", "10", "14", "16"),
        f"{work}day": group("3", "5", "7", "11", "15", "17"),
        f"{work}gregorian": group("1"),
    }
    era, month, day = pl.col(f"{work}era"), pl.col(f"{work}month"), pl.col(f"{work}day")
    # With overflow allowed an era never ends (平成32年 = 2020); the last era never does.
    unbounded = 99_999_999
    last = len(ERAS) - 1
    next_era = {
        index: _ordinal(index + 1) if index < last and not overflow else unbounded
        for index in range(len(ERAS))
    }
    first_year = era.replace_strict({index: era.start.year for index, era in enumerate(ERAS)})
    year = (
        pl.when(era.is_null())
        .then(pl.col(f"{work}gregorian"))
        .otherwise(first_year + pl.col(f"{work}era_year") - 1)
    )
    limits = {
        f"{work}year": year,
        f"{work}first_day": era.replace_strict(
            {index: _ordinal(index) for index in range(len(ERAS))}
        ),
        f"{work}next_era": era.replace_strict(next_era),
    }
    year = pl.col(f"{work}year")
    ordinal = pl.col(f"{work}ordinal")
    within_era = (
        (pl.col(f"{work}era_year") >= 1)
        & (ordinal >= pl.col(f"{work}first_day"))
        & (ordinal < pl.col(f"{work}next_era"))
    )
    valid = (
        year.is_between(MIN_YEAR, MAX_YEAR)
        & month.is_between(1, 12)
        & day.is_between(1, _days_in_month(year, month))
        & (era.is_null() | within_era)
    )
    # Only valid parts reach pl.date, which refuses an impossible date outright.
    date = pl.date(pl.when(pl.col(f"{work}valid")).then(year), month, day)
    return [
        {f"{work}groups": groups},
        parts,
        limits,
        {f"{work}ordinal": year * 10_000 + month * 100 + day},
        {f"{work}valid": valid.fill_null(value=False)},
        {out: date},
    ]


def parse_dates(cells: pl.Series, *, overflow: bool) -> pl.Series:
    """The date of each cell ``parse_date`` reads; null where this path is not sure."""
    frame = cells.rename("cell").to_frame()
    for stage in date_stages("cell", "date", overflow=overflow):
        frame = frame.with_columns(**stage)
    return frame.get_column("date").rename(cells.name)


def iso_dates(cells: pl.DataFrame, columns: dict[str, str]) -> dict[str, pl.Series | None]:
    """For each ``cell column: out`` of ``columns``: its dates if all its cells are ISO, else None.

    The quick path for a file that writes every date as ``YYYY-MM-DD``: chrono parses the
    column, and a date counts only if it is written back exactly as the cell (so the cell
    is the ISO form of a real date) and its year is within ``MIN_YEAR..MAX_YEAR``, as
    ``parse_date`` wants. An empty cell reads as null (an absent expiry).
    """
    dates = cells.select(
        pl.col(cell).str.to_date("%Y-%m-%d", strict=False).alias(out)
        for cell, out in columns.items()
    )
    exact = pl.concat([cells.select(columns.keys()), dates], how="horizontal").select(
        (
            (pl.col(out).dt.to_string("%Y-%m-%d") == pl.col(cell))
            & pl.col(out).dt.year().is_between(MIN_YEAR, MAX_YEAR)
        )
        .fill_null(value=False)
        .or_(pl.col(cell) == "")
        .all()
        .alias(out)
        for cell, out in columns.items()
    )
    return {out: dates.get_column(out) if exact.item(0, out) else None for out in columns.values()}
