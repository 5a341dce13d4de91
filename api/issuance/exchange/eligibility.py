"""Eligibility bundles for the reservation zone, and the receipts that come back.

An export takes its sequence number from a counter row bumped by one atomic UPDATE, which
also holds the row lock until the transaction ends: two exports never interleave. The
first export is full; later ones are deltas against what ``eligibility_sent`` says each
card was last sent as. Records carry only reservation_id, password (MMDD), shipment_no.
The bundle file appears under its name only once the export's transaction has committed.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.publishing import publish_on_commit
from api.issuance.exchange.models import EligibilityExport, EligibilitySent, SyncCounter
from api.issuance.exchange.schemas import (
    ExportPage,
    ExportReport,
    ExportView,
    ReceiptReport,
    ReceiptResult,
)
from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress
from api.issuance.progress.rules import READY_PHASES, Phase
from api.issuance.progress.services import utc_now
from sync_format import (
    BundleHeader,
    EligibilityRevoke,
    EligibilityUpsert,
    Receipt,
    TrustStore,
    ZonePublicKeys,
    ZoneSecretKeys,
    open_bundle,
    write_bundle,
)
from sync_format.header import read_envelope
from sync_format.v1.records import RevokeReason

RESERVATION_ZONE: Final = "reservation"
_REVOKE_REASONS: Final[dict[Phase, RevokeReason]] = {
    Phase.ISSUED: "issued",
    Phase.RETURNED: "returned",
    Phase.CANCELLED: "cancelled",
    Phase.EXPIRED: "expired",
}
# Rows per INSERT: five bound columns each, well under PostgreSQL's 32767 parameters.
_CHUNK: Final = 5000


class ExchangeRefused(DomainError):
    """A bundle or export cannot be processed; nothing changed."""

    status_code = 422
    code = "exchange_refused"


async def next_counter(session: AsyncSession, name: str) -> int:
    """Bump a named counter atomically and return its new value (1 the first time).

    The row stays locked until the transaction ends, serialising whoever bumps it.
    """
    statement = pg_insert(SyncCounter).values(name=name, value=1)
    statement = statement.on_conflict_do_update(
        index_elements=[SyncCounter.name], set_={"value": SyncCounter.value + 1}
    )
    value = await session.scalar(statement.returning(SyncCounter.value))
    assert value is not None
    return int(value)


def envelope_digest(path: Path) -> str:
    """The digest a receipt names a bundle by: SHA-256 of its signed envelope."""
    with path.open("rb") as handle:
        signed, _, _ = read_envelope(handle)
    return hashlib.sha256(signed).hexdigest()


def recipient_keys(trusted: TrustStore) -> ZonePublicKeys:
    """The reservation zone's pinned keys, or a refusal telling the operator what to do."""
    keys = trusted.for_zone(RESERVATION_ZONE)
    if keys is None:
        message = "the reservation zone's public keys are not pinned: run `madoguchi keys trust`"
        raise ExchangeRefused(message)
    return keys


async def _cards(session: AsyncSession) -> Any:
    return await session.stream(
        select(
            Resident.id,
            Resident.reservation_id,
            func.to_char(Resident.birth_date, "MMDD").label("password"),
            Resident.shipment_no,
            func.coalesce(CardProgress.phase, Phase.IMPORTED.value).label("phase"),
            EligibilitySent.eligible.label("sent_eligible"),
            EligibilitySent.password.label("sent_password"),
            EligibilitySent.shipment_no.label("sent_shipment_no"),
        )
        .outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
        .outerjoin(EligibilitySent, EligibilitySent.resident_id == Resident.id)
        .order_by(Resident.id)
    )


async def _remember(session: AsyncSession, sent: list[dict[str, Any]]) -> None:
    for start in range(0, len(sent), _CHUNK):
        statement = pg_insert(EligibilitySent).values(sent[start : start + _CHUNK])
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[EligibilitySent.resident_id],
                set_={
                    column: statement.excluded[column]
                    for column in ("eligible", "password", "shipment_no", "sequence")
                },
            )
        )


def _write(
    partial: Path,
    records: list[EligibilityUpsert | EligibilityRevoke],
    *,
    sender: ZoneSecretKeys,
    recipient: ZonePublicKeys,
    sequence: int,
    mode: Literal["full", "delta"],
    last: int | None,
) -> tuple[BundleHeader, str]:
    partial.parent.mkdir(parents=True, exist_ok=True)
    header = write_bundle(
        partial,
        kind="eligibility",
        records=records,
        sender=sender,
        recipient=recipient,
        sequence=sequence,
        mode=mode,
        base_sequence=last if mode == "delta" else None,
    )
    return header, envelope_digest(partial)


async def export_eligibility(
    session: AsyncSession,
    out_dir: Path,
    *,
    sender: ZoneSecretKeys,
    recipient: ZonePublicKeys,
    actor: str,
    full: bool = False,
) -> ExportReport:
    """Write the next eligibility bundle into out_dir and record it, in one transaction.

    Full (first export, or on request): every card that may book. Delta: cards that became
    bookable or changed since they were last sent, and revocations of cards sent as
    bookable that are now issued, returned, cancelled or expired. The report's file
    exists once the caller commits the session's transaction; if it rolls back instead,
    no file is left (see :func:`publish_on_commit`).
    """
    sequence = await next_counter(session, "eligibility_export")
    last = await session.scalar(
        select(EligibilityExport.sequence).order_by(EligibilityExport.sequence.desc()).limit(1)
    )
    mode: Literal["full", "delta"] = "full" if full or last is None else "delta"
    records: list[EligibilityUpsert | EligibilityRevoke] = []
    sent: list[dict[str, Any]] = []
    async for card in await _cards(session):
        phase = Phase(card.phase)
        if phase in READY_PHASES:
            unchanged = (
                card.sent_eligible is True
                and card.sent_password == card.password
                and card.sent_shipment_no == card.shipment_no
            )
            if mode == "full" or not unchanged:
                records.append(
                    EligibilityUpsert(
                        reservation_id=card.reservation_id,
                        password=card.password,
                        shipment_no=card.shipment_no,
                    )
                )
                sent.append({"eligible": True})
            else:
                continue
        elif mode == "delta" and card.sent_eligible is True:
            reason = _REVOKE_REASONS.get(phase, "other")
            records.append(EligibilityRevoke(reservation_id=card.reservation_id, reason=reason))
            sent.append({"eligible": False})
        else:
            continue
        sent[-1].update(
            resident_id=card.id,
            password=card.password,
            shipment_no=card.shipment_no,
            sequence=sequence,
        )
    if mode == "full":
        # A full bundle replaces the reservation zone's state: forget what was sent before.
        await session.execute(delete(EligibilitySent))
    await _remember(session, sent)
    path = out_dir / f"eligibility-{sequence:06d}-{mode}.bundle"
    # Written beside path under a hidden name, published by an atomic rename on commit: an
    # unrecorded bundle must never be carried to the other zone, nor block the next export
    # that gets the same sequence number after a rollback.
    partial = publish_on_commit(session, path)
    # Encrypting and writing is blocking file work: keep it off the event loop.
    header, digest = await asyncio.to_thread(
        _write,
        partial,
        records,
        sender=sender,
        recipient=recipient,
        sequence=sequence,
        mode=mode,
        last=last,
    )
    upserts = sum(isinstance(record, EligibilityUpsert) for record in records)
    session.add(
        EligibilityExport(
            sequence=sequence,
            bundle_id=header.bundle_id,
            digest=digest,
            mode=mode,
            base_sequence=header.base_sequence,
            upserts=upserts,
            revocations=len(records) - upserts,
            file_name=path.name,
            actor=actor,
        )
    )
    await session.flush()
    return ExportReport(
        sequence=sequence,
        bundle_id=header.bundle_id,
        mode=mode,
        base_sequence=header.base_sequence,
        upserts=upserts,
        revocations=len(records) - upserts,
        digest=digest,
        file=str(path),
    )


async def list_exports(session: AsyncSession, *, limit: int, offset: int) -> ExportPage:
    """Export history, newest first, with receipts."""
    total = await session.scalar(select(func.count(EligibilityExport.id)))
    rows = await session.scalars(
        select(EligibilityExport)
        .order_by(EligibilityExport.sequence.desc())
        .limit(limit)
        .offset(offset)
    )
    return ExportPage(
        items=[
            ExportView(
                sequence=row.sequence,
                bundle_id=row.bundle_id,
                mode=row.mode,
                base_sequence=row.base_sequence,
                upserts=row.upserts,
                revocations=row.revocations,
                digest=row.digest,
                file_name=row.file_name,
                actor=row.actor,
                created_at=row.created_at,
                receipt_applied_at=row.receipt_applied_at,
                receipt=row.receipt,
            )
            for row in rows
        ],
        total=int(total or 0),
        limit=limit,
        offset=offset,
    )


def _receipt_json(record: Receipt) -> dict[str, Any]:
    return {
        "imported": record.imported,
        "updated": record.updated,
        "ignored": record.ignored,
        "failed": record.failed,
        "failures": [list(failure) for failure in record.failures],
    }


async def import_receipt(
    session: AsyncSession, path: Path, *, keys: ZoneSecretKeys, trusted: TrustStore
) -> ReceiptReport:
    """Verify a receipt bundle and mark the exports it names as applied (twice: a no-op)."""
    bundle = open_bundle(path, recipient=keys, trusted=trusted)
    if bundle.header.kind != "receipt" or bundle.header.source_zone != RESERVATION_ZONE:
        message = f"expected a receipt from the reservation zone, got a {bundle.header.kind} bundle"
        raise ExchangeRefused(message)
    results: list[ReceiptResult] = []
    for record in bundle.records():
        assert isinstance(record, Receipt)
        export = await session.scalar(
            select(EligibilityExport)
            .where(EligibilityExport.bundle_id == record.bundle_id)
            .with_for_update()
        )
        if export is None or (export.sequence, export.digest) != (record.sequence, record.digest):
            outcome: Literal["applied", "already_applied", "unknown_bundle"] = "unknown_bundle"
        elif export.receipt_applied_at is not None:
            outcome = "already_applied"
        else:
            export.receipt_applied_at = utc_now()
            export.receipt = _receipt_json(record)
            outcome = "applied"
        results.append(
            ReceiptResult(
                sequence=record.sequence,
                bundle_id=record.bundle_id,
                outcome=outcome,
                imported=record.imported,
                updated=record.updated,
                ignored=record.ignored,
                failed=record.failed,
                failures=list(record.failures),
            )
        )
    await session.flush()
    return ReceiptReport(results=results)
