"""Opening a CSV source: encoding detection, RFC 4180 records with physical line numbers."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
from collections.abc import Iterator, Mapping
from typing import BinaryIO, TextIO, cast

import msgspec

from sync_format.csv.normalize import (
    control_character_error,
    has_control_character,
    to_ascii_width,
)
from sync_format.csv.problems import Problem, ProblemCode

Source = str | os.PathLike[str] | bytes | BinaryIO

AUTO = "auto"
UTF8_BOM = "utf-8-sig"
UTF8 = "utf-8"
CP932 = "cp932"
SUPPORTED_ENCODINGS = (AUTO, UTF8_BOM, UTF8, CP932)
_ALIASES = {
    "utf8": UTF8,
    "utf-8": UTF8,
    "utf_8": UTF8,
    "utf-8-sig": UTF8_BOM,
    "utf_8_sig": UTF8_BOM,
    "cp932": CP932,
    "ms932": CP932,
    "windows-31j": CP932,
    "shift_jis": CP932,
    "shift-jis": CP932,
    "sjis": CP932,
    "auto": AUTO,
}
# How much of the file decides the encoding. A card list has Japanese in its header and
# every row, so one mebibyte is plenty; a later undecodable byte is still caught and
# reported as a file-level problem with its line.
SNIFF_SIZE = 1 << 20
_BOMS_REFUSED = {codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16"}


class EncodingError(ValueError):
    """The file's bytes are not UTF-8 or CP932 (a file-level problem)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.problem = Problem(code=ProblemCode.UNSUPPORTED_ENCODING, reason=reason)


def unreadable(error: UnicodeDecodeError | csv.Error, line: int, encoding: str) -> Problem:
    """The file-level problem of a file that cannot be read past ``line``."""
    if isinstance(error, UnicodeDecodeError):
        return Problem(
            code=ProblemCode.UNSUPPORTED_ENCODING,
            reason=f"unsupported encoding: bytes after line {line} are not valid {encoding}",
            line=line,
        )
    return Problem(code=ProblemCode.MALFORMED_CSV, reason=f"broken CSV quoting: {error}", line=line)


def canonical_encoding(name: str) -> str:
    """Map an encoding name from a profile or caller to one this package supports."""
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unsupported encoding {name!r}; use one of {', '.join(SUPPORTED_ENCODINGS)}"
        ) from None


def _decodes(prefix: bytes, encoding: str, *, complete: bool) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoder.decode(prefix, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(prefix: bytes, *, complete: bool, requested: str = AUTO) -> str:
    """Choose the encoding of a file from its first bytes, or raise EncodingError.

    BOM → ``utf-8-sig``; else strict UTF-8 if the bytes decode; else CP932 if they decode.
    ``complete`` says whether ``prefix`` is the whole file (a cut-off multi-byte character
    at the end of a partial prefix is not an error).
    """
    requested = canonical_encoding(requested)
    for bom, name in _BOMS_REFUSED.items():
        if prefix.startswith(bom):
            raise EncodingError(f"unsupported encoding: {name}; save the file as UTF-8 or CP932")
    if prefix.startswith(codecs.BOM_UTF8) and requested in (AUTO, UTF8, UTF8_BOM):
        return UTF8_BOM
    candidates = (UTF8, CP932) if requested == AUTO else (requested,)
    for candidate in candidates:
        if _decodes(prefix, candidate, complete=complete):
            return UTF8_BOM if candidate == UTF8 else candidate
    wanted = "UTF-8 or CP932 (Shift_JIS)" if requested == AUTO else requested
    raise EncodingError(f"unsupported encoding: the file is not valid {wanted}")


class _PrefixedRaw(io.RawIOBase):
    """A non-seekable byte stream with the already-sniffed prefix put back in front."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        chunk = self._rest.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@contextlib.contextmanager
def open_text(source: Source, encoding: str = AUTO) -> Iterator[tuple[TextIO | None, str]]:
    """Open a CSV source as text; yields ``(text, encoding)``, text ``None`` when empty.

    ``source`` is a path, the file's bytes, or a binary stream (left open for the caller).
    Raises EncodingError when the bytes are neither UTF-8 nor CP932.
    """
    with contextlib.ExitStack() as stack:
        if isinstance(source, bytes):
            binary: BinaryIO = io.BytesIO(source)
        elif isinstance(source, str | os.PathLike):
            binary = stack.enter_context(open(source, "rb"))  # noqa: PTH123 (path-like too)
        else:
            binary = source
        start = binary.tell() if binary.seekable() else None
        prefix = binary.read(SNIFF_SIZE)
        if not prefix:
            yield None, canonical_encoding(encoding) if encoding != AUTO else UTF8
            return
        chosen = detect_encoding(prefix, complete=len(prefix) < SNIFF_SIZE, requested=encoding)
        if start is not None:
            binary.seek(start)
            buffered = binary
        else:
            buffered = cast("BinaryIO", io.BufferedReader(_PrefixedRaw(prefix, binary)))
        text = io.TextIOWrapper(buffered, encoding=chosen, errors="strict", newline="")
        try:
            yield text, chosen
        finally:
            # The caller owns the binary stream; detach so closing the wrapper keeps it open.
            text.detach()


class ControlCharacterError(EncodingError):
    """Cells of the file hold control characters (see ``normalize.CONTROL_CHARACTERS``).

    An ``EncodingError``, so that every reader that reports an undecodable file reports
    this too, without code of its own: ``problem`` names the first such cell (line, column,
    value) and counts the others.
    """

    def __init__(self, problem: Problem) -> None:
        ValueError.__init__(self, problem.reason)
        self.problem = problem


def iter_records(
    text: TextIO, *, allow_control_characters: bool = False
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(physical start line, cells)`` for each RFC 4180 record.

    A quoted cell may hold commas and line breaks, so a record may span several physical
    lines; the line reported is where it starts. Raises ``csv.Error`` on broken quoting
    and ``UnicodeDecodeError`` on undecodable bytes.

    Unless ``allow_control_characters`` (for a reader that reports such cells itself), a cell
    holding a control character is refused: a record with one is not yielded, and after
    the last record ``ControlCharacterError`` names the first such cell and counts the
    rest, so the reader still sees every other record and reports its problems. The first
    non-blank record is taken as the header and names the columns; a control character
    in it raises at once, since the columns it names cannot be trusted.
    """
    reader = csv.reader(text, strict=True)
    previous = 0
    header: list[str] | None = None
    refused: list[Problem] = []
    for cells in reader:
        line = previous + 1
        previous = reader.line_num
        problem = None if allow_control_characters else _control_problem(line, cells, header)
        if problem is not None:
            if header is None:
                raise ControlCharacterError(problem)
            refused.append(problem)
            continue
        if header is None and cells:
            header = cells
        yield line, cells
    if refused:
        raise ControlCharacterError(_summary(refused))


def _control_problem(line: int, cells: list[str], header: list[str] | None) -> Problem | None:
    """The problem of the first cell of a record that holds a control character, if any."""
    if not has_control_character("".join(cells)):  # one search for the usual record
        return None
    for position, cell in enumerate(cells):
        error = control_character_error(cell)
        if error is None:
            continue
        if header is None:
            reason = f"header cell {position + 1} {error.reason}"
            return Problem(code=error.code, reason=reason, line=line, value=cell)
        column = clean_header(header[position]) if position < len(header) else f"#{position + 1}"
        return Problem(code=error.code, reason=error.reason, line=line, column=column, value=cell)
    return None


def _summary(refused: list[Problem]) -> Problem:
    """The first refused cell's problem, its reason counting the other refused records."""
    first = refused[0]
    if len(refused) == 1:
        return first
    others = len(refused) - 1
    shown = ", ".join(str(problem.line) for problem in refused[1:6])
    more = ", ..." if others > 5 else ""
    rows, lines = ("row holds", "line") if others == 1 else ("rows hold", "lines")
    reason = f"{first.reason}; {others} more {rows} control characters too ({lines} {shown}{more})"
    return msgspec.structs.replace(first, reason=reason)


def clean_header(cell: str) -> str:
    """Normalise a header cell for matching: stray BOM, surrounding spaces, full-width ASCII."""
    return to_ascii_width(cell.replace("\ufeff", "").strip())


def map_header(
    cells: list[str], columns: Mapping[str, str], required: frozenset[str], line: int = 1
) -> tuple[dict[str, int], list[Problem], list[Problem]]:
    """Match header cells to fields; returns ``(index by field, problems, warnings)``.

    ``columns`` maps a header text to a field name. Missing required columns and repeated
    known columns are file-level problems; unknown columns are warnings and are ignored.
    """
    index: dict[str, int] = {}
    problems: list[Problem] = []
    warnings: list[Problem] = []
    wanted = {clean_header(header): field for header, field in columns.items()}
    for position, cell in enumerate(cells):
        header = clean_header(cell)
        field = wanted.get(header)
        if field is None:
            warnings.append(
                Problem(
                    code=ProblemCode.UNKNOWN_COLUMN,
                    reason=f"unknown column {header!r} (column {position + 1}) is ignored",
                    line=line,
                    column=header,
                )
            )
        elif field in index:
            problems.append(
                Problem(
                    code=ProblemCode.DUPLICATE_COLUMN,
                    reason=f"column {header!r} appears more than once",
                    line=line,
                    column=header,
                )
            )
        else:
            index[field] = position
    headers_by_field = {field: header for header, field in columns.items()}
    for field in sorted(required - index.keys(), key=list(columns.values()).index):
        header = headers_by_field[field]
        problems.append(
            Problem(
                code=ProblemCode.MISSING_COLUMN,
                reason=f"required column {header!r} is missing from the header",
                line=line,
                column=header,
            )
        )
    return index, problems, warnings
