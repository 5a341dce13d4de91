"""Cutting a CSV file's bytes into blocks of whole records, each decoded on its own."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple


class RawBlock(NamedTuple):
    """A block's bytes, their codec, and how many LF, CR and CRLF they hold."""

    data: bytes
    codec: str
    line_feeds: int
    carriage_returns: int
    crlfs: int


# None: only the decoded text is at hand.
Raw = RawBlock | None


class Undecodable(Exception):
    """Bytes of the file are not valid in its encoding; ``line`` is where they are."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def line_ends(data: bytes | str, end: int | None = None) -> int:
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


def decoded_blocks(
    binary: BinaryIO, encoding: str, block_bytes: int
) -> Iterator[tuple[int, str, Raw]]:
    """Yield ``(first line, text, RawBlock)`` blocks of whole records, decoded one by one.

    Decoding here (not through a text wrapper) lets an undecodable byte be placed on its
    exact line: raises ``Undecodable``. LF and CR are never part of a CP932 or UTF-8
    multi-byte character, so a block cut after a line end decodes on its own.
    """
    line = 1
    pending = b""
    codec = encoding
    while True:
        chunk = binary.read(block_bytes)
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
            raise Undecodable(line + line_ends(block, error.start)) from None
        carriages = block.count(b"\r")
        # Most files end lines with LF alone: skip the slower two-byte count for them.
        ends = (block.count(b"\n"), carriages, block.count(b"\r\n") if carriages else 0)
        yield line, text, RawBlock(block, codec, *ends)
        codec = "utf-8" if codec == "utf-8-sig" else codec  # the BOM starts the file only
        line += ends[0] + ends[1] - ends[2]  # as line_ends counts


def header_record(text: str) -> tuple[list[str] | None, int, int]:
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
