"""Problems found while reading a CSV file, reported all at once."""

from __future__ import annotations

import msgspec


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong (or worth a warning) in a CSV file.

    ``line`` is the physical line where the record starts (1-based; the header is line 1),
    or ``None`` for a problem with the whole file. ``code`` is stable and machine-readable
    (see ``ProblemCode``); ``reason`` is the human-readable explanation.
    """

    code: str
    reason: str
    line: int | None = None
    column: str | None = None
    value: str | None = None

    def describe(self) -> str:
        """Return a one-line description suitable for a staff-facing error report."""
        parts: list[str] = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.value is not None:
            parts.append(f"value {self.value!r}")
        where = ", ".join(parts)
        return f"{where}: {self.reason}" if where else self.reason


class ProblemCode:
    """Stable codes for problems and warnings (tests and translations key on these)."""

    # Whole-file problems: nothing in the file can be trusted.
    EMPTY_FILE = "file.empty"
    UNSUPPORTED_ENCODING = "file.unsupported_encoding"
    MALFORMED_CSV = "file.malformed_csv"
    MISSING_COLUMN = "header.missing_column"
    DUPLICATE_COLUMN = "header.duplicate_column"
    # Warnings about the file.
    NO_ROWS = "file.no_rows"
    UNKNOWN_COLUMN = "header.unknown_column"
    BLANK_LINE = "row.blank_line"
    # Row problems.
    WRONG_CELL_COUNT = "row.wrong_cell_count"
    REQUIRED = "value.required"
    MALFORMED = "value.malformed"
    UNKNOWN_CODE = "value.unknown_code"
    BAD_DATE = "value.bad_date"
    DUPLICATE_CONFLICT = "row.duplicate_conflict"
    DUPLICATE_IDENTICAL = "row.duplicate_identical"
    UNENCODABLE = "value.unencodable"
    # NUL or another C0 control character (TAB, CR and LF aside): no cell may hold one.
    CONTROL_CHARACTER = "value.control_character"


FILE_LEVEL_CODES = frozenset(
    {
        ProblemCode.EMPTY_FILE,
        ProblemCode.UNSUPPORTED_ENCODING,
        ProblemCode.MALFORMED_CSV,
        ProblemCode.MISSING_COLUMN,
        ProblemCode.DUPLICATE_COLUMN,
    }
)


class CellError(ValueError):
    """Raised by a field parser when one cell is bad; the reader turns it into a Problem."""

    def __init__(self, reason: str, code: str = ProblemCode.MALFORMED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
