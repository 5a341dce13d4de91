"""Reader of カード発行一覧CSV (the card list): validated, typed rows and every problem."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

import msgspec

from sync_format.csv.dates import parse_date
from sync_format.csv.normalize import (
    has_control_character,
    has_private_use,
    normalize_alphanumeric,
    normalize_digits,
    normalize_katakana,
    normalize_postal_code,
    normalize_reservation_id,
    normalize_text,
    refuse_control_characters,
    to_full_width_katakana,
)
from sync_format.csv.problems import CellError, Problem, ProblemCode
from sync_format.csv.profile import (
    CARD_LIST_FIELDS,
    REQUIRED_FIELDS,
    CardListProfile,
    code_key,
    default_profile,
)
from sync_format.csv.source import (
    EncodingError,
    Source,
    iter_records,
    map_header,
    open_text,
    unreadable,
)


class Sex(enum.StrEnum):
    """Sex as the card list records it."""

    MALE = "male"
    FEMALE = "female"


class CardListRow(msgspec.Struct, frozen=True, gc=False):
    """One valid, normalised row of the card list; ``line`` is its physical start line.

    Field order is the default layout's column order (the reader builds rows
    positionally); ``gc=False`` because rows hold only scalars and a file has millions.
    """

    line: int
    reservation_id: str
    application_id: str
    shipment_no: str
    name: str
    name_kana: str
    birth_date: dt.date
    sex: Sex
    postal_code: str
    address: str
    address_extra: str = ""
    certificate_signature: bool = False
    certificate_authentication: bool = False
    card_expiry: dt.date | None = None
    has_gaiji: bool = False

    @property
    def password(self) -> str:
        """Return the resident's initial password: birth month and day, ``MMDD``."""
        return f"{self.birth_date.month:02d}{self.birth_date.day:02d}"


class CardListResult(msgspec.Struct, kw_only=True):
    """Everything read from one card list: valid rows, problems (bad rows) and warnings."""

    rows: list[CardListRow]
    problems: list[Problem]
    warnings: list[Problem]
    encoding: str

    @property
    def ok(self) -> bool:
        """Return whether the file can be imported (no problems; warnings are fine)."""
        return not self.problems


Parser = Callable[[str], Any]
_Item = TypeVar("_Item")
_FINGERPRINT_MASK = (1 << 48) - 1
_LINE_MASK = (1 << 32) - 1
_ABSENT = sys.maxsize  # position of a field the file does not have: always reads as ""
_MISSING = "required value is missing"
# Distinct written dates remembered per reader; a real file has far fewer.
_DATE_CACHE_LIMIT = 200_000


def _required_text(raw: str) -> str:
    value = raw.strip()
    # normalize_text, inlined for the hot loop: only text with half-width kana changes.
    if value and max(value) >= "\uff61":
        value = to_full_width_katakana(value)
    if not value:
        raise CellError(_MISSING, ProblemCode.REQUIRED)
    return value


def _build_parsers(profile: CardListProfile) -> dict[str, Parser]:
    """Return one parser per field; each raises CellError with the reason a cell is bad.

    The date and code parsers refuse a control character themselves (on a cache miss, so
    at no cost for the usual cell): the block reader fills its caches through them alone,
    and a code or date parser would otherwise trim some away (``1`` and U+001C reads as 1).
    The others are only called by ``CardListStream._parse``, which checks first.
    """
    overflow = profile.allow_era_overflow
    sex_codes = {code: Sex(meaning) for code, meaning in profile.sex_codes.items()}
    certificate_codes = profile.certificate_codes
    dates: dict[str, dt.date] = {}

    def date(raw: str) -> dt.date:
        # A dict lookup on the raw cell first: birth dates repeat a lot in a big file.
        found = dates.get(raw)
        if found is None:
            refuse_control_characters(raw)
            if not raw or raw.isspace():
                raise CellError(_MISSING, ProblemCode.REQUIRED)
            found = parse_date(raw, allow_era_overflow=overflow)
            if len(dates) < _DATE_CACHE_LIMIT:
                dates[raw] = found
        return found

    def optional_date(raw: str) -> dt.date | None:
        if not raw:
            return None
        if raw.isspace():
            refuse_control_characters(raw)  # str.isspace() takes U+001C..U+001F for spaces
            return None
        return date(raw)

    def sex(raw: str) -> Sex:
        found = sex_codes.get(raw)
        if found is None:
            found = sex_codes.get(code_key(refuse_control_characters(raw)))
        if found is None:
            if not raw.strip():
                raise CellError(_MISSING, ProblemCode.REQUIRED)
            known = "/".join(code for code in sex_codes if code)
            raise CellError(f"unknown sex code; expected one of {known}", ProblemCode.UNKNOWN_CODE)
        return found

    def certificate(raw: str) -> bool:
        found = certificate_codes.get(raw)
        if found is None:
            key = code_key(refuse_control_characters(raw))
            found = certificate_codes.get(key)
            if found is None:
                if not key:
                    return False  # FORMATS.md: blank = 無
                known = "/".join(code for code in certificate_codes if code)
                raise CellError(
                    f"unknown code; expected one of {known} or blank", ProblemCode.UNKNOWN_CODE
                )
        return found

    return {
        "reservation_id": normalize_reservation_id,
        "application_id": lambda raw: normalize_digits(raw, 23, "application ID"),
        "shipment_no": lambda raw: normalize_alphanumeric(raw, 20, "shipment number"),
        "name": _required_text,
        "name_kana": normalize_katakana,
        "birth_date": date,
        "sex": sex,
        "postal_code": normalize_postal_code,
        "address": _required_text,
        "address_extra": normalize_text,
        "certificate_signature": certificate,
        "certificate_authentication": certificate,
        "card_expiry": optional_date,
    }


class CardListStream:
    """Streaming reader: iterate for valid rows; ``problems`` and ``warnings`` fill up as it goes.

    Meant for very large files (the issuance import streams rows into PostgreSQL COPY). A
    row is yielded as soon as it is valid on its own, so a later row can still turn out to
    conflict with it (same reservation_id, different content): the caller must check
    ``problems`` after the last row and roll back if there are any. Identical duplicates
    are yielded once and reported as warnings.
    """

    def __init__(self, source: Source, profile: CardListProfile | None = None) -> None:
        self.source = source
        self.profile = profile or default_profile()
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.encoding: str = self.profile.encoding
        self.rows_read = 0
        self._parsers = _build_parsers(self.profile)

    @property
    def ok(self) -> bool:
        """Return whether no problem has been found so far."""
        return not self.problems

    def __iter__(self) -> Iterator[CardListRow]:
        # _parse reports control characters a cell at a time, as the block reader does.
        return self._read(
            lambda text: self._rows(iter_records(text, allow_control_characters=True))
        )

    def _read(self, body: Callable[[TextIO], Iterator[_Item]]) -> Iterator[_Item]:
        """Open the source and run ``body`` on its text; empty or undecodable is a problem."""
        try:
            with open_text(self.source, self.profile.encoding) as (text, encoding):
                self.encoding = encoding
                if text is None:
                    self._file_problem(ProblemCode.EMPTY_FILE, "the file is empty (no header row)")
                    return
                yield from body(text)
        except EncodingError as error:
            self.problems.append(error.problem)

    def _file_problem(self, code: str, reason: str, line: int | None = None) -> None:
        self.problems.append(Problem(code=code, reason=reason, line=line))

    def _note_if_no_rows(self, data_rows: int) -> None:
        """After the last record: a header without rows is a warning, no rows at all a problem."""
        if data_rows == 0 and self.profile.header:
            self.warnings.append(
                Problem(code=ProblemCode.NO_ROWS, reason="the file has a header but no rows")
            )
        elif data_rows == 0:
            self._file_problem(ProblemCode.EMPTY_FILE, "the file has no rows")

    def _plan(
        self, records: Iterator[tuple[int, list[str]]]
    ) -> tuple[list[tuple[str, int, Parser]], int] | None:
        """Work out where each field is; returns ``(plan, expected cell count)``.

        The plan has one ``(column label, position, parser)`` per field, in
        ``CARD_LIST_FIELDS`` order; a field the file lacks gets position ``_ABSENT``.
        """
        profile = self.profile
        if not profile.header:
            positions = {field: int(where) - 1 for field, where in profile.columns.items()}
            plan = [
                (
                    f"#{positions[field] + 1}" if field in positions else field,
                    positions.get(field, _ABSENT),
                    self._parsers[field],
                )
                for field in CARD_LIST_FIELDS
            ]
            return plan, max(positions.values()) + 1
        for line, cells in records:
            if not cells:
                continue
            index, problems, warnings = map_header(
                cells, profile.header_columns(), REQUIRED_FIELDS, line
            )
            self.problems.extend(problems)
            self.warnings.extend(warnings)
            if problems:
                return None
            headers = {field: str(where) for field, where in profile.columns.items()}
            plan = [
                (headers.get(field, field), index.get(field, _ABSENT), self._parsers[field])
                for field in CARD_LIST_FIELDS
            ]
            return plan, len(cells)
        self._file_problem(ProblemCode.EMPTY_FILE, "the file is empty (no header row)")
        return None

    def _rows(self, records: Iterator[tuple[int, list[str]]]) -> Iterator[CardListRow]:
        line = 1
        try:
            planned = self._plan(records)
            if planned is None:
                return
            plan, width = planned
            seen: dict[str, int] = {}
            data_lines = 0
            for line, cells in records:
                if not cells:
                    self.warnings.append(
                        Problem(code=ProblemCode.BLANK_LINE, reason="blank line ignored", line=line)
                    )
                    continue
                data_lines += 1
                row = self._parse(line, cells, plan, width, seen)
                if row is not None:
                    yield row
            self._note_if_no_rows(data_lines)
        except (UnicodeDecodeError, csv.Error) as error:
            self.problems.append(unreadable(error, line, self.encoding))

    def _parse(
        self,
        line: int,
        cells: list[str],
        plan: list[tuple[str, int, Parser]],
        width: int,
        seen: dict[str, int],
    ) -> CardListRow | None:
        # The hot loop of a 1,000,000-row import: positional values, no per-cell regex.
        self.rows_read += 1
        count = len(cells)
        problems: list[Problem] = []
        if count != width and (self.profile.header or count < width):
            problems.append(
                Problem(
                    code=ProblemCode.WRONG_CELL_COUNT,
                    reason=f"row has {count} cells, expected {width}",
                    line=line,
                )
            )
        values: list[Any] | None = None
        # One search over the row: a cell holding a control character (which PostgreSQL
        # may refuse, or a parser trim away) goes to the cell-by-cell path below.
        if not has_control_character("".join(cells)):
            try:
                # Fast path: every cell valid (parsers are pure, so a bad row is simply
                # parsed again cell by cell below to report every bad cell).
                values = [
                    parse(cells[position] if position < count else "")
                    for _, position, parse in plan
                ]
            except CellError:
                values = None
        if values is None:
            values = []
            for column, position, parse in plan:
                raw = cells[position] if position < count else ""
                try:
                    values.append(parse(refuse_control_characters(raw)))
                except CellError as error:
                    problems.append(
                        Problem(
                            code=error.code,
                            reason=error.reason,
                            line=line,
                            column=column,
                            value=raw,
                        )
                    )
        if problems:
            self.problems.extend(problems)
            return None
        reservation_id: str = values[0]
        # One int per seen ID (48-bit content hash, 32-bit line) keeps a 1,000,000-row
        # file's duplicate check near 100 MB instead of a tuple per row.
        fingerprint = hash(tuple(values)) & _FINGERPRINT_MASK
        earlier = seen.get(reservation_id)
        if earlier is not None:
            first = (earlier & _LINE_MASK, earlier >> 32)
            self._report_duplicate(line, plan[0][0], reservation_id, first, fingerprint)
            return None
        seen[reservation_id] = fingerprint << 32 | (line & _LINE_MASK)
        # values: ..., name (3), ..., address (8), address_extra (9), ...
        gaiji = has_private_use(f"{values[3]}{values[8]}{values[9]}")
        values.append(gaiji)
        return CardListRow(line, *values)

    def _report_duplicate(
        self, line: int, column: str, reservation_id: str, earlier: tuple[int, int], print_: int
    ) -> None:
        first_line, first_print = earlier
        if first_print == print_:
            self.warnings.append(
                Problem(
                    code=ProblemCode.DUPLICATE_IDENTICAL,
                    reason=f"same row as line {first_line}; kept once",
                    line=line,
                    column=column,
                    value=reservation_id,
                )
            )
            return
        self.problems.append(
            Problem(
                code=ProblemCode.DUPLICATE_CONFLICT,
                reason=f"reservation ID also on line {first_line} with different content",
                line=line,
                column=column,
                value=reservation_id,
            )
        )


def iter_card_list(source: Source, profile: CardListProfile | None = None) -> CardListStream:
    """Return a streaming reader over the card list (see ``CardListStream``)."""
    return CardListStream(source, profile)


def read_card_list(source: Source, profile: CardListProfile | None = None) -> CardListResult:
    """Read and validate a whole card list; every problem is reported, not only the first.

    Rows whose reservation ID conflicts with another row are left out of ``rows``.
    """
    stream = CardListStream(source, profile)
    rows = list(stream)
    conflicting = {
        problem.value
        for problem in stream.problems
        if problem.code == ProblemCode.DUPLICATE_CONFLICT
    }
    if conflicting:
        rows = [row for row in rows if row.reservation_id not in conflicting]
    return CardListResult(
        rows=rows, problems=stream.problems, warnings=stream.warnings, encoding=stream.encoding
    )
