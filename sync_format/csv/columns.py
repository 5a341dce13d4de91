"""Checking the card list a column at a time: which cells the row parsers would leave alone.

The row parsers of ``card_list`` decide every value. Most cells of a real card list are
already in the canonical form those parsers return (the national system writes them that
way), and such a cell is its own parsed value. A column of a few thousand cells can be
checked for that with one regular-expression match over the whole column (C speed instead
of a Python call per cell). Each pattern here accepts only strings that its field's parser
returns unchanged; ``tests/unit/sync_format/csv/test_csv_columns.py`` checks that claim.
Codes and dates are not patterns but caches: raw cell → the parser's own answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from sync_format.csv.normalize import CONTROL_CHARACTERS
from sync_format.csv.problems import CellError

# Joins a column's cells for one match; no cell may hold it (a block with NUL takes the
# row-at-a-time path, whose row parser reports the cell: NUL is a control character).
SEPARATOR: Final = "\x00"
# What str.strip() strips (the characters str.isspace() calls spaces), spelled out rather
# than \s so that Rust's regex (the polars path) reads the same set: its \s differs.
WHITESPACE: Final = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Not at the edges: what the parsers strip. Nowhere: the control characters (the separator
# among them), which the row parser refuses, and half-width katakana.
_EDGE: Final = rf"[^{WHITESPACE}{CONTROL_CHARACTERS}\uff61-\uff9f]"
_INNER: Final = rf"[^{CONTROL_CHARACTERS}\uff61-\uff9f]"
# Trimmed, non-empty, no control character, no half-width katakana (what normalize_text
# would widen).
_TEXT: Final = f"{_EDGE}(?:{_INNER}*{_EDGE})?"
_KATAKANA_EDGE: Final = "[\u30a1-\u30fe]"
_KATAKANA_INNER: Final = "[\u30a1-\u30fe\u3000 ]"

# Field → the regular expression of one canonical cell.
CANONICAL_CELLS: Final[dict[str, str]] = {
    "reservation_id": "[0-9A-Z]{3}-[0-9]{6}",
    "application_id": "[0-9]{23}",
    "shipment_no": "[0-9A-Z]{1,20}",
    "name": _TEXT,
    "name_kana": f"{_KATAKANA_EDGE}(?:{_KATAKANA_INNER}*{_KATAKANA_EDGE})?",
    "postal_code": "[0-9]{3}-[0-9]{4}",
    "address": _TEXT,
    "address_extra": f"(?:{_TEXT})?",
}
# Fields read through a cache of the parser's answers, and how an answer is written.
CACHED_FIELDS: Final[dict[str, Callable[[Any], Any]]] = {
    "birth_date": lambda value: value.isoformat(),
    "card_expiry": lambda value: "" if value is None else value.isoformat(),
    "sex": lambda value: value.value,
    "certificate_signature": bool,
    "certificate_authentication": bool,
}
# Distinct cells remembered per cached field; a real file has far fewer.
CACHE_LIMIT: Final = 200_000


class PatternColumn:
    """A field whose canonical cells a pattern recognises; the value is the cell itself."""

    def __init__(self, cell: str) -> None:
        self._cell = re.compile(cell)
        self._column = re.compile(f"(?:{cell})(?:{SEPARATOR}(?:{cell}))*")

    def check(self, cells: Sequence[str]) -> tuple[Sequence[str], list[int]]:
        """Return ``(values, positions the row parser must decide)``."""
        if self._column.fullmatch(SEPARATOR.join(cells)):
            return cells, []
        match = self._cell.fullmatch
        return cells, [index for index, cell in enumerate(cells) if not match(cell)]


class CachedColumn:
    """A code or date field: each distinct cell parsed once by the field's own parser."""

    def __init__(self, parse: Callable[[str], Any], write: Callable[[Any], Any]) -> None:
        self._parse = parse
        self._write = write
        self._known: dict[str, Any] = {}

    def check(self, cells: Sequence[str]) -> tuple[list[Any], list[int]]:
        """Return ``(values, positions the row parser must decide)`` (the bad cells)."""
        known = self._known
        values = list(map(known.get, cells))
        if None not in values:
            return values, []
        bad: list[int] = []
        for index in [index for index, value in enumerate(values) if value is None]:
            cell = cells[index]
            try:
                answer = self._write(self._parse(cell))
            except CellError:
                bad.append(index)
                continue
            values[index] = answer
            if len(known) < CACHE_LIMIT:
                known[cell] = answer
        return values, bad


def column_checks(parsers: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    """One checker per card list field, built on that field's row parser."""
    checks: dict[str, Any] = {field: PatternColumn(cell) for field, cell in CANONICAL_CELLS.items()}
    checks.update(
        {field: CachedColumn(parsers[field], write) for field, write in CACHED_FIELDS.items()}
    )
    return checks
