"""Simple blocks of the card list checked by polars: the bulk import's fast path.

In CPython a 1,000,000-row import is CPU-bound (a Python call per cell). For a *simple*
block — no double quote, NUL, lone CR (CRLF is fine) or leading BOM, every record exactly
the header's cell count (so no blank line) — a record is just its cells cut at commas, so
polars (Rust, vectorised) can split the block and check every column at once. It accepts a cell
only when it is sure of the row parser's answer: canonical cells that their parser returns
unchanged (the patterns of ``columns``, read the same by Rust's regex), dates in the plain
forms of ``frame_dates``, and codes (sex, certificates) through a cache of the field
parsers' own answers. A row with any other cell is a *suspect*, handed back to the caller's
row parser, which decides it and words its problems exactly as the row reader does.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import polars as pl

from sync_format.csv.columns import CACHE_LIMIT, CACHED_FIELDS, CANONICAL_CELLS
from sync_format.csv.frame_dates import date_stages, iso_dates
from sync_format.csv.normalize import PRIVATE_USE
from sync_format.csv.problems import CellError
from sync_format.csv.profile import BOOLEAN_FIELDS, CARD_LIST_FIELDS, GAIJI_FIELDS, TEXT_FIELDS
from sync_format.csv.record_blocks import Raw, RawBlock

# A frame's columns: the start line, the fields as ``CardListBlock`` writes them, 外字.
FRAME_COLUMNS: Final = ("line", *CARD_LIST_FIELDS, "has_gaiji")
_DATE_FIELDS: Final = ("birth_date", "card_expiry")
_CODE_FIELDS: Final = ("sex", "certificate_signature", "certificate_authentication")
_BOM: Final = "\ufeff"
# Above this share of suspects a block is left to the row path: the row parser would parse
# each suspect in full, where the row path's caches answer most odd dates and codes (a file
# of " 1985-02-14" dates: 1.75 s CPU a 200,000 rows that way, 3.4 s through the frames).
SUSPECT_SHARE: Final = 0.25
# After this many such blocks in a row the file is taken to be written that way throughout.
_GIVE_UP: Final = 2


class FrameCheck(NamedTuple):
    """A simple block, checked: accepted rows, and the suspects the row parser must decide.

    ``frame`` has ``FRAME_COLUMNS``: the line (Int64), dates as Date (null: no expiry),
    booleans as Boolean, the rest as String ("" for no 方書). ``suspects`` holds
    ``(line, cells)`` in line order.
    """

    frame: pl.DataFrame
    suspects: list[tuple[int, list[str]]]


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


class FrameChecker:
    """Checks simple blocks of one file; built from the reader's column plan and parsers."""

    def __init__(
        self,
        positions: Sequence[int],
        width: int,
        parsers: dict[str, Callable[[str], Any]],
        *,
        allow_era_overflow: bool,
    ) -> None:
        """``positions[i]`` is where ``CARD_LIST_FIELDS[i]`` is (``>= width``: absent)."""
        self._positions = dict(zip(CARD_LIST_FIELDS, positions, strict=True))
        self._width = width
        self._parsers = parsers
        self._overflow = allow_era_overflow
        self._schema = {f"column_{index}": pl.String for index in range(width)}
        self._declined = 0  # blocks in a row left to the row path for their suspects
        # Raw code cell → its written value, or None when the parser refuses it.
        self._codes: dict[str, dict[str, Any]] = {field: {} for field in _CODE_FIELDS}
        # The expressions are the same for every block: built once. Dates step by step
        # (see date_stages), a column per field, both fields in the same steps.
        self._dates = {
            f"column_{self._positions[field]}": field
            for field in _DATE_FIELDS
            if self._positions[field] < width
        }
        self._date_steps = {
            field: date_stages(cell, field, overflow=allow_era_overflow)
            for cell, field in self._dates.items()
        }
        values, accepted = self._values()
        self._written = values
        self._accepted = pl.all_horizontal(accepted)
        # COPY text would need escapes for a backslash or tab: the row parser's path has them.
        no_escapes = [~self._cell(field).str.contains(r"[\\\t]") for field in TEXT_FIELDS]
        self._escaped = pl.all_horizontal(*accepted, *no_escapes)

    def check(self, text: str, first_line: int, raw: Raw) -> FrameCheck | None:
        """Check a decoded block whose first record starts on ``first_line``.

        ``raw`` is the block's bytes and their codec, if at hand. Returns None, having
        decided nothing, when the block is not simple or mostly suspects.
        """
        cells = self._split(text, raw) if self._declined < _GIVE_UP else None
        if cells is None:
            return None
        rows = cells.height
        checked = cells.lazy().with_columns(line=pl.int_range(first_line, first_line + rows))
        # All-ISO date columns take the quick path; the others the full steps.
        quick = iso_dates(cells, self._dates)
        checked = checked.with_columns(
            **{field: dates for field, dates in quick.items() if dates is not None}
        )
        slow = [self._date_steps[field] for field, dates in quick.items() if dates is None]
        for steps in zip(*slow, strict=True):
            checked = checked.with_columns(
                **{name: e for step in steps for name, e in step.items()}
            )
        checked = checked.with_columns(**self._written)
        codes = self._codes_of(cells)
        checked = checked.with_columns(**codes).with_columns(
            accepted=pl.all_horizontal(
                self._escaped if "\\" in text or "\t" in text else self._accepted,
                *(code.is_not_null() for code in codes.values()),
            ).fill_null(value=False)
        )
        result = checked.select(*FRAME_COLUMNS, *cells.columns, "accepted").collect(
            engine="in-memory"
        )
        accepted = result.get_column("accepted")
        suspect_rows = rows - accepted.sum()
        if suspect_rows > rows * SUSPECT_SHARE:
            self._declined += 1
            return None
        self._declined = 0
        if not suspect_rows:
            return FrameCheck(result.select(FRAME_COLUMNS), [])
        suspects = result.filter(~accepted).select("line", *cells.columns).rows()
        frame = result.filter(accepted).select(FRAME_COLUMNS)
        return FrameCheck(frame, [(line, list(row)) for line, *row in suspects])

    def _split(self, text: str, raw: Raw) -> pl.DataFrame | None:
        """The block's cells (``column_0``...; "" for empty) if it is simple, else None."""
        if raw is None:
            data = text.encode()
            ends = (data.count(b"\n"), data.count(b"\r"), data.count(b"\r\n"))
            raw = RawBlock(data, "utf-8", *ends)
        utf8 = self._simple(text, raw)
        rows = raw.line_feeds + (not raw.data.endswith(b"\n"))
        # Exactly width - 1 commas a record: the total says so once no record has more, and
        # polars refuses a record with more cells than the schema. So no record is blank.
        if utf8 is None or self._width < 2 or raw.data.count(b",") != rows * (self._width - 1):
            return None
        try:
            # Polars drops the CR of a CRLF, as the csv module does.
            cells = pl.read_csv(
                utf8, has_header=False, quote_char=None, schema=self._schema, raise_if_empty=False
            )
        except pl.exceptions.PolarsError:
            return None
        return cells.fill_null("") if cells.height == rows else None

    @staticmethod
    def _simple(text: str, raw: RawBlock) -> bytes | None:
        """The block as UTF-8 if it is simple, else None.

        Counting CR, LF, commas, quotes and NUL in CP932 bytes is exact: none of them is
        ever part of a multi-byte character (nor in UTF-8).
        """
        data = raw.data
        if text.startswith(_BOM):  # polars would drop a leading BOM
            return None
        if raw.carriage_returns != raw.crlfs:
            return None  # a lone CR ends a line too
        if not data or b'"' in data or b"\x00" in data:
            return None
        return data if raw.codec == "utf-8" else text.encode()

    def _cell(self, field: str) -> pl.Expr:
        position = self._positions[field]
        if position >= self._width:
            return pl.lit("", pl.String)  # a column the file lacks reads as ""
        return pl.col(f"column_{position}")

    def _values(self) -> tuple[dict[str, pl.Expr], list[pl.Expr]]:
        """Each field's written value (codes aside), and what a row must meet to be accepted."""
        cells = {field: self._cell(field) for field in CARD_LIST_FIELDS}
        values: dict[str, pl.Expr] = {}
        accepted: list[pl.Expr] = []
        for field, pattern in CANONICAL_CELLS.items():
            values[field] = cells[field]
            accepted.append(cells[field].str.contains(_anchored(pattern)))
        for field in _DATE_FIELDS:
            # Written by the date steps; only the expiry may be absent (no date).
            absent = self._positions[field] >= self._width
            date = pl.lit(None, pl.Date) if absent else pl.col(field)
            values[field] = date
            present = date.is_not_null()
            accepted.append(present | (cells[field] == "") if field == "card_expiry" else present)
        gaiji = [cells[field].str.contains(PRIVATE_USE.pattern) for field in GAIJI_FIELDS]
        values["has_gaiji"] = pl.any_horizontal(gaiji)
        return values, accepted

    def _codes_of(self, cells: pl.DataFrame) -> dict[str, pl.Expr]:
        """The code columns, through the field parsers' answers for their distinct cells."""
        distinct = cells.select(
            **{field: self._cell(field).unique().implode() for field in _CODE_FIELDS}
        ).row(0)
        codes: dict[str, pl.Expr] = {}
        for field, found in zip(_CODE_FIELDS, distinct, strict=True):
            known = self._codes[field]
            parse, write = self._parsers[field], CACHED_FIELDS[field]
            mapping: dict[str, Any] = {}
            for raw_cell in found:
                if raw_cell in known:
                    mapping[raw_cell] = known[raw_cell]
                    continue
                try:
                    mapping[raw_cell] = write(parse(raw_cell))
                except CellError:
                    mapping[raw_cell] = None
                if len(known) < CACHE_LIMIT:  # a real file has a handful of codes
                    known[raw_cell] = mapping[raw_cell]
            dtype = pl.Boolean if field in BOOLEAN_FIELDS else pl.String
            codes[field] = self._cell(field).replace_strict(
                mapping, default=None, return_dtype=dtype
            )
        return codes


def frame_rows(frame: pl.DataFrame) -> tuple[list[int], list[list[Any]], list[bool]]:
    """A frame as ``(lines, columns, has_gaiji)`` lists, the parts of a ``CardListBlock``."""
    # Dates as ISO text, "" for no expiry, as the block writes them.
    as_block = frame.with_columns(pl.col(_DATE_FIELDS).dt.to_string("%Y-%m-%d").fill_null(""))
    lists = [as_block.get_column(name).to_list() for name in FRAME_COLUMNS]
    return lists[0], lists[1:-1], lists[-1]


def frame_copy_text(frame: pl.DataFrame, line_offset: int = 0, *, line_numbers: bool) -> bytes:
    r"""The frame's rows as PostgreSQL COPY text, exactly as ``loading.copy_text`` writes them.

    Columns: the line (plus ``line_offset``) only with ``line_numbers``, then the fields and
    has_gaiji; booleans ``t``/``f``, dates ISO, NULL ``\N`` for an absent 方書 or expiry.
    """
    written: list[pl.Expr] = []
    if line_numbers:
        written.append(pl.col("line") + line_offset)
    for field in (*CARD_LIST_FIELDS, "has_gaiji"):
        column = pl.col(field)
        if field in (*BOOLEAN_FIELDS, "has_gaiji"):
            column = pl.when(column).then(pl.lit("t")).otherwise(pl.lit("f"))
        elif field == "address_extra":
            column = pl.when(column == "").then(pl.lit(None, pl.String)).otherwise(column)
        written.append(column.alias(field))
    buffer = io.BytesIO()
    # Dates in polars' default format, ISO (years 1800..2199 have four digits).
    frame.select(written).write_csv(
        buffer,
        include_header=False,
        separator="\t",
        line_terminator="\n",
        quote_style="never",
        null_value="\\N",
    )
    return buffer.getvalue()
