"""Eligibility import: full and delta, revocations, no-ops, refusals, no personal data."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.credentials import password_verifier
from api.reservation.exchange.eligibility import import_eligibility
from api.reservation.exchange.receipts import logged_counts, plan_receipt, write_receipt
from api.reservation.exchange.streams import BundleRefused, ExchangeKeys
from sync_format import (
    Receipt,
    Tampered,
    TrustStore,
    WrongRecipient,
    ZoneSecretKeys,
    open_bundle,
)
from sync_format.errors import SyncFormatError
from tests.integration.reservation.exchange.exchange_support import (
    PASSWORD_KEY,
    eligibility_bundle,
    revoke,
    snapshot,
    upsert,
)
from tests.integration.reservation.places.places_support import (
    NOW,
    configured_location,
    insert_booking,
    slot_id_at,
)


async def run_import(
    session: AsyncSession, path: Path, keys: ExchangeKeys, **options: bool
) -> object:
    report, _ = await import_eligibility(
        session, path, keys, password_key=PASSWORD_KEY, now=NOW, **options
    )
    return report


async def test_full_then_delta_revokes_and_takes_the_id_out_of_its_bookings(
    reservation_session: AsyncSession,
    keys: ExchangeKeys,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
    tmp_path: Path,
) -> None:
    location = await configured_location(reservation_session)
    full = eligibility_bundle(
        tmp_path / "full.bundle",
        issuance_keys,
        reservation_keys,
        [upsert(1), upsert(2, "1231"), upsert(3)],
        sequence=1,
    )
    first = await run_import(reservation_session, full, keys)
    assert (first.new, first.updated, first.revoked, first.applied) == (3, 0, 0, True)  # type: ignore[attr-defined]
    stored = (
        await reservation_session.execute(
            text("SELECT password_verifier FROM eligibilities WHERE reservation_id = 'A1B-000002'")
        )
    ).scalar_one()
    assert stored == password_verifier(PASSWORD_KEY, "A1B-000002", "1231")

    slot = await slot_id_at(reservation_session, location.id, NOW.replace(day=30, hour=9))
    await insert_booking(reservation_session, slot, "SOLO0002", ["A1B-000002"])
    await insert_booking(reservation_session, slot, "PAIR0013", ["A1B-000001", "A1B-000003"])

    delta = eligibility_bundle(
        tmp_path / "delta.bundle",
        issuance_keys,
        reservation_keys,
        [revoke(2), revoke(3, "returned"), upsert(4), revoke(99)],
        sequence=2,
        base=1,
    )
    preview = await run_import(reservation_session, delta, keys, dry_run=True)
    second = await run_import(reservation_session, delta, keys)

    for report in (preview, second):
        assert (report.new, report.revoked, report.ignored_revocations) == (1, 2, 1)  # type: ignore[attr-defined]
        assert report.bookings_left == 2  # type: ignore[attr-defined]
    revoked = (
        await reservation_session.execute(
            text(
                "SELECT reservation_id, revoke_reason FROM eligibilities "
                "WHERE revoked_at IS NOT NULL ORDER BY 1"
            )
        )
    ).all()
    assert [tuple(row) for row in revoked] == [("A1B-000002", "issued"), ("A1B-000003", "returned")]
    bookings = (
        await reservation_session.execute(
            text("SELECT confirmation_code, status, party_size FROM bookings ORDER BY 1")
        )
    ).all()
    assert [tuple(row) for row in bookings] == [
        ("PAIR0013", "booked", 1),
        ("SOLO0002", "cancelled", 1),
    ]
    booked = (
        await reservation_session.execute(
            text("SELECT online_booked FROM slots WHERE id = :id"), {"id": slot}
        )
    ).scalar_one()
    assert booked == 1

    _, bundle = await import_eligibility(
        reservation_session, delta, keys, password_key=PASSWORD_KEY, now=NOW
    )
    plan = await plan_receipt(
        reservation_session, bundle, await logged_counts(reservation_session, bundle)
    )
    receipt_path = write_receipt(
        plan,
        dataclasses.replace(keys, trusted=TrustStore([issuance_keys.public()])),
        tmp_path / "out",
    )
    opened = open_bundle(
        receipt_path, recipient=issuance_keys, trusted=TrustStore([reservation_keys.public()])
    )
    (receipt,) = list(opened.records())
    assert isinstance(receipt, Receipt)
    assert (receipt.sequence, receipt.digest) == (2, bundle.digest)
    assert (receipt.imported, receipt.updated, receipt.ignored) == (1, 2, 1)


async def test_the_same_bundle_twice_is_a_no_op(
    reservation_session: AsyncSession,
    keys: ExchangeKeys,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
    tmp_path: Path,
) -> None:
    path = eligibility_bundle(
        tmp_path / "e.bundle", issuance_keys, reservation_keys, [upsert(1), upsert(2)], sequence=1
    )
    await run_import(reservation_session, path, keys)
    before = await snapshot(reservation_session)

    again = await run_import(reservation_session, path, keys)

    assert again.outcome == "already_applied"  # type: ignore[attr-defined]
    assert await snapshot(reservation_session) == before


async def test_a_full_bundle_revokes_whoever_it_leaves_out(
    reservation_session: AsyncSession,
    keys: ExchangeKeys,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
    tmp_path: Path,
) -> None:
    one = eligibility_bundle(
        tmp_path / "1.bundle", issuance_keys, reservation_keys, [upsert(1), upsert(2)], sequence=1
    )
    two = eligibility_bundle(
        tmp_path / "2.bundle", issuance_keys, reservation_keys, [upsert(2)], sequence=5
    )
    await run_import(reservation_session, one, keys)
    report = await run_import(reservation_session, two, keys)
    assert (report.unchanged, report.revoked) == (1, 1)  # type: ignore[attr-defined]


def _tampered(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[-40] ^= 0x01
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("case", ["gap", "rollback", "conflict", "wrong_recipient", "tampered"])
async def test_refused_bundles_change_nothing(
    case: str,
    reservation_session: AsyncSession,
    keys: ExchangeKeys,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
    tmp_path: Path,
) -> None:
    for sequence, base in ((1, None), (2, 1)):
        applied = eligibility_bundle(
            tmp_path / f"ok{sequence}.bundle",
            issuance_keys,
            reservation_keys,
            [upsert(sequence)],
            sequence=sequence,
            base=base,
        )
        await run_import(reservation_session, applied, keys)
    before = await snapshot(reservation_session)
    records = [upsert(7), revoke(1)]
    bad = tmp_path / "bad.bundle"
    expected: type[Exception] = BundleRefused
    message = ""
    if case == "gap":
        eligibility_bundle(bad, issuance_keys, reservation_keys, records, sequence=4, base=3)
        message = "based on 3, but the last applied is 2"
    elif case == "rollback":
        eligibility_bundle(bad, issuance_keys, reservation_keys, records, sequence=1)
        message = "older than the applied 2"
    elif case == "conflict":
        eligibility_bundle(bad, issuance_keys, reservation_keys, records, sequence=2, base=1)
        message = "already used by a different bundle"
    elif case == "wrong_recipient":
        stranger = ZoneSecretKeys.generate("reservation")
        eligibility_bundle(bad, issuance_keys, stranger, records, sequence=3, base=2)
        expected = WrongRecipient
    else:
        _tampered(
            eligibility_bundle(bad, issuance_keys, reservation_keys, records, sequence=3, base=2)
        )
        expected = Tampered

    with pytest.raises(expected) as refusal:
        await run_import(reservation_session, bad, keys)

    assert message in str(refusal.value)
    assert isinstance(refusal.value, BundleRefused | SyncFormatError)
    assert await snapshot(reservation_session) == before


# Columns whose names look personal but are not a resident's data (why, for each).
NOT_PERSONAL = {
    ("locations", "name"),  # the counter site's name
    ("locations", "address"),  # the counter site's address
    ("staff_accounts", "display_name"),  # city staff, not residents
    ("staff_roles", "name"),  # a role's name
    ("staff_access_tokens", "name"),  # a token's label
    ("sync_streams", "name"),  # a sync stream's name
    ("staff_terminals", "name"),  # an office terminal's label
    ("staff_accounts", "must_change_password"),  # a flag of a staff account
    ("access_log", "client_address"),  # the network address a request came from
}
PERSONAL_COLUMN = re.compile(
    r"name|kana|birth|address|addr|sex|gender|certificate|application|postal|"
    r"phone_number|password$"
)


async def test_no_personal_data_can_be_stored_in_the_reservation_zone(
    reservation_session: AsyncSession,
    keys: ExchangeKeys,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
    tmp_path: Path,
) -> None:
    # A resident as the issuance zone knows them; only the eligibility record crosses.
    resident = {
        "name": "山田花子",
        "name_kana": "ヤマダハナコ",
        "birth_date": "1985-02-14",
        "birth_compact": "19850214",
        "address": "見本県デモ市中央1-2-3",
        "application_id": "00123456789012345678901",
    }
    path = eligibility_bundle(
        tmp_path / "e.bundle", issuance_keys, reservation_keys, [upsert(1, "0214")], sequence=1
    )
    await run_import(reservation_session, path, keys)

    columns = (
        await reservation_session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        )
    ).all()
    suspicious = sorted(
        (table, column)
        for table, column in columns
        if PERSONAL_COLUMN.search(column) and (table, column) not in NOT_PERSONAL
    )
    assert suspicious == []

    tables = [
        table
        for (table,) in await reservation_session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
    ]
    for table in tables:
        rows = await reservation_session.execute(text(f'SELECT * FROM "{table}"'))
        for row in rows:
            cells = [str(cell) for cell in row if cell is not None]
            for cell in cells:
                assert cell != "0214", f"{table} holds the plain password"
                for what, value in resident.items():
                    assert value not in cell, f"{table} holds the resident's {what}"
