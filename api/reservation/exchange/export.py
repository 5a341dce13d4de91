"""Reservations bundles for the issuance zone (and the same rows as 予約一覧CSV).

A delta holds every booking changed since the last export the issuance zone has
acknowledged with a receipt (less a safety margin), so it is a superset of what that
zone may lack: records are "latest state wins", and repeating one is harmless. Its base
is the last bundle written, so the issuance zone applies bundles in the order written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.publishing import publish_on_commit
from api.reservation.exchange.models import SyncBundle
from api.reservation.exchange.reservations import (
    list_row,
    record,
    stream_reservations,
)
from api.reservation.exchange.streams import (
    RESERVATIONS_OUT,
    ExchangeKeys,
    file_digest,
    new_bundle_id,
    next_sequence,
)
from sync_format import write_bundle
from sync_format.csv.reservation_list import write_reservation_list
from sync_format.header import Mode

# A booking committed just after an export may carry an updated_at a little before it
# (now() is when its transaction began): deltas reach back this far to catch it.
SAFETY_MARGIN: Final = dt.timedelta(hours=1)
Item = TypeVar("Item")
_END: Final = object()


class ExportReport(msgspec.Struct, kw_only=True):
    """A reservations bundle written (and its 予約一覧CSV)."""

    sequence: int
    mode: str
    base_sequence: int | None
    records: int
    bundle: str
    csv: str | None
    since: dt.datetime | None


def _blocking_iterator(
    source: AsyncIterator[Item], loop: asyncio.AbstractEventLoop
) -> Iterator[Item]:
    """Let a worker thread (the sync bundle writer) pull from an async iterator."""

    async def step() -> Any:
        try:
            return await anext(source)
        except StopAsyncIteration:
            return _END

    while (item := asyncio.run_coroutine_threadsafe(step(), loop).result()) is not _END:
        yield item


async def _acknowledged_since(session: AsyncSession) -> dt.datetime | None:
    latest = await session.scalar(
        select(SyncBundle.changes_through)
        .where(
            SyncBundle.direction == "out",
            SyncBundle.kind == "reservations",
            SyncBundle.acknowledged_at.is_not(None),
        )
        .order_by(SyncBundle.sequence.desc())
        .limit(1)
    )
    return latest - SAFETY_MARGIN if latest is not None else None


async def begin_consistent_export(session: AsyncSession) -> None:
    """Begin the session's transaction at REPEATABLE READ, so an export reads one snapshot.

    The bundle and its 予約一覧CSV are read by two queries; at READ COMMITTED a booking
    committed between them would be in one and not the other. Ends (commits) whatever the
    session had begun first: the isolation level can only be chosen before a transaction's
    first statement.
    """
    if session.in_transaction():
        await session.commit()
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


class ExportBusy(DomainError):
    """Another reservations export is being written: one at a time, so no number is lost."""

    status_code = 409
    code = "export_in_progress"


_BUSY: Final = "Another reservations export is being written; try again in a moment."
# Held until the export's transaction ends; tried, not waited for: a waiting export's
# REPEATABLE READ snapshot would predate the other's commit.
_TRY_LOCK: Final = text("SELECT pg_try_advisory_xact_lock(hashtext('reservations export'))")
_SERIALIZATION_FAILURE: Final = "40001"


async def export_reservations(
    session: AsyncSession,
    keys: ExchangeKeys,
    directory: Path,
    *,
    full: bool,
    now: dt.datetime,
    tz: ZoneInfo,
    with_csv: bool = True,
) -> ExportReport:
    """Write the next reservations bundle (full, or delta since the last receipt).

    The sequence is taken in the session's transaction, and the files get their final
    names (those in the report) only when the caller commits; a rollback deletes them
    (:func:`~api.core.publishing.publish_on_commit`). Run it in a REPEATABLE READ
    transaction (:func:`begin_consistent_export`, as the CLI and the route do) for the
    bundle and the CSV to hold exactly the same rows. Raises :class:`ExportBusy` while
    another export runs.
    """
    if not await session.scalar(_TRY_LOCK):
        raise ExportBusy(_BUSY)
    since = None if full else await _acknowledged_since(session)
    mode: Mode = "full" if since is None else "delta"
    try:
        sequence = await next_sequence(session, RESERVATIONS_OUT)
    except DBAPIError as error:
        # Another export committed between this one's snapshot and its lock.
        if getattr(error.orig, "sqlstate", None) == _SERIALIZATION_FAILURE:
            raise ExportBusy(_BUSY) from None
        raise
    base = sequence - 1 if mode == "delta" else None
    parameters: dict[str, Any] = {} if since is None else {"since": since}
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    bundle_path = directory / f"reservations-{sequence:06d}.bundle"
    bundle_partial = publish_on_commit(session, bundle_path)
    loop = asyncio.get_running_loop()
    rows = (record(view) async for view in stream_reservations(session, parameters))
    header = await asyncio.to_thread(
        write_bundle,
        bundle_partial,
        kind="reservations",
        records=_blocking_iterator(rows, loop),
        sender=keys.secret,
        recipient=keys.peer(),
        sequence=sequence,
        mode=mode,
        base_sequence=base,
        bundle_id=new_bundle_id(),
        created_at=now,
        overwrite=True,
    )
    csv_path = None
    if with_csv:
        csv_path = directory / f"reservations-{sequence:06d}.csv"
        csv_partial = publish_on_commit(session, csv_path)
        views = (list_row(view, tz) async for view in stream_reservations(session, parameters))
        await asyncio.to_thread(
            write_reservation_list, csv_partial, _blocking_iterator(views, loop)
        )
    session.add(
        SyncBundle(
            direction="out",
            kind="reservations",
            sequence=sequence,
            bundle_id=header.bundle_id,
            digest=file_digest(bundle_partial),
            mode=mode,
            base_sequence=base,
            record_total=header.record_total,
            changes_through=now,
            note="" if since is None else f"changes since {since.isoformat()}",
        )
    )
    await session.flush()
    return ExportReport(
        sequence=sequence,
        mode=mode,
        base_sequence=base,
        records=header.record_total,
        bundle=str(bundle_path),
        csv=str(csv_path) if csv_path else None,
        since=since,
    )
