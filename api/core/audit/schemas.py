"""What the access-log API answers (msgspec Structs), and the CSV export's encoding."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from typing import Final

import msgspec

from api.core.audit.chain import ChainedEntry

CSV_COLUMNS: Final = (
    "sequence",
    "occurred_at",
    "zone",
    "actor_kind",
    "actor",
    "terminal",
    "client_address",
    "method",
    "route",
    "resource_ids",
    "outcome",
    "status",
    "duration_ms",
    "request_id",
    "detail",
    "previous_hash",
    "entry_hash",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class AccessLogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One access-log entry as the search answers it."""

    sequence: int
    occurred_at: dt.datetime
    zone: str
    actor_kind: str
    actor: str | None
    terminal: str | None
    client_address: str | None
    method: str
    route: str
    resource_ids: list[str]
    outcome: str
    status: int | None
    duration_ms: int | None
    request_id: str | None
    detail: dict[str, str]
    previous_hash: str
    entry_hash: str


class AccessLogPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of search results, newest first; ``next_before`` fetches the next page."""

    items: list[AccessLogEntry]
    next_before: int | None


def to_schema(entry: ChainedEntry) -> AccessLogEntry:
    """The API form of an entry."""
    return AccessLogEntry(**{name: getattr(entry, name) for name in CSV_COLUMNS})


def neutralise(cell: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with ``'`` so it stays text."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _cell(entry: ChainedEntry, name: str) -> str:
    value = getattr(entry, name)
    if value is None:
        return ""
    if name == "occurred_at":
        return str(value.isoformat())
    if name == "resource_ids":
        return " ".join(value)
    if name == "detail":
        return msgspec.json.encode(value, order="sorted").decode()
    return str(value)


def csv_lines(entries: Iterable[ChainedEntry], *, header: bool) -> str:
    """CSV text (RFC 4180, CRLF) of entries, every cell neutralised against formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow([neutralise(_cell(entry, name)) for name in CSV_COLUMNS])
    return buffer.getvalue()
