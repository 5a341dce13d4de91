"""Eligibility import: who may log in and book, from the issuance zone's bundles.

Verify → check the sequence → stage every record with COPY → apply with a few set-based
statements in one transaction → move the mark. Only ``reservation_id``, ``shipment_no``
and a keyed verifier of the password are stored; the password itself is dropped as soon
as its verifier is computed. A dry run applies inside a savepoint and rolls it back, so
its preview counts are exactly what the real run will do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Final

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.credentials import password_verifier
from api.reservation.booking.revocation import cancel_bookings_of
from api.reservation.exchange.receipts import log_incoming
from api.reservation.exchange.streams import (
    ELIGIBILITY_IN,
    BundleRefused,
    ExchangeKeys,
    decision_for,
    expect_kind,
    locked_mark,
    set_mark,
)
from sync_format import EligibilityRevoke, EligibilityUpsert, Outcome, VerifiedBundle, open_bundle

STAGING: Final = "eligibility_staging"
LATEST: Final = "eligibility_latest"
# The revoke reason of IDs a full bundle no longer lists.
ABSENT_FROM_FULL: Final = "not_in_full"
CANCEL_REASON: Final = "eligibility revoked"

# A hook runs in the import's transaction with the IDs just revoked (after their bookings
# were cancelled): the mail outbox will register one here to tell residents by e-mail.
RevocationHook = Callable[[AsyncSession, list[str]], Awaitable[None]]
revocation_hooks: list[RevocationHook] = []


class EligibilityReport(msgspec.Struct, kw_only=True):
    """What an eligibility import found and (unless a dry run) did."""

    outcome: str
    message: str
    sequence: int
    mode: str
    records: int
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    revoked: int = 0
    ignored_revocations: int = 0
    bookings_left: int = 0
    applied: bool = False
    dry_run: bool = False

    @property
    def receipt_counts(self) -> tuple[int, int, int]:
        """Imported, updated and ignored, as a receipt states them."""
        return self.new, self.updated + self.revoked, self.unchanged + self.ignored_revocations


def canonical_id(reservation_id: str) -> str:
    """``A1B123456`` → ``A1B-123456``: the one form stored and typed at login."""
    return (
        reservation_id
        if len(reservation_id) == 10
        else f"{reservation_id[:3]}-{reservation_id[3:]}"
    )


def _staged(bundle: VerifiedBundle, key: bytes) -> Iterator[list[tuple[Any, ...]]]:
    ordinal = 0
    for batch in bundle.batches():
        rows: list[tuple[Any, ...]] = []
        for record in batch:
            ordinal += 1
            if isinstance(record, EligibilityUpsert):
                reservation_id = canonical_id(record.reservation_id)
                verifier = password_verifier(key, reservation_id, record.password)
                rows.append((ordinal, reservation_id, record.shipment_no, verifier, None))
            elif isinstance(record, EligibilityRevoke):
                rows.append(
                    (ordinal, canonical_id(record.reservation_id), None, None, record.reason)
                )
        yield rows


_CREATE_STAGING = f"""
CREATE TEMP TABLE {STAGING} (
    ordinal bigint NOT NULL,
    reservation_id varchar(10) NOT NULL,
    shipment_no varchar(20),
    password_verifier varchar(64),
    revoke_reason varchar(16)
) ON COMMIT DROP
"""
# The last record of an ID wins (a delta may upsert, then revoke, the same card).
_CREATE_LATEST = f"""
CREATE TEMP TABLE {LATEST} ON COMMIT DROP AS
SELECT DISTINCT ON (reservation_id) reservation_id, shipment_no, password_verifier, revoke_reason
FROM {STAGING} ORDER BY reservation_id, ordinal DESC
"""  # noqa: S608 - constants of this module
_COUNT_UNCHANGED = text(f"""
SELECT count(*) FROM {LATEST} l JOIN eligibilities e USING (reservation_id)
WHERE l.revoke_reason IS NULL AND e.revoked_at IS NULL
  AND e.shipment_no = l.shipment_no AND e.password_verifier = l.password_verifier
""")  # noqa: S608
_UPSERT = text(f"""
WITH written AS (
    INSERT INTO eligibilities (reservation_id, shipment_no, password_verifier,
                               created_at, updated_at)
    SELECT reservation_id, shipment_no, password_verifier, now(), now()
    FROM {LATEST} WHERE revoke_reason IS NULL
    ON CONFLICT (reservation_id) DO UPDATE SET
        shipment_no = excluded.shipment_no,
        password_verifier = excluded.password_verifier,
        revoked_at = NULL,
        revoke_reason = NULL,
        updated_at = now()
    WHERE (eligibilities.shipment_no, eligibilities.password_verifier,
           eligibilities.revoked_at IS NULL)
        IS DISTINCT FROM (excluded.shipment_no, excluded.password_verifier, true)
    RETURNING (xmax = 0) AS created
)
SELECT count(*) FILTER (WHERE created) AS new, count(*) FILTER (WHERE NOT created) AS updated
FROM written
""")  # noqa: S608
_REVOKE_LISTED = text(f"""
UPDATE eligibilities e SET revoked_at = :now, revoke_reason = l.revoke_reason, updated_at = now(),
    session_generation = e.session_generation + 1
FROM {LATEST} l
WHERE l.revoke_reason IS NOT NULL AND e.reservation_id = l.reservation_id
  AND e.revoked_at IS NULL
RETURNING e.reservation_id
""")  # noqa: S608
_REVOKE_ABSENT = text(f"""
UPDATE eligibilities e SET revoked_at = :now, revoke_reason = :reason, updated_at = now(),
    session_generation = e.session_generation + 1
WHERE e.revoked_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM {LATEST} l
                  WHERE l.reservation_id = e.reservation_id AND l.revoke_reason IS NULL)
RETURNING e.reservation_id
""")  # noqa: S608
_COUNT_REVOCATIONS = text(f"SELECT count(*) FROM {LATEST} WHERE revoke_reason IS NOT NULL")  # noqa: S608


async def _driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def _stage(session: AsyncSession, bundle: VerifiedBundle, key: bytes) -> None:
    driver = await _driver(session)
    await driver.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING}, pg_temp.{LATEST}")
    await driver.execute(_CREATE_STAGING)
    columns = ["ordinal", "reservation_id", "shipment_no", "password_verifier", "revoke_reason"]
    batches = _staged(bundle, key)
    while True:
        # Decrypting and hashing a frame is CPU work: a worker thread keeps the loop free.
        rows = await asyncio.to_thread(next, batches, None)
        if rows is None:
            break
        if rows:
            await driver.copy_records_to_table(STAGING, records=rows, columns=columns)
    await driver.execute(_CREATE_LATEST)
    await driver.execute(f"ALTER TABLE {LATEST} ADD PRIMARY KEY (reservation_id)")
    await driver.execute(f"ANALYZE {LATEST}")


async def _apply(
    session: AsyncSession, bundle: VerifiedBundle, report: EligibilityReport, now: dt.datetime
) -> None:
    report.unchanged = (await session.execute(_COUNT_UNCHANGED)).scalar_one()
    written = (await session.execute(_UPSERT)).one()
    report.new, report.updated = written.new, written.updated
    revoked = list((await session.scalars(_REVOKE_LISTED, {"now": now})).all())
    listed_revocations = (await session.execute(_COUNT_REVOCATIONS)).scalar_one()
    report.ignored_revocations = listed_revocations - len(revoked)
    if bundle.header.mode == "full":
        # A full bundle is the whole eligible set: whoever it leaves out may no longer book.
        revoked += (
            await session.scalars(_REVOKE_ABSENT, {"now": now, "reason": ABSENT_FROM_FULL})
        ).all()
    report.revoked = len(revoked)
    if revoked:
        report.bookings_left = await cancel_bookings_of(session, revoked, CANCEL_REASON)
        for hook in revocation_hooks:
            await hook(session, revoked)


async def import_eligibility(
    session: AsyncSession,
    path: Path,
    keys: ExchangeKeys,
    *,
    password_key: bytes,
    now: dt.datetime,
    dry_run: bool = False,
    force_gap: bool = False,
) -> tuple[EligibilityReport, VerifiedBundle]:
    """Verify and apply (or preview) an eligibility bundle in the session's transaction.

    Raises a ``SyncFormatError`` for a bad file and :class:`BundleRefused` for a bundle
    that is authentic but out of sequence; either way nothing has changed. The caller
    commits, then writes the receipt (see ``receipts.write_eligibility_receipt``).
    """
    bundle = open_bundle(path, recipient=keys.secret, trusted=keys.trusted)
    expect_kind(bundle, "eligibility")
    header = bundle.header
    mark = await locked_mark(session, ELIGIBILITY_IN)
    decision = decision_for(bundle, mark, force_gap=force_gap)
    report = EligibilityReport(
        outcome=decision.outcome.value,
        message=decision.reason,
        sequence=header.sequence,
        mode=header.mode,
        records=header.record_total,
        dry_run=dry_run,
    )
    if decision.outcome is Outcome.ALREADY_APPLIED:
        return report, bundle
    if not decision.should_apply:
        raise BundleRefused(
            f"refused: {decision.reason}; nothing was changed",
            details={"outcome": decision.outcome.value, "sequence": header.sequence},
        )
    await _stage(session, bundle, password_key)
    savepoint = await session.begin_nested()
    await _apply(session, bundle, report, now)
    if dry_run:
        await savepoint.rollback()
        return report, bundle
    await savepoint.commit()
    await set_mark(session, ELIGIBILITY_IN, bundle)
    await log_incoming(session, bundle, report.receipt_counts, note=decision.reason)
    report.applied = True
    return report, bundle
