"""Archive-and-prune: move entries past retention to a file that verifies on its own.

The archive is JSON Lines: a header (zone, the hash the first entry links to, the last
sequence and hash), then every entry with its ``previous_hash`` and ``entry_hash``. Only
after the file is written, synced and read back does ``access_log_prune()`` (the
migration's SECURITY DEFINER function) append a checkpoint entry naming the last pruned
sequence, its hash and the archive's SHA-256, then delete the archived rows. The
remaining chain then verifies from that checkpoint, and the archive's last hash is the
checkpoint's hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

import msgspec
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.core.audit.chain import ChainBreak, ChainedEntry, ChainReport, check_chain
from api.core.audit.models import AccessLogMixin
from api.core.audit.service import current_anchor, stream_entries, verify_database

ARCHIVE_FORMAT: Final = "madoguchi-access-log-archive"
# The folder under the zone's run-time folder where archive-and-prune writes by default.
ARCHIVE_FOLDER: Final = "audit-archive"


class ArchiveError(Exception):
    """Archiving or pruning was refused; nothing was deleted."""


class ArchiveHeader(msgspec.Struct, frozen=True, kw_only=True):
    """The first line of an archive file."""

    format: str
    version: int
    zone: str
    created_at: dt.datetime
    anchor_hash: str
    first_sequence: int
    through_sequence: int
    through_hash: str
    entries: int


class PruneResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an archive-and-prune did."""

    archive: Path | None
    archive_sha256: str | None
    through_sequence: int | None
    entries: int


def prune_cutoff(retention_days: int, now: dt.datetime | None = None) -> dt.datetime:
    """Entries older than this may be pruned."""
    return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)


async def last_prunable_sequence(
    engine: AsyncEngine, model: type[AccessLogMixin], cutoff: dt.datetime
) -> int | None:
    """The end of the longest prefix of the chain whose entries are all older than cutoff."""
    table = model.__table__  # type: ignore[attr-defined]
    first_kept = (
        select(func.min(table.c.sequence)).where(table.c.occurred_at >= cutoff).scalar_subquery()
    )
    statement = select(func.max(table.c.sequence)).where(
        table.c.sequence < func.coalesce(first_kept, 2**63 - 1)
    )
    async with engine.connect() as connection:
        value = (await connection.execute(statement)).scalar_one_or_none()
    return int(value) if value is not None else None


def _create_partial(folder: Path, name: str) -> tuple[Path, BinaryIO]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if path.exists():
        message = f"{path} exists already"
        raise ArchiveError(message)
    partial = path.with_suffix(".partial")
    return path, partial.open("wb")


def _finish(stream: BinaryIO, path: Path) -> None:
    stream.flush()
    os.fsync(stream.fileno())
    stream.close()
    Path(stream.name).rename(path)


async def write_archive(
    engine: AsyncEngine, model: type[AccessLogMixin], zone: str, through: int, folder: Path
) -> tuple[Path, ArchiveHeader]:
    """Write entries up to ``through`` into a new archive file; return its path and header.

    Entries are streamed from one REPEATABLE READ snapshot, so memory stays flat and the
    header (written first) describes exactly the entries that follow it.
    """
    encoder = msgspec.json.Encoder()
    table = model.__table__  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            anchor = await current_anchor(connection, model)
            first, last, count = (
                await connection.execute(
                    select(
                        func.min(table.c.sequence), func.max(table.c.sequence), func.count()
                    ).where(table.c.sequence <= through)
                )
            ).one()
            if not count:
                message = f"no entries up to sequence {through}"
                raise ArchiveError(message)
            last_hash = (
                await connection.execute(select(table.c.entry_hash).where(table.c.sequence == last))
            ).scalar_one()
            header = ArchiveHeader(
                format=ARCHIVE_FORMAT,
                version=1,
                zone=zone,
                created_at=dt.datetime.now(dt.UTC),
                anchor_hash=anchor,
                first_sequence=first,
                through_sequence=last,
                through_hash=last_hash,
                entries=count,
            )
            path, stream = _create_partial(folder, f"access-log-{zone}-{first}-{last}.jsonl")
            try:
                stream.write(encoder.encode(header) + b"\n")
                async for entry in stream_entries(connection, model, through=through):
                    stream.write(encoder.encode(entry) + b"\n")
            except BaseException:
                stream.close()
                raise
    _finish(stream, path)
    return path, header


def read_archive(path: Path) -> tuple[ArchiveHeader, Iterator[ChainedEntry]]:
    """Open an archive file: its header, and its entries as they are read."""
    stream = path.open("rb")
    header = msgspec.json.decode(stream.readline(), type=ArchiveHeader)
    if header.format != ARCHIVE_FORMAT or header.version != 1:
        stream.close()
        message = f"{path} is not a version 1 access-log archive"
        raise ArchiveError(message)
    decoder = msgspec.json.Decoder(ChainedEntry)

    def entries() -> Iterator[ChainedEntry]:
        with stream:
            for line in stream:
                if line.strip():
                    yield decoder.decode(line)

    return header, entries()


def verify_archive(path: Path) -> tuple[ArchiveHeader, ChainReport]:
    """Check an archive on its own: its chain from its anchor, its count and its last hash."""
    header, entries = read_archive(path)
    report = check_chain(entries, header.anchor_hash)
    if report.ok and (report.entries != header.entries or report.last_hash != header.through_hash):
        report = msgspec.structs.replace(
            report,
            first_break=ChainBreak(
                sequence=report.last_sequence or header.through_sequence,
                reason="the archive ends early or does not end at the hash its header names",
            ),
        )
    return header, report


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


async def archive_and_prune(
    engine: AsyncEngine,
    model: type[AccessLogMixin],
    *,
    zone: str,
    cutoff: dt.datetime,
    folder: Path,
    actor: str,
) -> PruneResult:
    """Archive every entry before ``cutoff`` to ``folder``, then prune them from the table.

    Refuses (nothing deleted) when the chain does not verify: pruning must not destroy
    the evidence of a break.
    """
    report = await verify_database(engine, model)
    if report.first_break is not None:
        message = (
            f"the access log does not verify (entry {report.first_break.sequence}: "
            f"{report.first_break.reason}); nothing pruned"
        )
        raise ArchiveError(message)
    through = await last_prunable_sequence(engine, model, cutoff)
    if through is None:
        return PruneResult(archive=None, archive_sha256=None, through_sequence=None, entries=0)
    path, header = await write_archive(engine, model, zone, through, folder)
    _, written = verify_archive(path)
    if written.first_break is not None:
        message = f"the archive {path} does not verify after writing; nothing pruned"
        raise ArchiveError(message)
    digest = file_sha256(path)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "SELECT access_log_prune(:through, :through_hash, :archive, :digest, :zone, :actor)"
            ),
            {
                "through": header.through_sequence,
                "through_hash": header.through_hash,
                "archive": path.name,
                "digest": digest,
                "zone": zone,
                "actor": actor,
            },
        )
    return PruneResult(
        archive=path,
        archive_sha256=digest,
        through_sequence=header.through_sequence,
        entries=header.entries,
    )
