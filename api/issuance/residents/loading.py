"""Card list → PostgreSQL COPY text, parsed by the sync_format reader in worker processes.

Parsing (decode, validate, normalise) costs far more than COPY, so a large file is cut at
record boundaries into byte ranges that worker processes parse at the same time; each
sends back ready-made COPY text (tab-separated lines) that the importing process streams
into the staging table in whatever order it arrives (row order does not matter there).
Small files and byte streams are parsed in the calling process instead.

How the file is cut into shares is in ``parts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO, Final

import msgspec

from api.issuance.residents.parts import Part, RangeReader, plan_parts
from sync_format.csv import CardListProfile, Problem
from sync_format.csv.card_list_blocks import (
    CardListBlock,
    CardListBlockStream,
    CardListFrame,
    iter_card_list_blocks,
)
from sync_format.csv.card_list_frames import frame_copy_text
from sync_format.csv.problems import ProblemCode
from sync_format.csv.profile import (
    BOOLEAN_FIELDS,
    CARD_LIST_FIELDS,
    TEXT_FIELDS,
    default_profile,
)
from sync_format.csv.source import SNIFF_SIZE, EncodingError, Source, detect_encoding

# Columns of the staging table, in the order copy_text writes them.
STAGED_COLUMNS: Final = ("line", *CARD_LIST_FIELDS, "has_gaiji")
_NEEDS_ESCAPE: Final = re.compile(r"[\\\t\n\r]")
_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_BOOLEAN: Final = {True: "t", False: "f"}
_NULL: Final = "\\N"
# Positions in CARD_LIST_FIELDS: free text (may need escaping), booleans, "" meaning NULL.
_TEXT_POSITIONS: Final = frozenset(map(CARD_LIST_FIELDS.index, TEXT_FIELDS))
_BOOLEAN_POSITIONS: Final = frozenset(map(CARD_LIST_FIELDS.index, BOOLEAN_FIELDS))
_NULLABLE_POSITIONS: Final = frozenset(
    map(CARD_LIST_FIELDS.index, ("address_extra", "card_expiry"))
)
_LINE_IN_REASON: Final = re.compile(r"line (\d+)")
_ROWS: Final = b"R"
_DONE: Final = b"S"


def copy_text(
    block: CardListBlock | CardListFrame, line_offset: int = 0, *, line_numbers: bool = True
) -> bytes:
    """Return a block of rows as PostgreSQL COPY text (tab-separated; NULL is backslash-N).

    Columns are ``STAGED_COLUMNS``, or ``STAGED_COLUMNS[1:]`` (no line) without
    ``line_numbers``; ``line_offset`` turns a worker's line numbers into the file's. Built a
    column at a time, like the block itself; a frame's rows are written by polars.
    """
    if isinstance(block, CardListFrame):
        text = frame_copy_text(block.frame, line_offset, line_numbers=line_numbers)
        if block.rest.lines:
            text += copy_text(block.rest, line_offset, line_numbers=line_numbers)
        return text
    columns: list[list[str]] = []
    if line_numbers:
        columns.append([str(line + line_offset) for line in block.lines])
    for position, values in enumerate(block.columns):
        written: list[str] = values
        if position in _BOOLEAN_POSITIONS:
            written = list(map(_BOOLEAN.__getitem__, values))
        elif position in _TEXT_POSITIONS and _NEEDS_ESCAPE.search("".join(values)):
            # A quoted cell may hold a line break or a tab; COPY text needs them escaped.
            written = [value.translate(_ESCAPES) for value in values]
        if position in _NULLABLE_POSITIONS:
            written = [value or _NULL for value in written]
        columns.append(written)
    columns.append(list(map(_BOOLEAN.__getitem__, block.has_gaiji)))
    return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode()


class ParseSummary(msgspec.Struct, kw_only=True):
    """What parsing found besides the rows: problems, warnings, rows read, the encoding."""

    problems: list[Problem] = msgspec.field(default_factory=list)
    warnings: list[Problem] = msgspec.field(default_factory=list)
    rows_read: int = 0
    encoding: str = ""
    parts: int = 1


def _copy_batches(
    stream: CardListBlockStream, line_offset: int = 0, *, line_numbers: bool = True
) -> Iterator[bytes]:
    for block in stream.batches():
        yield copy_text(block, line_offset, line_numbers=line_numbers)


def _shift(problems: list[Problem], offset: int, header_lines: int) -> list[Problem]:
    shifted: list[Problem] = []
    for problem in problems:
        if problem.line is None:
            shifted.append(problem)
        elif problem.line > header_lines:  # the header's own findings come from part 0
            # Reasons may name another line too ("same row as line 7").
            reason = _LINE_IN_REASON.sub(
                lambda found: f"line {int(found[1]) + offset}", problem.reason
            )
            shifted.append(
                msgspec.structs.replace(problem, line=problem.line + offset, reason=reason)
            )
    return shifted


def parse_part(
    path: str,
    part: Part,
    profile: CardListProfile,
    output: BinaryIO,
    *,
    line_numbers: bool = True,
) -> None:
    """Worker: parse one share; write framed COPY text batches, then a ParseSummary."""
    header_lines = part.header.count(b"\n")
    offset = part.first_line - header_lines - 1
    try:
        with contextlib.closing(RangeReader(path, part.header, part.start, part.end)) as raw:
            stream = iter_card_list_blocks(io.BufferedReader(raw, 1 << 20), profile)
            for batch in _copy_batches(stream, offset, line_numbers=line_numbers):
                output.write(_frame(_ROWS, batch))
        skip = header_lines if part.header else 0
        warnings = [
            warning
            for warning in _shift(stream.warnings, offset, skip)
            if not part.header or warning.code != ProblemCode.NO_ROWS
        ]
        summary = ParseSummary(
            problems=_shift(stream.problems, offset, skip),
            warnings=warnings,
            rows_read=stream.rows_read,
            encoding=stream.encoding,
        )
    except Exception as error:  # noqa: BLE001 - the parent reports it as a file problem
        summary = ParseSummary(problems=[_crash(error)])
    output.write(_frame(_DONE, msgspec.msgpack.encode(summary)))
    output.flush()


def _frame(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "big") + payload


class WorkerTask(msgspec.Struct, frozen=True):
    """What a worker process is told (as JSON on its command line)."""

    path: str
    part: Part
    profile: CardListProfile
    line_numbers: bool = True


def _crash(error: BaseException) -> Problem:
    return Problem(code="file.unreadable", reason=f"the file could not be read: {error!r}")


def _file_encoding(path: str, profile: CardListProfile) -> str | None:
    with Path(path).open("rb") as handle:
        prefix = handle.read(SNIFF_SIZE)
    try:
        return detect_encoding(
            prefix, complete=len(prefix) < SNIFF_SIZE, requested=profile.encoding
        )
    except EncodingError:
        return None


def default_workers() -> int:
    """How many parsers a large import uses: every core but one, kept for PostgreSQL's COPY.

    With polars checking the columns, parsing a row costs about what PostgreSQL's COPY of
    it costs, so one parser per spare core keeps both busy; one means parsing in this
    process (on 2 cores, 1,000,000 rows: 5.7 s against 6.5 s with two worker processes).
    """
    return max(1, min((os.cpu_count() or 1) - 1, 4))


class CardListLoader:
    """Turn a card list into COPY text batches; ``summary`` is complete after the last one."""

    def __init__(
        self,
        source: Source,
        profile: CardListProfile | None = None,
        *,
        workers: int = 0,
        line_numbers: bool = True,
    ) -> None:
        self.source = source
        self.profile = profile or default_profile()
        self.workers = workers or default_workers()
        # Without: rows for residents itself (STAGED_COLUMNS[1:]), not for the staging table.
        self.line_numbers = line_numbers
        self.summary = ParseSummary(encoding=self.profile.encoding)

    def batches(self) -> AsyncIterator[bytes]:
        """COPY text batches, from worker processes when the file is large enough."""
        if isinstance(self.source, str | os.PathLike):
            path = os.fspath(self.source)
            encoding = _file_encoding(path, self.profile)
            parts = plan_parts(path, self.workers, self.profile) if encoding else None
            if parts is not None and encoding is not None:
                profile = msgspec.structs.replace(self.profile, encoding=encoding)
                return self._parallel(path, parts, profile)
        return self._serial()

    async def _serial(self) -> AsyncIterator[bytes]:
        stream = iter_card_list_blocks(self.source, self.profile)
        batches = _copy_batches(stream, line_numbers=self.line_numbers)
        # Each batch is parsed in a thread, the next one while this one is sent: the event
        # loop stays free to feed PostgreSQL's COPY (and to serve other requests) meanwhile,
        # and polars lets go of the GIL for its share of the work.
        pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        try:
            while (batch := await pending) is not None:
                pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                yield batch
        finally:
            # Stopped early (COPY failed): let the running parse end before the file closes.
            await asyncio.wait([pending])
        self.summary = ParseSummary(
            problems=list(stream.problems),
            warnings=list(stream.warnings),
            rows_read=stream.rows_read,
            encoding=stream.encoding,
        )

    async def _parallel(
        self, path: str, parts: list[Part], profile: CardListProfile
    ) -> AsyncIterator[bytes]:
        # Plain child processes running ``-m``, not multiprocessing: nothing depends on the
        # parent's __main__ being importable, and asyncio reads their pipes natively.
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "api.issuance.residents.parse_worker",
                msgspec.json.encode(WorkerTask(path, part, profile, self.line_numbers)).decode(),
                stdout=asyncio.subprocess.PIPE,
            )
            for part in parts
        ]
        # At most ~16 batches of ~5 MB (a 4 MiB block each) wait for COPY.
        batches: asyncio.Queue[bytes | ParseSummary] = asyncio.Queue(maxsize=16)
        readers = [asyncio.create_task(_read_frames(process, batches)) for process in processes]
        summaries: list[ParseSummary] = []
        try:
            while len(summaries) < len(processes):
                item = await batches.get()
                if isinstance(item, ParseSummary):
                    summaries.append(item)
                else:
                    yield item
        finally:
            for reader in readers:
                reader.cancel()
            for process in processes:
                if process.returncode is None:
                    process.kill()
                await process.wait()
        self.summary = ParseSummary(
            problems=sorted(
                (problem for summary in summaries for problem in summary.problems),
                key=lambda problem: problem.line or 0,
            ),
            warnings=sorted(
                (warning for summary in summaries for warning in summary.warnings),
                key=lambda warning: warning.line or 0,
            ),
            rows_read=sum(summary.rows_read for summary in summaries),
            encoding=summaries[0].encoding if summaries else profile.encoding,
            parts=len(parts),
        )


async def _read_frames(
    process: asyncio.subprocess.Process, batches: asyncio.Queue[bytes | ParseSummary]
) -> None:
    """Move one worker's frames onto the queue; a worker that dies becomes a problem."""
    assert process.stdout is not None
    try:
        while True:
            head = await process.stdout.readexactly(5)
            payload = await process.stdout.readexactly(int.from_bytes(head[1:], "big"))
            if head[:1] == _DONE:
                await batches.put(msgspec.msgpack.decode(payload, type=ParseSummary))
                return
            await batches.put(payload)
    except asyncio.IncompleteReadError:
        await process.wait()
        error = RuntimeError(f"parser process ended with status {process.returncode}")
        await batches.put(ParseSummary(problems=[_crash(error)]))
