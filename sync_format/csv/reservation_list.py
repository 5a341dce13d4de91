"""予約一覧CSV (reservation list): writer and reader, safe to open in a spreadsheet."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import enum
import io
import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import msgspec

from sync_format.csv.dates import parse_date
from sync_format.csv.normalize import (
    normalize_id,
    normalize_location_code,
    normalize_reservation_id,
    without_control_characters,
)
from sync_format.csv.problems import CellError, Problem, ProblemCode
from sync_format.csv.source import (
    AUTO,
    CP932,
    UTF8,
    UTF8_BOM,
    EncodingError,
    Source,
    canonical_encoding,
    iter_records,
    map_header,
    open_text,
    unreadable,
)
from sync_format.v1.records import ConfirmationCode


class ReservationStatus(enum.StrEnum):
    """予約結果."""

    BOOKED = "booked"  # 予約済
    CHANGED = "changed"  # 変更済
    CANCELLED = "cancelled"  # 取消


class Channel(enum.StrEnum):
    """予約経路: how the booking was made."""

    WEB = "web"
    PHONE = "phone"  # 電話


class ReservationListRow(msgspec.Struct, frozen=True, kw_only=True):
    """One row of 予約一覧CSV (the password is never in this file)."""

    confirmation_code: str
    reservation_id: str
    location_code: str
    location_name: str
    date: dt.date
    start_time: dt.time
    end_time: dt.time
    status: ReservationStatus
    channel: Channel
    email: str | None = None
    companion_ids: tuple[str, ...] = ()
    memo: str = ""
    updated_at: dt.datetime


class ReservationListResult(msgspec.Struct, kw_only=True):
    """Everything read from one reservation list.

    ``lines[i]`` is the physical line where ``rows[i]`` starts (the header is line 1). It
    is kept beside the rows, not in them: a row is what the booking says, and a row read
    back equals the row written.
    """

    rows: list[ReservationListRow]
    problems: list[Problem]
    warnings: list[Problem]
    encoding: str
    lines: list[int] = msgspec.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether the file can be imported (no problems)."""
        return not self.problems


RESERVATION_LIST_COLUMNS: dict[str, str] = {
    "予約番号": "confirmation_code",
    "予約用ID": "reservation_id",
    "交付場所コード": "location_code",
    "交付場所": "location_name",
    "予約日": "date",
    "開始時刻": "start_time",
    "終了時刻": "end_time",
    "予約結果": "status",
    "予約経路": "channel",
    "電子メールアドレス": "email",
    "同時予約者ID": "companion_ids",
    "メモ": "memo",
    "更新日時": "updated_at",
}
_OPTIONAL = frozenset({"email", "companion_ids", "memo"})
_REQUIRED = frozenset(RESERVATION_LIST_COLUMNS.values()) - _OPTIONAL
_HEADERS = {field: header for header, field in RESERVATION_LIST_COLUMNS.items()}
STATUS_TEXT = {
    ReservationStatus.BOOKED: "予約済",
    ReservationStatus.CHANGED: "変更済",
    ReservationStatus.CANCELLED: "取消",
}
CHANNEL_TEXT = {Channel.WEB: "web", Channel.PHONE: "電話"}
_STATUS_BY_TEXT = {text: status for status, text in STATUS_TEXT.items()}
_CHANNEL_BY_TEXT = {text: channel for channel, text in CHANNEL_TEXT.items()}
COMPANION_SEPARATOR = ";"

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(cell: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula.

    Cells that already start with quotes followed by a formula character get one more
    quote, so ``restore_cell`` can always undo exactly what was added.
    """
    return "'" + cell if cell.lstrip("'").startswith(_FORMULA_STARTS) else cell


def restore_cell(cell: str) -> str:
    """Undo ``neutralize_cell``: drop the one ``'`` it added, and nothing else."""
    if cell.startswith("'") and cell.lstrip("'").startswith(_FORMULA_STARTS):
        return cell[1:]
    return cell


def _format_time(value: dt.time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def reservation_list_cells(row: ReservationListRow) -> list[str]:
    """Return the (neutralised) cells of one row, in column order."""
    cells = [
        row.confirmation_code,
        row.reservation_id,
        row.location_code,
        without_control_characters(row.location_name),
        row.date.isoformat(),
        _format_time(row.start_time),
        _format_time(row.end_time),
        STATUS_TEXT[row.status],
        CHANNEL_TEXT[row.channel],
        without_control_characters(row.email or ""),
        COMPANION_SEPARATOR.join(row.companion_ids),
        without_control_characters(row.memo),
        row.updated_at.isoformat(),
    ]
    return [neutralize_cell(cell) for cell in cells]


def write_reservation_list(
    target: str | os.PathLike[str] | BinaryIO,
    rows: Iterable[ReservationListRow],
    *,
    encoding: str = UTF8_BOM,
) -> int:
    """Write 予約一覧CSV: UTF-8 with BOM by default, or ``cp932``; returns the row count.

    Raises ValueError naming the row when a character cannot be written in CP932.
    """
    chosen = canonical_encoding(encoding)
    if chosen not in (UTF8_BOM, UTF8, CP932):
        raise ValueError(f"cannot write a reservation list in {encoding!r}")
    with contextlib.ExitStack() as stack:
        if isinstance(target, str | os.PathLike):
            binary: BinaryIO = stack.enter_context(open(target, "wb"))  # noqa: PTH123
        else:
            binary = target
        text = io.TextIOWrapper(binary, encoding=chosen, errors="strict", newline="")
        try:
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(list(RESERVATION_LIST_COLUMNS))
            count = 0
            for row in rows:
                try:
                    writer.writerow(reservation_list_cells(row))
                except UnicodeEncodeError as error:
                    bad = error.object[error.start : error.end]
                    raise ValueError(
                        f"reservation {row.confirmation_code}: {bad!r} cannot be written in "
                        f"{chosen}"
                    ) from None
                count += 1
            return count
        finally:
            text.flush()
            text.detach()


def _parse_time(raw: str) -> dt.time:
    hours, _, minutes = raw.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise CellError("expected a time HH:MM")
    try:
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise CellError("no such time of day") from None


def _parse_timestamp(raw: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise CellError("expected an ISO 8601 timestamp with offset") from None
    if value.tzinfo is None:
        raise CellError("the timestamp has no UTC offset")
    return value


def _parse_required_text(raw: str) -> str:
    if not raw.strip():
        raise CellError("required value is missing", ProblemCode.REQUIRED)
    return raw


def _parse_confirmation_code(raw: str) -> str:
    # The reservation zone shows a code to residents as ``K7QX-M3PA``; the code itself,
    # as bundles carry it, has no hyphen, so a hand-typed display form still matches.
    value = normalize_id(raw).replace("-", "")
    if not value:
        raise CellError("required value is missing", ProblemCode.REQUIRED)
    try:
        return msgspec.convert(value, ConfirmationCode)
    except msgspec.ValidationError:
        raise CellError("not a confirmation code: 4 to 16 letters or digits") from None


def _parse_email(raw: str) -> str | None:
    value = raw.strip()
    if value and "@" not in value:
        raise CellError("not an e-mail address")
    return value or None


def _parse_companions(raw: str) -> tuple[str, ...]:
    parts = [part for part in raw.split(COMPANION_SEPARATOR) if part.strip()]
    return tuple(normalize_reservation_id(part) for part in parts)


def _lookup(table: dict[str, Any], what: str) -> Any:
    def parse(raw: str) -> Any:
        found = table.get(raw.strip()) or table.get(raw.strip().lower())
        if found is None:
            raise CellError(f"unknown {what}; expected {'/'.join(table)}", ProblemCode.UNKNOWN_CODE)
        return found

    return parse


_PARSERS: dict[str, Any] = {
    "confirmation_code": _parse_confirmation_code,
    "reservation_id": normalize_reservation_id,
    "location_code": normalize_location_code,
    "location_name": _parse_required_text,
    "date": parse_date,
    "start_time": _parse_time,
    "end_time": _parse_time,
    "status": _lookup(_STATUS_BY_TEXT, "result"),
    "channel": _lookup(_CHANNEL_BY_TEXT, "channel"),
    "email": _parse_email,
    "companion_ids": _parse_companions,
    "memo": str,
    "updated_at": _parse_timestamp,
}


def _parse_row(
    line: int, cells: list[str], index: dict[str, int]
) -> tuple[ReservationListRow | None, list[Problem]]:
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for field, position in index.items():
        raw = restore_cell(cells[position]) if position < len(cells) else ""
        try:
            if field in _REQUIRED and not raw.strip():
                raise CellError("required value is missing", ProblemCode.REQUIRED)
            values[field] = _PARSERS[field](raw)
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
    if not problems and values["end_time"] <= values["start_time"]:
        problems.append(
            Problem(
                code=ProblemCode.MALFORMED,
                reason="終了時刻 must be after 開始時刻",
                line=line,
                column=_HEADERS["end_time"],
                value=_format_time(values["end_time"]),
            )
        )
    if problems:
        return None, problems
    return ReservationListRow(**values), []


def _records(source: Source, encoding: str, result: ReservationListResult) -> Iterator[Any]:
    """Yield ``(line, cells)`` records, turning file-level failures into problems."""
    line = 1
    try:
        with open_text(source, encoding) as (text, chosen):
            result.encoding = chosen
            if text is None:
                return
            for line, cells in iter_records(text):
                yield line, cells
    except EncodingError as error:
        result.problems.append(error.problem)
    except (UnicodeDecodeError, csv.Error) as error:
        result.problems.append(unreadable(error, line, result.encoding))


def read_reservation_list(source: Source, *, encoding: str = AUTO) -> ReservationListResult:
    """Read 予約一覧CSV written by ``write_reservation_list`` (or by hand in a spreadsheet)."""
    result = ReservationListResult(rows=[], problems=[], warnings=[], encoding=encoding)
    index: dict[str, int] | None = None
    for line, cells in _records(source, encoding, result):
        if not cells:
            continue
        if index is None:
            index, problems, warnings = map_header(cells, RESERVATION_LIST_COLUMNS, _REQUIRED, line)
            result.problems.extend(problems)
            result.warnings.extend(warnings)
            if problems:
                return result
            continue
        row, problems = _parse_row(line, cells, index)
        result.problems.extend(problems)
        if row is not None:
            result.rows.append(row)
            result.lines.append(line)
    if index is None and not result.problems:
        result.problems.append(
            Problem(code=ProblemCode.EMPTY_FILE, reason="the file is empty (no header row)")
        )
    elif index is not None and not result.rows and not result.problems:
        result.warnings.append(
            Problem(code=ProblemCode.NO_ROWS, reason="the file has a header but no rows")
        )
    return result
