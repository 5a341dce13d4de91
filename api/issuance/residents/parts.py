"""Cutting a large card list into shares for parser processes, and reading one share.

A record boundary is a line feed with an even number of double quotes before it: RFC 4180
quotes are doubled inside quoted cells, and neither ``"`` nor LF is ever a CP932 trail byte.
Each share after the first is read with the header's bytes in front, so that its parser
maps the same columns; ``Part.first_line`` turns its line numbers into the file's.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Final

import msgspec

from sync_format.csv import CardListProfile
from sync_format.csv.source import SNIFF_SIZE

# Below this size a file is parsed in the calling process: starting workers costs ~0.3 s.
PARALLEL_MINIMUM_BYTES: Final = 8 << 20
_SCAN_BLOCK: Final = 16 << 20


class Part(msgspec.Struct, frozen=True):
    """One worker's share of the file and how its local line numbers map to the file's."""

    start: int
    end: int
    first_line: int  # the file's line number of the share's first line
    header: bytes  # prepended so the worker maps the same columns; empty for part 0


class RangeReader(io.RawIOBase):
    """The header's bytes, then bytes ``[start, end)`` of a file: one worker's share."""

    def __init__(self, path: str, header: bytes, start: int, end: int) -> None:
        self._file = Path(path).open("rb")  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._header = memoryview(header)
        self._left = end - start

    def readable(self) -> bool:
        """Always: the share is read from start to end."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the header first, then from the share; 0 at its end."""
        if self._header:
            size = min(len(buffer), len(self._header))
            buffer[:size] = self._header[:size]
            self._header = self._header[size:]
            return size
        chunk = self._file.read(min(len(buffer), self._left))
        self._left -= len(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        """Close the underlying file."""
        self._file.close()
        super().close()


def _line_count(handle: Any, end: int) -> tuple[int, int]:
    """Return ``(lines, double quotes)`` in the first ``end`` bytes, as csv counts lines."""
    handle.seek(0)
    lines = quotes = 0
    left = end
    previous_cr = False
    while left > 0:
        block = handle.read(min(_SCAN_BLOCK, left))
        left -= len(block)
        quotes += block.count(b'"')
        # LF, CRLF and a lone CR each end a line (universal newlines).
        lines += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
        if previous_cr and block.startswith(b"\n"):
            lines -= 1
        previous_cr = block.endswith(b"\r")
    return lines, quotes


def _boundary(handle: Any, target: int, size: int) -> int:
    """The first record boundary (just past an LF outside quotes) at or after ``target``."""
    position = target
    _, quotes = _line_count(handle, position)
    handle.seek(position)
    while position < size:
        block = handle.read(1 << 16)
        if not block:
            break
        index = 0
        while True:
            found = block.find(b"\n", index)
            if found < 0:
                quotes += block.count(b'"', index)
                break
            quotes += block.count(b'"', index, found)
            index = found + 1
            if quotes % 2 == 0:
                return int(position + index)
        position += len(block)
    return size


def plan_parts(path: str, parts: int, profile: CardListProfile) -> list[Part] | None:
    """Cut the file into ``parts`` shares at record boundaries; None to parse it in one piece."""
    size = Path(path).stat().st_size
    if parts < 2 or size < PARALLEL_MINIMUM_BYTES:
        return None
    with Path(path).open("rb") as handle:
        prefix = handle.read(SNIFF_SIZE)
        if b"\r" in prefix.replace(b"\r\n", b""):
            return None  # lone CR line ends: rare enough to parse in one piece
        header_end = _boundary(handle, 0, size) if profile.header else 0
        header = prefix[:header_end]
        if header_end > len(prefix) or (profile.header and not header.strip()):
            return None  # a huge header, or blank lines before it: not worth the care
        starts = [0]
        for index in range(1, parts):
            start = _boundary(handle, max(header_end, size * index // parts), size)
            if starts[-1] < start < size:
                starts.append(start)
        ends = [*starts[1:], size]
        result: list[Part] = []
        for start, end in zip(starts, ends, strict=True):
            first_line = _line_count(handle, start)[0] + 1
            share_header = header if start else b""
            result.append(Part(start, end, first_line, share_header))
    return result if len(result) > 1 else None
