"""The witness: the chain's head as the last verify saw it, kept outside the database.

A hash chain proves that no entry was changed or removed *between* entries; it cannot see
the newest entries removed (with the triggers off), nor the whole log emptied. Each verify
run with ``--witness FILE`` therefore first checks that the entry it saw last time is still
there with the same hash, and only then records the new head. Pruned entries are fine:
``archive-and-prune`` removes only the oldest, and the archives verify those.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

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
    engine: AsyncEngine, model: type[AccessLogMixin], witness: Witness
) -> str | None:
    """Why the log no longer holds what ``witness`` saw; None when it still does."""
    table = model.__table__  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        first = (await connection.execute(select(func.min(table.c.sequence)))).scalar_one()
        held = (
            await connection.execute(
                select(table.c.entry_hash).where(table.c.sequence == witness.sequence)
            )
        ).scalar_one_or_none()
    seen = (
        f"entry {witness.sequence} (hash {witness.entry_hash[:16]}…, "
        f"verified {witness.verified_at:%Y-%m-%d %H:%M} UTC)"
    )
    if held is not None:
        return None if held == witness.entry_hash else f"{seen} has been replaced"
    if first is not None and witness.sequence < first:
        return None  # pruned after being archived
    return f"{seen} and any after it have been removed"
