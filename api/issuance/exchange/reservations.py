"""Reservation import: bookings from a reservation bundle or a 予約一覧CSV.

Verify (bundle) or read (CSV) → check it is new → apply in the caller's transaction →
record → write a receipt (bundle). A preview runs the same code inside a savepoint that
is rolled back, so it reports exactly what the import would do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.publishing import publish_on_commit
from api.issuance.exchange.bookings import IncomingBooking, apply_bookings
from api.issuance.exchange.eligibility import (
    RESERVATION_ZONE,
    ExchangeRefused,
    next_counter,
    recipient_keys,
)
from api.issuance.exchange.models import ReservationImport
from api.issuance.exchange.schemas import ReservationImportReport
from api.issuance.progress.services import (
    canonical_reservation_id,
)
from sync_format import (
    AppliedMark,
    Incoming,
    Outcome,
    Receipt,
    ReservationRecord,
    TrustStore,
    ZoneSecretKeys,
    decide,
    open_bundle,
    write_bundle,
)
from sync_format.csv import read_reservation_list
from sync_format.header import MAGIC

# One import at a time: the high-water mark is read and written under this lock.
_IMPORT_LOCK: Final = 0x6D61646F_7265  # "madore"
_FAILURE_ID_LENGTH: Final = 64
_FAILURE_REASON_LENGTH: Final = 500


async def _apply_or_preview(
    session: AsyncSession,
    bookings: list[IncomingBooking],
    *,
    actor: str,
    dry_run: bool,
    report: ReservationImportReport,
) -> None:
    if not dry_run:
        await apply_bookings(session, bookings, actor=actor, report=report)
        return
    savepoint = await session.begin_nested()
    try:
        await apply_bookings(session, bookings, actor=actor, report=report)
    finally:
        await savepoint.rollback()
    report.outcome = "preview"


def is_bundle(data: bytes) -> bool:
    """Whether the bytes are a bundle (else they are read as a 予約一覧CSV)."""
    return data.startswith(MAGIC)


async def _lock(session: AsyncSession) -> None:
    await session.execute(select(func.pg_advisory_xact_lock(_IMPORT_LOCK)))


async def _already(session: AsyncSession, digest: str) -> ReservationImport | None:
    return await session.scalar(select(ReservationImport).where(ReservationImport.digest == digest))


def _already_report(source: Any, done: ReservationImport) -> ReservationImportReport:
    return ReservationImportReport(
        source=source,
        outcome="already_applied",
        reason=(
            f"this file was already imported on {done.created_at:%Y-%m-%d %H:%M} UTC; "
            "nothing changed"
        ),
        sequence=done.sequence,
        imported=done.imported,
        updated=done.updated,
        ignored=done.ignored,
        failed=done.failed,
    )


def _record(report: ReservationImportReport, **identity: Any) -> ReservationImport:
    return ReservationImport(
        imported=report.imported,
        updated=report.updated,
        ignored=report.ignored,
        failed=report.failed,
        failures=[msgspec.to_builtins(failure) for failure in report.failures],
        **identity,
    )


def _from_record(record: ReservationRecord) -> IncomingBooking:
    return IncomingBooking(
        confirmation_code=record.confirmation_code,
        reservation_id=canonical_reservation_id(record.reservation_id),
        location_code=record.location_code,
        starts_at=record.start,
        ends_at=record.end,
        status=record.status,
        channel=record.channel,
        email=record.email,
        companion_ids=tuple(record.companion_ids),
        memo=record.memo,
        updated_at=record.updated_at,
    )


def _write_receipt(
    partial: Path, keys: ZoneSecretKeys, trusted: TrustStore, receipt: Receipt, sequence: int
) -> None:
    partial.parent.mkdir(parents=True, exist_ok=True)
    write_bundle(
        partial,
        kind="receipt",
        records=[receipt],
        sender=keys,
        recipient=recipient_keys(trusted),
        sequence=sequence,
        overwrite=True,
    )


async def import_reservation_bundle(
    session: AsyncSession,
    path: Path,
    *,
    keys: ZoneSecretKeys,
    trusted: TrustStore,
    actor: str,
    receipt_dir: Path | None,
    dry_run: bool = False,
    force_gap: bool = False,
) -> ReservationImportReport:
    """Verify and import a reservation bundle; write its receipt into receipt_dir.

    The same bundle twice is a no-op; a refused bundle (sequence conflict, gap, rollback,
    any verification failure) raises and changes nothing.
    """
    bundle = await asyncio.to_thread(open_bundle, path, recipient=keys, trusted=trusted)
    header = bundle.header
    if header.kind != "reservations" or header.source_zone != RESERVATION_ZONE:
        message = f"expected a reservations bundle from the reservation zone, got {header.kind}"
        raise ExchangeRefused(message)
    await _lock(session)
    done = await _already(session, bundle.digest)
    if done is not None:
        return _already_report("bundle", done)
    last = await session.scalar(
        select(ReservationImport)
        .where(ReservationImport.source == "bundle")
        .order_by(ReservationImport.sequence.desc())
        .limit(1)
    )
    mark = (
        AppliedMark(sequence=last.sequence or 0, bundle_id=last.bundle_id, digest=last.digest)
        if last is not None and last.bundle_id is not None
        else None
    )
    incoming = Incoming(
        sequence=header.sequence,
        bundle_id=header.bundle_id,
        digest=bundle.digest,
        mode=header.mode,
        base_sequence=header.base_sequence,
    )
    decision = decide(incoming, mark, force_gap=force_gap)
    if decision.outcome is Outcome.ALREADY_APPLIED:
        return ReservationImportReport(
            source="bundle", outcome="already_applied", reason=decision.reason
        )
    if not decision.should_apply:
        raise ExchangeRefused(decision.reason, details={"outcome": decision.outcome.value})
    records = await asyncio.to_thread(lambda: list(bundle.records()))
    bookings = [_from_record(record) for record in records if isinstance(record, ReservationRecord)]
    report = ReservationImportReport(
        source="bundle", outcome="applied", reason=decision.reason, sequence=header.sequence
    )
    await _apply_or_preview(session, bookings, actor=actor, dry_run=dry_run, report=report)
    if dry_run:
        return report
    session.add(
        _record(
            report,
            source="bundle",
            digest=bundle.digest,
            sequence=header.sequence,
            bundle_id=header.bundle_id,
            file_name=path.name,
            actor=actor,
        )
    )
    await session.flush()
    if receipt_dir is not None:
        receipt = Receipt(
            bundle_id=header.bundle_id,
            sequence=header.sequence,
            digest=bundle.digest,
            imported=report.imported,
            updated=report.updated,
            ignored=report.ignored,
            failed=report.failed,
            failures=[
                (
                    failure.reservation_id[:_FAILURE_ID_LENGTH],
                    f"{failure.code}: {failure.reason}"[:_FAILURE_REASON_LENGTH],
                )
                for failure in report.failures
            ],
        )
        sequence = await next_counter(session, "receipt")
        # Published by the import's commit, so a rolled-back import leaves no receipt.
        path = receipt_dir / f"receipt-reservations-{receipt.sequence:06d}.bundle"
        partial = publish_on_commit(session, path)
        await asyncio.to_thread(_write_receipt, partial, keys, trusted, receipt, sequence)
        report.receipt_file = str(path)
    return report


def _csv_bookings(
    data: bytes, tz: ZoneInfo, report: ReservationImportReport
) -> list[IncomingBooking]:
    result = read_reservation_list(data)
    report.problems = result.problems
    return [
        IncomingBooking(
            confirmation_code=row.confirmation_code,
            reservation_id=row.reservation_id,
            location_code=row.location_code,
            location_name=row.location_name,
            starts_at=dt.datetime.combine(row.date, row.start_time, tzinfo=tz),
            ends_at=dt.datetime.combine(row.date, row.end_time, tzinfo=tz),
            status=row.status.value,
            channel=row.channel.value,
            email=row.email,
            companion_ids=row.companion_ids,
            memo=row.memo,
            updated_at=row.updated_at,
            line=line,
        )
        for row, line in zip(result.rows, result.lines, strict=True)
    ]


async def import_reservation_csv(
    session: AsyncSession,
    data: bytes,
    *,
    file_name: str,
    tz: ZoneInfo,
    actor: str,
    dry_run: bool = False,
) -> ReservationImportReport:
    """Import a 予約一覧CSV (times are local to tz); the same file twice is a no-op.

    A file with bad rows is refused whole (ExchangeRefused with every problem).
    """
    digest = hashlib.sha256(data).hexdigest()
    await _lock(session)
    done = await _already(session, digest)
    if done is not None:
        return _already_report("csv", done)
    report = ReservationImportReport(source="csv", outcome="applied", reason="apply 予約一覧CSV")
    bookings = _csv_bookings(data, tz, report)
    if report.problems:
        if dry_run:
            report.outcome = "preview"
            return report
        message = f"the file has {len(report.problems)} problems; nothing was imported"
        raise ExchangeRefused(message, details=report)
    await _apply_or_preview(session, bookings, actor=actor, dry_run=dry_run, report=report)
    if not dry_run:
        session.add(_record(report, source="csv", digest=digest, file_name=file_name, actor=actor))
        await session.flush()
    return report
