"""Receipts: the ones this zone writes for applied bundles, and the ones it gets back.

A receipt names a bundle by id, sequence and digest and says what was done with it. The
bundle log (``sync_bundles``) keeps those facts, so a lost receipt can be written again
by importing the same bundle a second time (a no-op that re-issues the receipt).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import msgspec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.exchange.models import SyncBundle
from api.reservation.exchange.streams import (
    RECEIPT_IN,
    RECEIPT_OUT,
    BundleRefused,
    ExchangeKeys,
    decision_for,
    expect_kind,
    locked_mark,
    next_sequence,
    set_mark,
)
from sync_format import Outcome, Receipt, VerifiedBundle, open_bundle, write_bundle


@dataclass(frozen=True)
class ReceiptPlan:
    """A receipt whose sequence is taken in the import's transaction, written after commit."""

    sequence: int
    record: Receipt

    def file_name(self) -> str:
        """The receipt's file name, unique per sequence."""
        return f"receipt-reservation-{self.sequence:06d}.bundle"


class ReceiptReport(msgspec.Struct, kw_only=True):
    """What importing a receipt from the issuance zone did."""

    outcome: str
    message: str
    sequence: int
    acknowledged: list[int] = []


async def log_incoming(
    session: AsyncSession,
    bundle: VerifiedBundle,
    counts: tuple[int, int, int],
    note: str = "",
) -> None:
    """Record an applied bundle in the bundle log."""
    header = bundle.header
    imported, updated, ignored = counts
    session.add(
        SyncBundle(
            direction="in",
            kind=header.kind,
            sequence=header.sequence,
            bundle_id=header.bundle_id,
            digest=bundle.digest,
            mode=header.mode,
            base_sequence=header.base_sequence,
            record_total=header.record_total,
            imported=imported,
            updated=updated,
            ignored=ignored,
            failed=0,
            note=note,
        )
    )
    await session.flush()


async def logged_counts(session: AsyncSession, bundle: VerifiedBundle) -> tuple[int, int, int]:
    """The counts stored when this (already applied) bundle was applied."""
    row = await session.scalar(
        select(SyncBundle).where(
            SyncBundle.direction == "in", SyncBundle.bundle_id == bundle.header.bundle_id
        )
    )
    return (row.imported, row.updated, row.ignored) if row is not None else (0, 0, 0)


async def plan_receipt(
    session: AsyncSession, bundle: VerifiedBundle, counts: tuple[int, int, int]
) -> ReceiptPlan:
    """Take the next receipt sequence and compose the receipt of an applied bundle."""
    imported, updated, ignored = counts
    header = bundle.header
    return ReceiptPlan(
        sequence=await next_sequence(session, RECEIPT_OUT),
        record=Receipt(
            bundle_id=header.bundle_id,
            sequence=header.sequence,
            digest=bundle.digest,
            imported=imported,
            updated=updated,
            ignored=ignored,
            failed=0,
        ),
    )


def write_receipt(plan: ReceiptPlan, keys: ExchangeKeys, directory: Path) -> Path:
    """Write the receipt bundle for the issuance zone into directory; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / plan.file_name()
    write_bundle(
        path,
        kind="receipt",
        records=[plan.record],
        sender=keys.secret,
        recipient=keys.peer(),
        sequence=plan.sequence,
        mode="full",
    )
    return path


_ACKNOWLEDGE = text("""
UPDATE sync_bundles SET acknowledged_at = :now, imported = :imported, updated = :updated,
       ignored = :ignored, failed = :failed, updated_at = now()
WHERE direction = 'out' AND kind = 'reservations' AND bundle_id = :bundle_id
  AND sequence = :sequence AND digest = :digest
RETURNING sequence
""")


async def import_receipt(
    session: AsyncSession, path: Path, keys: ExchangeKeys, *, now: dt.datetime
) -> ReceiptReport:
    """Apply the issuance zone's receipt for reservations bundles this zone wrote.

    A receipt for a bundle this zone never wrote (unknown id, or another sequence or
    digest) refuses the whole receipt; nothing changes.
    """
    bundle = open_bundle(path, recipient=keys.secret, trusted=keys.trusted)
    expect_kind(bundle, "receipt")
    mark = await locked_mark(session, RECEIPT_IN)
    decision = decision_for(bundle, mark)
    report = ReceiptReport(
        outcome=decision.outcome.value, message=decision.reason, sequence=bundle.header.sequence
    )
    if decision.outcome is Outcome.ALREADY_APPLIED:
        return report
    if not decision.should_apply:
        raise BundleRefused(f"refused: {decision.reason}; nothing was changed")
    async with session.begin_nested():
        for record in bundle.records():
            assert isinstance(record, Receipt)  # the kind allows only receipts
            acknowledged = await session.scalar(
                _ACKNOWLEDGE,
                {
                    "now": now,
                    "bundle_id": record.bundle_id,
                    "sequence": record.sequence,
                    "digest": record.digest,
                    "imported": record.imported,
                    "updated": record.updated,
                    "ignored": record.ignored,
                    "failed": record.failed,
                },
            )
            if acknowledged is None:
                message = (
                    f"the receipt names reservations bundle {record.sequence} "
                    f"({record.bundle_id}), which this zone did not write; nothing was changed"
                )
                raise BundleRefused(message)
            report.acknowledged.append(acknowledged)
    await set_mark(session, RECEIPT_IN, bundle)
    await log_incoming(session, bundle, (len(report.acknowledged), 0, 0))
    return report
