from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.settings import Zone
from api.issuance.exchange.eligibility import ExchangeRefused, export_eligibility, import_receipt
from api.issuance.exchange.models import EligibilityExport
from api.issuance.progress.rules import Action
from sync_format import (
    EligibilityRevoke,
    EligibilityUpsert,
    Receipt,
    TrustStore,
    ZoneSecretKeys,
    open_bundle,
    write_bundle,
)
from tests.conftest import truncate_all
from tests.integration.issuance.progress.factories import add_residents, advance


@pytest.fixture(scope="module")
def issuance_keys() -> ZoneSecretKeys:
    return ZoneSecretKeys.generate("issuance")


@pytest.fixture(scope="module")
def reservation_keys() -> ZoneSecretKeys:
    return ZoneSecretKeys.generate("reservation")


async def _export(
    session: AsyncSession, out: Path, issuance: ZoneSecretKeys, reservation: ZoneSecretKeys
):
    report = await export_eligibility(
        session, out, sender=issuance, recipient=reservation.public(), actor="tester"
    )
    # The bundle is published when the export commits (here: the test's savepoint).
    await session.commit()
    return report


def _records(path: str, issuance: ZoneSecretKeys, reservation: ZoneSecretKeys) -> list[object]:
    bundle = open_bundle(Path(path), recipient=reservation, trusted=TrustStore([issuance.public()]))
    return list(bundle.records())


async def test_first_export_is_full_then_deltas_revoke_exactly_the_issued_cards(
    issuance_session: AsyncSession,
    tmp_path: Path,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
) -> None:
    residents = await add_residents(issuance_session, 5)
    await advance(issuance_session, residents[:3], Action.PRESETUP_DONE)
    await advance(issuance_session, residents[4:], Action.RETURNED)

    first = await _export(issuance_session, tmp_path, issuance_keys, reservation_keys)

    assert (first.sequence, first.mode, first.base_sequence) == (1, "full", None)
    records = _records(first.file, issuance_keys, reservation_keys)
    assert records == [
        EligibilityUpsert(
            reservation_id=r.reservation_id,
            password=f"{r.birth_date:%m%d}",
            shipment_no=r.shipment_no,
        )
        for r in residents[:3]
    ]

    await advance(issuance_session, residents[:1], Action.ISSUED)
    await advance(issuance_session, residents[3:4], Action.PRESETUP_DONE)
    second = await _export(issuance_session, tmp_path, issuance_keys, reservation_keys)

    assert (second.sequence, second.mode, second.base_sequence) == (2, "delta", 1)
    records = _records(second.file, issuance_keys, reservation_keys)
    revocations = [r for r in records if isinstance(r, EligibilityRevoke)]
    upserts = [r for r in records if isinstance(r, EligibilityUpsert)]
    # Only the issued card is revoked: the returned one was never sent.
    assert revocations == [
        EligibilityRevoke(reservation_id=residents[0].reservation_id, reason="issued")
    ]
    assert [u.reservation_id for u in upserts] == [residents[3].reservation_id]

    third = await _export(issuance_session, tmp_path, issuance_keys, reservation_keys)
    assert (third.sequence, third.mode, third.base_sequence) == (3, "delta", 2)
    assert _records(third.file, issuance_keys, reservation_keys) == []

    exports = (
        await issuance_session.scalars(
            select(EligibilityExport).order_by(EligibilityExport.sequence)
        )
    ).all()
    assert [(e.sequence, e.upserts, e.revocations) for e in exports] == [
        (1, 3, 0),
        (2, 1, 1),
        (3, 0, 0),
    ]
    assert all(len(e.digest) == 64 for e in exports)


async def test_receipt_marks_the_export_applied_and_the_same_receipt_twice_is_a_no_op(
    issuance_session: AsyncSession,
    tmp_path: Path,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
) -> None:
    residents = await add_residents(issuance_session, 2)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    export = await _export(issuance_session, tmp_path, issuance_keys, reservation_keys)
    receipt_path = tmp_path / "receipt.bundle"
    write_bundle(
        receipt_path,
        kind="receipt",
        records=[
            Receipt(
                bundle_id=export.bundle_id,
                sequence=export.sequence,
                digest=export.digest,
                imported=1,
                updated=0,
                ignored=0,
                failed=1,
                failures=[(residents[1].reservation_id, "already locked")],
            )
        ],
        sender=reservation_keys,
        recipient=issuance_keys.public(),
        sequence=1,
    )
    trusted = TrustStore([reservation_keys.public()])

    first = await import_receipt(
        issuance_session, receipt_path, keys=issuance_keys, trusted=trusted
    )
    second = await import_receipt(
        issuance_session, receipt_path, keys=issuance_keys, trusted=trusted
    )

    assert [r.outcome for r in first.results] == ["applied"]
    assert first.results[0].failures == [(residents[1].reservation_id, "already locked")]
    assert [r.outcome for r in second.results] == ["already_applied"]
    row = await issuance_session.scalar(select(EligibilityExport))
    assert row is not None
    assert row.receipt_applied_at is not None
    assert row.receipt is not None
    assert row.receipt["failed"] == 1


async def test_an_eligibility_bundle_is_not_accepted_as_a_receipt(
    issuance_session: AsyncSession,
    tmp_path: Path,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
) -> None:
    path = tmp_path / "wrong.bundle"
    write_bundle(
        path,
        kind="eligibility",
        records=[],
        sender=reservation_keys,
        recipient=issuance_keys.public(),
        sequence=1,
    )

    with pytest.raises(ExchangeRefused):
        await import_receipt(
            issuance_session,
            path,
            keys=issuance_keys,
            trusted=TrustStore([reservation_keys.public()]),
        )


# A deferred constraint trigger runs at COMMIT: raising there makes the commit itself fail,
# after everything in the transaction (the export's flush included) has succeeded.
_FAIL_AT_COMMIT = """
CREATE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('madoguchi_test.refuse_commit', true) = 'on' THEN
        RAISE EXCEPTION 'commit refused by the test';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT ON eligibility_exports
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_commit();
"""
_NO_FAILURE = """
DROP TRIGGER IF EXISTS test_refuse_commit ON eligibility_exports;
DROP FUNCTION IF EXISTS test_refuse_commit();
"""


@pytest.fixture
async def commit_can_fail(zone_database_urls: dict[Zone, str]) -> AsyncIterator[None]:
    """A trigger that fails the commit of a transaction that sets refuse_commit (then removed).

    Tests using it commit for real (``committed_session``); the tables are emptied after.
    """
    url = zone_database_urls[Zone.ISSUANCE]
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await connection.execute(_FAIL_AT_COMMIT)
        yield
    finally:
        await connection.execute(_NO_FAILURE)
        await connection.close()
        await truncate_all(url)


async def test_an_export_whose_commit_fails_leaves_no_file_and_frees_its_sequence_number(
    commit_can_fail: None,
    committed_session: AsyncSession,
    tmp_path: Path,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
) -> None:
    residents = await add_residents(committed_session, 2)
    await advance(committed_session, residents, Action.PRESETUP_DONE)
    await committed_session.commit()
    out = tmp_path / "usb"

    await committed_session.execute(text("SET LOCAL madoguchi_test.refuse_commit = 'on'"))
    failed = await export_eligibility(
        committed_session,
        out,
        sender=issuance_keys,
        recipient=reservation_keys.public(),
        actor="tester",
    )
    with pytest.raises(DBAPIError, match="commit refused by the test"):
        await committed_session.commit()
    await committed_session.rollback()

    assert list(out.iterdir()) == []  # not even the hidden temporary file
    assert await committed_session.scalar(select(EligibilityExport.id)) is None

    retried = await export_eligibility(
        committed_session,
        out,
        sender=issuance_keys,
        recipient=reservation_keys.public(),
        actor="tester",
    )
    # Written, but until the commit only under its hidden temporary name.
    assert [path.name.startswith(".") for path in out.iterdir()] == [True]
    await committed_session.commit()

    assert (failed.sequence, retried.sequence) == (1, 1)
    assert [path.name for path in out.iterdir()] == [Path(retried.file).name]
    bundle = open_bundle(
        Path(retried.file), recipient=reservation_keys, trusted=TrustStore([issuance_keys.public()])
    )
    assert bundle.header.bundle_id == retried.bundle_id != failed.bundle_id
    assert len(list(bundle.records())) == 2


async def test_an_export_in_a_savepoint_is_published_by_the_commit_not_by_the_savepoint(
    issuance_session: AsyncSession,
    tmp_path: Path,
    issuance_keys: ZoneSecretKeys,
    reservation_keys: ZoneSecretKeys,
) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)

    async with issuance_session.begin_nested():
        report = await export_eligibility(
            issuance_session,
            tmp_path,
            sender=issuance_keys,
            recipient=reservation_keys.public(),
            actor="tester",
        )
    published = tmp_path / Path(report.file).name
    assert not published.exists()

    await issuance_session.commit()
    assert published.exists()
