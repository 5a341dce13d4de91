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
import polars as pl

from sync_format.csv.card_list import CardListRow, CardListStream, Parser
from sync_format.csv.card_list_frames import FrameCheck, FrameChecker, frame_rows
from sync_format.csv.columns import SEPARATOR, column_checks
from sync_format.csv.normalize import PRIVATE_USE
from sync_format.csv.problems import Problem, ProblemCode
from sync_format.csv.profile import CARD_LIST_FIELDS, GAIJI_FIELDS
from sync_format.csv.record_blocks import (
    Raw,
    Undecodable,
    decoded_blocks,
    header_record,
    line_ends,
)

# Bytes read per block (about 27,000 rows of a typical card list): polars works a block
# at a time, and each of its passes has a fixed cost.
BLOCK_BYTES: Final = 4 << 20
# 氏名, 住所 and 方書: the fields whose 外字 staff must map.
_GAIJI_POSITIONS: Final = tuple(map(CARD_LIST_FIELDS.index, GAIJI_FIELDS))


class CardListBlock(msgspec.Struct, gc=False):
    """Valid rows of the card list as columns (``CARD_LIST_FIELDS`` order).

    Text fields hold the normalised text ("" for an absent 方書); dates are ISO
    ``YYYY-MM-DD`` ("" for an absent expiry); ``sex`` holds the Sex value; certificates are
    booleans. ``lines`` holds each row's physical start line.
    """

    lines: list[int]
    columns: list[list[Any]]
    has_gaiji: list[bool]


class CardListFrame(msgspec.Struct, gc=False):
    """Valid rows of a simple block: those polars accepted, and those the row parser decided.

    ``frame`` has ``card_list_frames.FRAME_COLUMNS`` in the written forms of
    ``CardListBlock``; ``rest`` holds the other valid rows. Row order is not kept.
    """

    frame: pl.DataFrame
    rest: CardListBlock

    def to_block(self) -> CardListBlock:
        """All the rows as one ``CardListBlock``, in line order."""
        lines, columns, gaiji = frame_rows(self.frame)
        lines += self.rest.lines
        columns = [
            [*mine, *theirs] for mine, theirs in zip(columns, self.rest.columns, strict=True)
        ]
        gaiji += self.rest.has_gaiji
        order = sorted(range(len(lines)), key=lines.__getitem__)
        return CardListBlock(
            lines=[lines[index] for index in order],
            columns=[[column[index] for index in order] for column in columns],
            has_gaiji=[gaiji[index] for index in order],
        )


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


class CardListBlockStream(CardListStream):
    """Iterate for ``CardListBlock``s; ``problems`` and ``warnings`` fill up as it goes.

    As with ``CardListStream``, a caller must check ``problems`` after the last block.
    """

    def blocks(self) -> Iterator[CardListBlock]:
        """Valid rows, a block at a time, in line order; bad rows are left out and reported."""
        for block in self.batches():
            yield block.to_block() if isinstance(block, CardListFrame) else block

    def batches(self, *, frames: bool = True) -> Iterator[CardListBlock | CardListFrame]:
        """Valid rows, a block at a time; simple blocks come as polars frames (``frames``)."""
        # The bytes under the text wrapper: nothing has been read through it yet.
        return self._read(lambda text: self._blocks(text.buffer, frames=frames))

    def _blocks(self, binary: BinaryIO, *, frames: bool) -> Iterator[CardListBlock | CardListFrame]:
        line = 1
        try:
            blocks = decoded_blocks(binary, self.encoding, BLOCK_BYTES)
            layout = self._layout(blocks)
            if layout is None:
                return
            plan, width, first_block = layout
            checks = column_checks(self._parsers)
            checker = self._frame_checker(plan, width) if frames else None
            data_rows = 0
            for line, block, raw in itertools.chain(first_block, blocks):
                checked = checker.check(block, line, raw) if checker is not None else None
                if checked is not None:
                    framed = self._frame(checked, plan, width)
                    data_rows += checked.frame.height + len(checked.suspects)
                    if framed.frame.height or framed.rest.lines:
                        yield framed
                    continue
                rows, lines = _split(block, line)
                found, blank = self._block(rows, lines, (plan, width), checks, block)
                data_rows += len(rows) - blank
                if found.lines:
                    yield found
            self._note_if_no_rows(data_rows)
        except Undecodable as error:
            self._file_problem(
                ProblemCode.UNSUPPORTED_ENCODING,
                f"unsupported encoding: line {error.line} is not valid {self.encoding}",
                error.line,
            )
        except csv.Error as error:
            self._file_problem(ProblemCode.MALFORMED_CSV, f"broken CSV quoting: {error}", line)

    def _frame_checker(self, plan: list[tuple[str, int, Parser]], width: int) -> FrameChecker:
        positions = [position for _, position, _ in plan]
        overflow = self.profile.allow_era_overflow
        return FrameChecker(positions, width, self._parsers, allow_era_overflow=overflow)

    def _frame(
        self, checked: FrameCheck, plan: list[tuple[str, int, Parser]], width: int
    ) -> CardListFrame:
        """The checked block's rows: the suspects go through the row parser, in line order."""
        self.rows_read += checked.frame.height  # _parse counts the suspects
        lines: list[int] = []
        columns: list[list[Any]] = [[] for _ in CARD_LIST_FIELDS]
        gaiji: list[bool] = []
        for line, cells in checked.suspects:
            row = self._parse(line, cells, plan, width, {})
            if row is None:
                continue
            lines.append(line)
            for column, value in zip(columns, _row_values(row), strict=True):
                column.append(value)
            gaiji.append(row.has_gaiji)
        rest = CardListBlock(lines=lines, columns=columns, has_gaiji=gaiji)
        return CardListFrame(frame=checked.frame, rest=rest)

    def _layout(
        self, blocks: Iterator[tuple[int, str, Raw]]
    ) -> tuple[list[tuple[str, int, Parser]], int, list[tuple[int, str, Raw]]] | None:
        """Map the columns (from the header, if any); returns ``(plan, width, first data)``.

        ``first data`` is what the first block holds after the header.
        """
        if not self.profile.header:
            planned = self._plan(iter(()))
            return None if planned is None else (*planned, [])
        for start, text, _ in blocks:
            cells, offset, consumed = header_record(text)
            if cells is None:
                continue  # only blank lines so far
            planned = self._plan(iter([(start + offset, cells)]))
            if planned is None:
                return None
            rest = text[consumed:]
            # No raw bytes for the rest: the frame path encodes the text again.
            first: list[tuple[int, str, Raw]] = []
            if rest:
                first.append((start + line_ends(text[:consumed]), rest, None))
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
            for position in _GAIJI_POSITIONS:  # 氏名, 住所, 方書
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
