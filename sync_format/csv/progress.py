"""Readers of the progress results: 交付前設定結果 (presetup) and 交付済結果 (issued)."""

from __future__ import annotations

import csv
import datetime as dt
import enum
from collections.abc import Mapping

import msgspec

from sync_format.csv.dates import parse_date
from sync_format.csv.normalize import (
    normalize_location_code,
    normalize_reservation_id,
    normalize_text,
)
from sync_format.csv.problems import CellError, Problem, ProblemCode
from sync_format.csv.source import (
    AUTO,
    EncodingError,
    Source,
    iter_records,
    map_header,
    open_text,
    unreadable,
)

PROGRESS_COLUMNS: dict[str, str] = {
    "製造管理番号": "reservation_id",
    "結果": "result",
    "実施日": "date",
    "交付場所コード": "location_code",
    "備考": "note",
}
_REQUIRED = frozenset({"reservation_id", "result", "date"})
_HEADERS = {field: header for header, field in PROGRESS_COLUMNS.items()}


class PresetupResult(enum.StrEnum):
    """Outcome of 交付前設定 for one card."""

    DONE = "done"  # 済
    FAILED = "failed"  # エラー


class IssuedResult(enum.StrEnum):
    """Outcome recorded in 交付済結果 for one card."""

    ISSUED = "issued"  # 交付済
    RETURNED = "returned"  # 返戻
    CANCELLED = "cancelled"  # 廃止


PRESETUP_CODES: dict[str, PresetupResult] = {
    "済": PresetupResult.DONE,
    "エラー": PresetupResult.FAILED,
}
ISSUED_CODES: dict[str, IssuedResult] = {
    "交付済": IssuedResult.ISSUED,
    "返戻": IssuedResult.RETURNED,
    "廃止": IssuedResult.CANCELLED,
}


class ProgressRow(msgspec.Struct, frozen=True, kw_only=True):
    """One valid row of a progress result file."""

    line: int
    reservation_id: str
    result: PresetupResult | IssuedResult
    date: dt.date
    location_code: str | None = None
    note: str | None = None


class ProgressResult(msgspec.Struct, kw_only=True):
    """Everything read from one progress result file."""

    rows: list[ProgressRow]
    problems: list[Problem]
    warnings: list[Problem]
    encoding: str

    @property
    def ok(self) -> bool:
        """Return whether the file can be imported (no problems)."""
        return not self.problems


def _parse_location_code(raw: str) -> str | None:
    """A 交付場所コード as the v1 schema allows it (and the database holds), None if blank."""
    return normalize_location_code(raw) if raw.strip() else None


def _parse_row(
    line: int,
    cells: list[str],
    index: dict[str, int],
    codes: Mapping[str, PresetupResult | IssuedResult],
    allow_era_overflow: bool,
) -> tuple[ProgressRow | None, list[Problem]]:
    problems: list[Problem] = []
    values: dict[str, object] = {}

    def cell(field: str) -> str:
        position = index.get(field)
        return cells[position] if position is not None and position < len(cells) else ""

    for field in ("reservation_id", "result", "date", "location_code"):
        raw = cell(field)
        try:
            if field in _REQUIRED and not raw.strip():
                raise CellError("required value is missing", ProblemCode.REQUIRED)
            if field == "reservation_id":
                values[field] = normalize_reservation_id(raw)
            elif field == "result":
                found = codes.get(normalize_text(raw))
                if found is None:
                    raise CellError(
                        f"unknown result; expected one of {'/'.join(codes)}",
                        ProblemCode.UNKNOWN_CODE,
                    )
                values[field] = found
            elif field == "date":
                values[field] = parse_date(raw, allow_era_overflow=allow_era_overflow)
            else:
                values[field] = _parse_location_code(raw)
        except CellError as error:
            problems.append(
                Problem(
                    code=error.code,
                    reason=error.reason,
                    line=line,
                    column=_HEADERS[field],
                    value=raw,
                )
            )
    if problems:
        return None, problems
    note = normalize_text(cell("note"))
    return (
        ProgressRow(
            line=line,
            note=note or None,
            **values,  # type: ignore[arg-type]
        ),
        [],
    )


def _read(
    source: Source,
    codes: Mapping[str, PresetupResult | IssuedResult],
    *,
    encoding: str,
    allow_era_overflow: bool,
) -> ProgressResult:
    result = ProgressResult(rows=[], problems=[], warnings=[], encoding=encoding)
    line = 1
    try:
        with open_text(source, encoding) as (text, chosen):
            result.encoding = chosen
            if text is None:
                result.problems.append(
                    Problem(code=ProblemCode.EMPTY_FILE, reason="the file is empty (no header row)")
                )
                return result
            records = iter_records(text)
            index: dict[str, int] | None = None
            for line, cells in records:
                if not cells:
                    continue
                if index is None:
                    index, problems, warnings = map_header(cells, PROGRESS_COLUMNS, _REQUIRED, line)
                    result.problems.extend(problems)
                    result.warnings.extend(warnings)
                    if problems:
                        return result
                    continue
                row, problems = _parse_row(line, cells, index, codes, allow_era_overflow)
                result.problems.extend(problems)
                if row is not None:
                    result.rows.append(row)
            if index is None:
                result.problems.append(
                    Problem(code=ProblemCode.EMPTY_FILE, reason="the file is empty (no header row)")
                )
            elif not result.rows and not result.problems:
                result.warnings.append(
                    Problem(code=ProblemCode.NO_ROWS, reason="the file has a header but no rows")
                )
    except EncodingError as error:
        result.problems.append(error.problem)
    except (UnicodeDecodeError, csv.Error) as error:
        result.problems.append(unreadable(error, line, result.encoding))
    return result


def read_presetup_results(
    source: Source, *, encoding: str = AUTO, allow_era_overflow: bool = False
) -> ProgressResult:
    """Read 交付前設定結果: results ``済`` (done) or ``エラー`` (failed)."""
    return _read(source, PRESETUP_CODES, encoding=encoding, allow_era_overflow=allow_era_overflow)


def read_issued_results(
    source: Source, *, encoding: str = AUTO, allow_era_overflow: bool = False
) -> ProgressResult:
    """Read 交付済結果: results ``交付済`` (issued), ``返戻`` (returned), ``廃止`` (cancelled)."""
    return _read(source, ISSUED_CODES, encoding=encoding, allow_era_overflow=allow_era_overflow)
