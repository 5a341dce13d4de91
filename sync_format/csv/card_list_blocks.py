"""Reader of the card list a block of rows at a time, as columns: the bulk import's reader.

``CardListStream`` parses a row at a time, ~15 µs a row in CPython. This reader cuts the
file into blocks of whole records and decodes each itself (so an undecodable byte is
reported on its own line), splits a block without quotes with ``str.split`` (a block with
quotes goes through the csv module), and checks each column at once
(``columns``): canonical cells pass unchanged, codes and dates come from caches of the
field parsers' own answers, and any row with another cell is parsed by the row parser of
``CardListStream``, which reports its problems exactly as the row reader does. So both
readers accept the same rows with the same values and report the same problems.

One difference, on purpose: this reader does not look for the same reservation ID twice.
A bulk loader reads a large file in parallel parts, so it must check that across the whole
file anyway (the issuance import does it in PostgreSQL).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Final

import msgspec

from sync_format.csv.card_list import CardListRow, CardListStream, Parser
from sync_format.csv.columns import SEPARATOR, column_checks
from sync_format.csv.normalize import PRIVATE_USE
from sync_format.csv.problems import Problem, ProblemCode
from sync_format.csv.profile import CARD_LIST_FIELDS

# Bytes read per block (about 7,000 rows of a typical card list).
BLOCK_BYTES: Final = 1 << 20
# 氏名, 住所 and 方書: the fields whose 外字 staff must map.
_GAIJI_FIELDS: Final = tuple(map(CARD_LIST_FIELDS.index, ("name", "address", "address_extra")))


class CardListBlock(msgspec.Struct, gc=False):
    """Valid rows of the card list as columns (``CARD_LIST_FIELDS`` order).

    Text fields hold the normalised text ("" for an absent 方書); dates are ISO
    ``YYYY-MM-DD`` ("" for an absent expiry); ``sex`` holds the Sex value; certificates are
    booleans. ``lines`` holds each row's physical start line.
    """

    lines: list[int]
    columns: list[list[Any]]
    has_gaiji: list[bool]


def _row_values(row: CardListRow) -> list[Any]:
    """A row of the row reader written as the block's column values."""
    expiry = row.card_expiry.isoformat() if row.card_expiry is not None else ""
    return [
        row.reservation_id,
        row.application_id,
        row.shipment_no,
        row.name,
        row.name_kana,
        row.birth_date.isoformat(),
        row.sex.value,
        row.postal_code,
        row.address,
        row.address_extra,
        row.certificate_signature,
        row.certificate_authentication,
        expiry,
    ]


class _Undecodable(Exception):
    """Bytes of the file are not valid in its encoding; ``line`` is where they are."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _line_ends(data: bytes | str, end: int | None = None) -> int:
    """How many lines end in ``data[:end]`` (LF, CRLF and a lone CR each end one)."""
    part = data[:end] if end is not None else data
    if isinstance(part, bytes):
        return part.count(b"\n") + part.count(b"\r") - part.count(b"\r\n")
    return part.count("\n") + part.count("\r") - part.count("\r\n")


def _after_line_end(data: bytes, end: int) -> int:
    """Just past the last line end before ``end`` that does not split a CRLF; 0 if none."""
    feed = data.rfind(b"\n", 0, end)
    carriage = data.rfind(b"\r", 0, end)
    if carriage > feed and carriage + 1 < len(data) and data[carriage + 1] != ord("\n"):
        return carriage + 1  # a lone CR ends the line
    return feed + 1


def _cut(data: bytes) -> int:
    """Where a block of whole lines and whole quoted cells ends in ``data`` (0: none yet)."""
    cut = _after_line_end(data, len(data))
    while cut and data.count(b'"', 0, cut) % 2 == 1:
        # Inside a quoted cell: cut at an earlier line end, or wait for more bytes.
        cut = _after_line_end(data, cut - 1)
    return cut


def _decoded(binary: BinaryIO, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield ``(first line, text)`` blocks of whole records, decoded a block at a time.

    Decoding here (not through a text wrapper) lets an undecodable byte be placed on its
    exact line: raises ``_Undecodable``. LF and CR are never part of a CP932 or UTF-8
    multi-byte character, so a block cut after a line end decodes on its own.
    """
    line = 1
    pending = b""
    codec = encoding
    while True:
        chunk = binary.read(BLOCK_BYTES)
        data = pending + chunk
        if not data:
            return
        cut = _cut(data) if chunk else len(data)
        if cut == 0:
            pending = data
            continue
        block, pending = data[:cut], data[cut:]
        try:
            text = block.decode(codec)
        except UnicodeDecodeError as error:
            raise _Undecodable(line + _line_ends(block, error.start)) from None
        codec = "utf-8" if codec == "utf-8-sig" else codec  # the BOM starts the file only
        yield line, text
        line += _line_ends(text)


def _header_record(text: str) -> tuple[list[str] | None, int, int]:
    """Find the header: ``(cells or None, its line offset, characters it and blanks take)``."""
    lines = io.StringIO(text, newline="")
    offset = consumed = 0
    while True:
        record = lines.readline()
        if not record:
            return None, offset, consumed
        consumed += len(record)
        if record.strip("\r\n"):
            break
        offset += 1
    while record.count('"') % 2 == 1:
        more = lines.readline()
        if not more:
            break
        record += more
        consumed += len(more)
    return next(csv.reader(io.StringIO(record), strict=True), []), offset, consumed


class CardListBlockStream(CardListStream):
    """Iterate for ``CardListBlock``s; ``problems`` and ``warnings`` fill up as it goes.

    As with ``CardListStream``, a caller must check ``problems`` after the last block.
    """

    def blocks(self) -> Iterator[CardListBlock]:
        """Valid rows, a block at a time; bad rows are left out and reported."""
        # The bytes under the text wrapper: nothing has been read through it yet.
        return self._read(lambda text: self._blocks(text.buffer))

    def _blocks(self, binary: BinaryIO) -> Iterator[CardListBlock]:
        line = 1
        try:
            blocks = _decoded(binary, self.encoding)
            layout = self._layout(blocks)
            if layout is None:
                return
            plan, width, first_block = layout
            checks = column_checks(self._parsers)
            data_rows = 0
            for line, block in itertools.chain(first_block, blocks):
                rows, lines = _split(block, line)
                found, blank = self._block(rows, lines, (plan, width), checks, block)
                data_rows += len(rows) - blank
                if found.lines:
                    yield found
            if data_rows == 0 and self.profile.header:
                self.warnings.append(
                    Problem(code=ProblemCode.NO_ROWS, reason="the file has a header but no rows")
                )
            elif data_rows == 0:
                self._file_problem(ProblemCode.EMPTY_FILE, "the file has no rows")
        except _Undecodable as error:
            self._file_problem(
                ProblemCode.UNSUPPORTED_ENCODING,
                f"unsupported encoding: line {error.line} is not valid {self.encoding}",
                error.line,
            )
        except csv.Error as error:
            self._file_problem(ProblemCode.MALFORMED_CSV, f"broken CSV quoting: {error}", line)

    def _layout(
        self, blocks: Iterator[tuple[int, str]]
    ) -> tuple[list[tuple[str, int, Parser]], int, list[tuple[int, str]]] | None:
        """Map the columns (from the header, if any); returns ``(plan, width, first data)``.

        ``first data`` is what the first block holds after the header.
        """
        if not self.profile.header:
            planned = self._plan(iter(()))
            return None if planned is None else (*planned, [])
        for start, text in blocks:
            cells, offset, consumed = _header_record(text)
            if cells is None:
                continue  # only blank lines so far
            planned = self._plan(iter([(start + offset, cells)]))
            if planned is None:
                return None
            rest = text[consumed:]
            first = [(start + _line_ends(text[:consumed]), rest)] if rest else []
            return (*planned, first)
        self._plan(iter(()))  # reports the empty file
        return None

    def _block(
        self,
        rows: list[list[str]],
        lines: Sequence[int],
        layout: tuple[list[tuple[str, int, Parser]], int],
        checks: dict[str, Any],
        text: str,
    ) -> tuple[CardListBlock, int]:
        """Check a block column by column; rows with any other cell get the row parser.

        ``layout`` is the plan and cell count of ``_plan``. Returns the block and how many of
        its records were blank lines.
        """
        plan, width = layout
        count = len(rows)
        if SEPARATOR in text:
            suspects = set(range(count))  # a cell with the separator would fool the checks
        else:
            suspects = {index for index, cells in enumerate(rows) if len(cells) != width}
        even = rows
        if suspects:
            filler = [""] * width
            even = [filler if index in suspects else cells for index, cells in enumerate(rows)]
        cells_by_position = list(zip(*even, strict=True)) if count else []
        columns: list[list[Any]] = []
        for field, (_, position, parse) in zip(CARD_LIST_FIELDS, plan, strict=True):
            if position >= width:
                # A column the file does not have: every row reads "" for it.
                value = _row_value(field, parse(""))
                columns.append([value] * count)
                continue
            values, bad = checks[field].check(cells_by_position[position])
            columns.append(list(values))
            suspects.update(bad)
        gaiji = [False] * count
        if PRIVATE_USE.search(text):
            for position in _GAIJI_FIELDS:  # 氏名, 住所, 方書
                _mark_private_use(columns[position], gaiji)
        self.rows_read += count
        blank = 0
        dropped: list[int] = []
        for index in sorted(suspects):
            cells = rows[index]
            if not cells:
                blank += 1
                self.rows_read -= 1
                self.warnings.append(
                    Problem(
                        code=ProblemCode.BLANK_LINE, reason="blank line ignored", line=lines[index]
                    )
                )
                dropped.append(index)
                continue
            self.rows_read -= 1  # _parse counts it
            row = self._parse(lines[index], cells, plan, width, {})
            if row is None:
                dropped.append(index)
                continue
            for column, value in zip(columns, _row_values(row), strict=True):
                column[index] = value
            gaiji[index] = row.has_gaiji
        kept_lines = list(lines)
        if dropped:
            keep = sorted(set(range(count)) - set(dropped))
            kept_lines = [kept_lines[index] for index in keep]
            columns = [[column[index] for index in keep] for column in columns]
            gaiji = [gaiji[index] for index in keep]
        return CardListBlock(lines=kept_lines, columns=columns, has_gaiji=gaiji), blank


def _mark_private_use(cells: list[str], marks: list[bool]) -> None:
    """Set ``marks[i]`` for each cell holding a private-use character (外字)."""
    joined = SEPARATOR.join(cells)
    index = previous = 0
    for found in PRIVATE_USE.finditer(joined):
        index += joined.count(SEPARATOR, previous, found.start())
        previous = found.start()
        marks[index] = True


def _row_value(field: str, value: Any) -> Any:
    """A parsed value of an absent column, written as the block writes that field."""
    if value is None:
        return ""
    if field in ("birth_date", "card_expiry"):
        return value.isoformat()
    if field == "sex":
        return value.value
    return value


def _split(block: str, first_line: int) -> tuple[list[list[str]], Sequence[int]]:
    """Records of a block with their start lines; a blank line is an empty record."""
    if '"' not in block:
        if "\r" in block:
            unix = block.replace("\r\n", "\n")
            if "\r" in unix:
                return _split_quoted(block, first_line)
            block = unix
        texts = block.split("\n")
        if texts[-1] == "":
            texts.pop()
        rows = [text.split(",") for text in texts]
        if "" in texts:
            rows = [row if row != [""] else [] for row in rows]
        return rows, range(first_line, first_line + len(rows))
    return _split_quoted(block, first_line)


def _split_quoted(block: str, first_line: int) -> tuple[list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(block, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    previous = 0
    for cells in reader:
        lines.append(first_line + previous)
        previous = reader.line_num
        rows.append(cells)
    return rows, lines


def iter_card_list_blocks(source: Any, profile: Any = None) -> CardListBlockStream:
    """Return a block reader over the card list (see ``CardListBlockStream``)."""
    return CardListBlockStream(source, profile)
