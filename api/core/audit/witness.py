"""The witness: the chain's head as the last verify saw it, kept outside the database.

A hash chain proves that no entry was changed or removed *between* entries; it cannot see
the newest entries removed (with the triggers off), nor the whole log emptied. Each verify
run with ``--witness FILE`` therefore first checks that the entry it saw last time is still
there with the same hash, and only then records the new head. An entry archive-and-prune
took passes only with its archive at hand (the checkpoint names it and its SHA-256).
Entries written since the last verify are guarded by the chain alone until the next one.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import msgspec
from sqlalchemy import BigInteger, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.core.audit.archive import file_sha256, read_archive
from api.core.audit.chain import PRUNED_OUTCOME
from api.core.audit.models import AccessLogMixin


class Witness(msgspec.Struct, frozen=True, kw_only=True):
    """One zone's chain head as a successful verify saw it."""

    zone: str
    sequence: int
    entry_hash: str
    verified_at: dt.datetime


class WitnessError(Exception):
    """The witness file cannot be read (it is not what ``write_witness`` writes)."""


def read_witness(path: Path) -> Witness | None:
    """The witness in ``path``; None when there is none yet (the first verify)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=Witness)
    except FileNotFoundError:
        return None
    except msgspec.DecodeError as error:
        message = f"{path}: not a witness file ({error})"
        raise WitnessError(message) from error


def write_witness(path: Path, witness: Witness) -> None:
    """Replace the witness in ``path`` atomically (a crash leaves the old one or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(msgspec.json.encode(witness) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


async def witness_problem(
    engine: AsyncEngine,
    model: type[AccessLogMixin],
    witness: Witness,
    archives: Sequence[Path] = (),
) -> str | None:
    """Why the log no longer holds what ``witness`` saw; None when it still does.

    An entry no longer in the table passes only when archive-and-prune took it: a
    checkpoint must cover it, and the archive that checkpoint names must be at hand (one of
    ``archives``, matched by file name) with the SHA-256 it recorded, holding the entry.
    """
    table = model.__table__  # type: ignore[attr-defined]
    through = table.c.detail["through_sequence"].astext.cast(BigInteger)
    async with engine.connect() as connection:
        first = (await connection.execute(select(func.min(table.c.sequence)))).scalar_one()
        held = (
            await connection.execute(
                select(table.c.entry_hash).where(table.c.sequence == witness.sequence)
            )
        ).scalar_one_or_none()
        checkpoint = (
            await connection.execute(
                select(table.c.detail["archive"].astext, table.c.detail["archive_sha256"].astext)
                .where(table.c.outcome == PRUNED_OUTCOME, through >= witness.sequence)
                .order_by(through)
                .limit(1)
            )
        ).one_or_none()
    seen = (
        f"entry {witness.sequence} (hash {witness.entry_hash[:16]}…, "
        f"verified {witness.verified_at:%Y-%m-%d %H:%M} UTC)"
    )
    if held is not None:
        return None if held == witness.entry_hash else f"{seen} has been replaced"
    if first is None or witness.sequence >= first or checkpoint is None:
        return f"{seen} and any after it have been removed"
    name, digest = checkpoint
    return _archived_problem(seen, witness, name, digest, archives)


def _archived_problem(
    seen: str, witness: Witness, name: str, digest: str, archives: Sequence[Path]
) -> str | None:
    path = next((archive for archive in archives if archive.name == name), None)
    if path is None or not path.is_file():
        return f"{seen} was pruned into the archive {name}, which was not given (--archive)"
    if file_sha256(path) != digest:
        return f"{path} is not the archive the checkpoint names (its SHA-256 differs)"
    _, entries = read_archive(path)
    try:
        for entry in entries:
            if entry.sequence == witness.sequence:
                return (
                    None
                    if entry.entry_hash == witness.entry_hash
                    else (f"{seen} is in {path} with another hash")
                )
    finally:
        entries.close()  # type: ignore[attr-defined]
    return f"{path} does not hold {seen}"
