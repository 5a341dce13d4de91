"""Helpers of the exchange tests: eligibility bundles as the issuance zone writes them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sync_format import EligibilityRevoke, EligibilityUpsert, ZoneSecretKeys, write_bundle

PASSWORD_KEY = b"k" * 48


def upsert(number: int, password: str = "0214") -> EligibilityUpsert:
    """Eligibility of card A1B-00000<number> (the ID without its hyphen, as allowed)."""
    return EligibilityUpsert(
        reservation_id=f"A1B{number:06d}", password=password, shipment_no=f"S{number:08d}"
    )


def revoke(number: int, reason: str = "issued") -> EligibilityRevoke:
    """Revocation of card A1B-00000<number>."""
    return EligibilityRevoke(reservation_id=f"A1B-{number:06d}", reason=reason)  # type: ignore[arg-type]


def eligibility_bundle(
    path: Path,
    issuance: ZoneSecretKeys,
    reservation: ZoneSecretKeys,
    records: list[Any],
    *,
    sequence: int,
    base: int | None = None,
) -> Path:
    """Write an eligibility bundle from the issuance zone (full unless ``base`` is given)."""
    write_bundle(
        path,
        kind="eligibility",
        records=records,
        sender=issuance,
        recipient=reservation.public(),
        sequence=sequence,
        mode="full" if base is None else "delta",
        base_sequence=base,
        bundle_id=uuid.uuid4(),
    )
    return path


async def snapshot(session: AsyncSession) -> list[Any]:
    """Everything an import may change, to compare before and after a refusal."""
    rows: list[Any] = []
    for table in ("eligibilities", "sync_streams", "sync_bundles", "bookings", "booking_members"):
        result = await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))
        rows.append([tuple(row) for row in result])
    return rows
