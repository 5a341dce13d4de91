from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.exchange.eligibility import ExchangeRefused
from api.issuance.exchange.models import Booking, ReservationImport
from api.issuance.exchange.reservations import import_reservation_bundle, import_reservation_csv
from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress, ProgressEvent
from api.issuance.progress.queries import CardFilter, list_cards, phase_counts
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.services import verify_progress
from sync_format import (
    Receipt,
    ReservationRecord,
    TrustStore,
    ZoneSecretKeys,
    open_bundle,
    write_bundle,
)
from sync_format.csv import Channel, ReservationListRow, ReservationStatus, write_reservation_list
from tests.integration.issuance.progress.factories import add_residents, advance

TOKYO = ZoneInfo("Asia/Tokyo")
START = dt.datetime(2026, 5, 11, 9, 30, tzinfo=TOKYO)


@pytest.fixture(scope="module")
def issuance_keys() -> ZoneSecretKeys:
    return ZoneSecretKeys.generate("issuance")


@pytest.fixture(scope="module")
def reservation_keys() -> ZoneSecretKeys:
    return ZoneSecretKeys.generate("reservation")


def _booking(
    code: str,
    reservation_id: str,
    *,
    status: str = "booked",
    companions: tuple[str, ...] = (),
    updated: int = 0,
    location_code: str = "city-hall",
) -> ReservationRecord:
    return ReservationRecord(
        confirmation_code=code,
        reservation_id=reservation_id,
        location_code=location_code,
        start=START,
        end=START + dt.timedelta(minutes=15),
        status=status,  # type: ignore[arg-type]
        companion_ids=list(companions),
        memo="ベビーカーで来庁",
        channel="phone",
        email="resident@example.jp",
        updated_at=START - dt.timedelta(days=3) + dt.timedelta(hours=updated),
    )


class Zones:
    def __init__(self, issuance: ZoneSecretKeys, reservation: ZoneSecretKeys, folder: Path) -> None:
        self.issuance, self.reservation, self.folder = issuance, reservation, folder

    def bundle(self, records: list[ReservationRecord], sequence: int, **options: object) -> Path:
        path = self.folder / f"reservations-{sequence}.bundle"
        write_bundle(
            path,
            kind="reservations",
            records=records,
            sender=self.reservation,
            recipient=self.issuance.public(),
            sequence=sequence,
            overwrite=True,
            **options,  # type: ignore[arg-type]
        )
        return path

    async def load(
        self, session: AsyncSession, path: Path, *, commit: bool = True, **options: object
    ):
        report = await import_reservation_bundle(
            session,
            path,
            keys=self.issuance,
            trusted=TrustStore([self.reservation.public()]),
            actor="operator",
            receipt_dir=self.folder / "receipts",
            **options,  # type: ignore[arg-type]
        )
        # The receipt is published when the import commits (here: the test's savepoint).
        if commit:
            await session.commit()
        return report


@pytest.fixture
def zones(issuance_keys: ZoneSecretKeys, reservation_keys: ZoneSecretKeys, tmp_path: Path) -> Zones:
    return Zones(issuance_keys, reservation_keys, tmp_path)


async def _phase(session: AsyncSession, resident: Resident) -> str:
    phase = await session.scalar(
        select(CardProgress.phase).where(CardProgress.resident_id == resident.id)
    )
    return phase or "imported"


async def test_reservation_bundle_reports_unknown_and_issued_ids_and_reserves_the_rest(
    issuance_session: AsyncSession, zones: Zones
) -> None:
    residents = await add_residents(issuance_session, 3)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    await advance(issuance_session, residents[2:], Action.ISSUED)
    path = zones.bundle(
        [
            _booking(
                "K0000001", residents[0].reservation_id, companions=(residents[1].reservation_id,)
            ),
            _booking("K0000002", "ZZZ-000001"),
            _booking("K0000003", residents[2].reservation_id),
        ],
        sequence=1,
    )

    preview = await zones.load(issuance_session, path, dry_run=True)
    assert preview.outcome == "preview"
    assert await issuance_session.scalar(select(func.count(Booking.id))) == 0
    assert await _phase(issuance_session, residents[0]) == "presetup_done"

    report = await zones.load(issuance_session, path)

    assert (report.outcome, report.imported, report.failed, report.reserved) == ("applied", 2, 2, 2)
    assert (preview.imported, preview.failed) == (report.imported, report.failed)
    assert sorted((f.reservation_id, f.code) for f in report.failures) == [
        (residents[2].reservation_id, "card_final"),
        ("ZZZ-000001", "unknown_reservation_id"),
    ]
    assert [await _phase(issuance_session, r) for r in residents] == [
        "reserved",
        "reserved",
        "issued",
    ]
    companions = await issuance_session.scalar(
        select(Booking.companion_ids).where(Booking.resident_id == residents[1].id)
    )
    assert companions == [residents[0].reservation_id]
    # The receipt goes back to the reservation zone, encrypted to it.
    assert report.receipt_file is not None
    receipt = open_bundle(
        Path(report.receipt_file),
        recipient=zones.reservation,
        trusted=TrustStore([zones.issuance.public()]),
    )
    [record] = list(receipt.records())
    assert isinstance(record, Receipt)
    assert (record.sequence, record.imported, record.failed) == (1, 2, 2)


async def test_the_same_bundle_twice_is_a_no_op_and_a_gap_is_refused(
    issuance_session: AsyncSession, zones: Zones
) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    path = zones.bundle([_booking("K0000001", residents[0].reservation_id)], sequence=1)
    await zones.load(issuance_session, path)

    again = await zones.load(issuance_session, path)
    gap = zones.bundle(
        [_booking("K0000009", residents[0].reservation_id, status="cancelled", updated=5)],
        sequence=3,
        mode="delta",
        base_sequence=2,
    )
    with pytest.raises(ExchangeRefused, match="based on 2"):
        await zones.load(issuance_session, gap)

    assert again.outcome == "already_applied"
    assert await issuance_session.scalar(select(func.count(ReservationImport.id))) == 1
    assert await issuance_session.scalar(select(func.count(Booking.id))) == 1


async def test_cancelled_booking_moves_progress_back_and_a_new_one_reserves_again(
    issuance_session: AsyncSession, zones: Zones
) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE, Action.NOTICE_PRINTED)
    rid = residents[0].reservation_id
    await zones.load(issuance_session, zones.bundle([_booking("K0000001", rid)], sequence=1))
    assert await _phase(issuance_session, residents[0]) == "reserved"

    cancel = zones.bundle(
        [_booking("K0000001", rid, status="cancelled", updated=1)],
        sequence=2,
        mode="delta",
        base_sequence=1,
    )
    report = await zones.load(issuance_session, cancel)
    assert (report.updated, report.unreserved) == (1, 1)
    assert await _phase(issuance_session, residents[0]) == "notice_sent"

    rebook = zones.bundle(
        [_booking("K0000002", rid, updated=2)], sequence=3, mode="delta", base_sequence=2
    )
    await zones.load(issuance_session, rebook)
    assert await _phase(issuance_session, residents[0]) == "reserved"
    assert await verify_progress(issuance_session) == []


def _csv(rows: list[ReservationListRow]) -> bytes:
    buffer = io.BytesIO()
    write_reservation_list(buffer, rows)
    return buffer.getvalue()


async def test_reservation_list_csv_imports_once_and_reports_unknown_ids(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    row = ReservationListRow(
        confirmation_code="K0000001",
        reservation_id=residents[0].reservation_id,
        location_code="north",
        location_name="北支所",
        date=dt.date(2026, 5, 11),
        start_time=dt.time(9, 30),
        end_time=dt.time(9, 45),
        status=ReservationStatus.BOOKED,
        channel=Channel.WEB,
        memo="=1+1",
        updated_at=dt.datetime(2026, 5, 1, 12, 0, tzinfo=TOKYO),
    )
    unknown = ReservationListRow(
        **{**{f: getattr(row, f) for f in row.__struct_fields__}, "reservation_id": "ZZZ-000002"}
    )
    data = _csv([row, unknown])

    first = await import_reservation_csv(
        issuance_session, data, file_name="list.csv", tz=TOKYO, actor="operator"
    )
    second = await import_reservation_csv(
        issuance_session, data, file_name="list.csv", tz=TOKYO, actor="operator"
    )

    assert (first.outcome, first.imported, first.reserved) == ("applied", 1, 1)
    assert [(f.reservation_id, f.code) for f in first.failures] == [
        ("ZZZ-000002", "unknown_reservation_id")
    ]
    assert second.outcome == "already_applied"
    booking = await issuance_session.scalar(select(Booking))
    assert booking is not None
    assert booking.starts_at == dt.datetime(2026, 5, 11, 9, 30, tzinfo=TOKYO)
    assert (booking.location_name, booking.memo) == ("北支所", "=1+1")


async def test_reservation_list_with_bad_rows_is_refused_whole(
    issuance_session: AsyncSession,
) -> None:
    data = "予約番号,予約用ID\r\nK1,ABC-123456\r\n".encode("utf-8-sig")

    with pytest.raises(ExchangeRefused) as refused:
        await import_reservation_csv(
            issuance_session, data, file_name="bad.csv", tz=TOKYO, actor="operator"
        )

    assert refused.value.details.problems
    assert await issuance_session.scalar(select(func.count(ReservationImport.id))) == 0


async def test_reserved_cards_carry_the_location_of_their_booking(
    issuance_session: AsyncSession, zones: Zones
) -> None:
    residents = await add_residents(issuance_session, 2)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    household = (residents[1].reservation_id,)
    path = zones.bundle(
        [_booking("K0000001", residents[0].reservation_id, companions=household)], sequence=1
    )

    await zones.load(issuance_session, path)

    stored = await issuance_session.execute(
        select(CardProgress.resident_id, CardProgress.location_code)
    )
    assert {row.resident_id: row.location_code for row in stored} == {
        r.id: "city-hall" for r in residents
    }
    counts = await phase_counts(issuance_session, CardFilter(location_code="city-hall"), tz=TOKYO)
    assert (counts.counts["reserved"], counts.total) == (2, 2)
    reserved = await list_cards(
        issuance_session,
        CardFilter(phase=Phase.RESERVED, location_code="city-hall"),
        tz=TOKYO,
        limit=10,
        offset=0,
    )
    assert [card.reservation_id for card in reserved.items] == [r.reservation_id for r in residents]


async def test_a_booking_moved_to_another_location_moves_its_card_with_an_event(
    issuance_session: AsyncSession, zones: Zones
) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    rid = residents[0].reservation_id
    await zones.load(issuance_session, zones.bundle([_booking("K0000001", rid)], sequence=1))
    moved = _booking("K0000001", rid, location_code="kita", updated=5)
    await zones.load(
        issuance_session,
        zones.bundle([moved], sequence=2, mode="delta", base_sequence=1),
    )

    stored = await issuance_session.execute(select(CardProgress.phase, CardProgress.location_code))
    assert [tuple(row) for row in stored] == [("reserved", "kita")]
    events = await issuance_session.execute(
        select(ProgressEvent.action, ProgressEvent.location_code).order_by(ProgressEvent.id)
    )
    assert [tuple(row) for row in events] == [
        ("presetup_done", None),
        ("reserved", "city-hall"),
        ("reserved", "kita"),
    ]
    assert (
        await phase_counts(issuance_session, CardFilter(location_code="city-hall"), tz=TOKYO)
    ).total == 0
    assert (
        await phase_counts(issuance_session, CardFilter(location_code="kita"), tz=TOKYO)
    ).counts["reserved"] == 1


def _list_row(reservation_id: str, **changes: object) -> ReservationListRow:
    values: dict[str, object] = {
        "confirmation_code": "K0000001",
        "reservation_id": reservation_id,
        "location_code": "north",
        "location_name": "北支所",
        "date": dt.date(2026, 5, 11),
        "start_time": dt.time(9, 30),
        "end_time": dt.time(9, 45),
        "status": ReservationStatus.BOOKED,
        "channel": Channel.WEB,
        "updated_at": dt.datetime(2026, 5, 1, 12, 0, tzinfo=TOKYO),
    }
    values.update(changes)
    return ReservationListRow(**values)  # type: ignore[arg-type]


async def test_reservation_list_with_over_long_or_malformed_codes_names_each_line_and_column(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    rid = residents[0].reservation_id
    data = _csv(
        [
            _list_row(rid),
            _list_row(rid, confirmation_code="K" * 17),
            _list_row(rid, confirmation_code="K0000003", location_code="L" * 33),
            _list_row(rid, confirmation_code="K0000004", location_code="北支所"),
            _list_row(rid, confirmation_code="K0#04"),
        ]
    )

    with pytest.raises(ExchangeRefused) as refused:
        await import_reservation_csv(
            issuance_session, data, file_name="list.csv", tz=TOKYO, actor="operator"
        )

    problems = refused.value.details.problems
    assert [(p.line, p.column) for p in problems] == [
        (3, "予約番号"),
        (4, "交付場所コード"),
        (5, "交付場所コード"),
        (6, "予約番号"),
    ]
    assert await issuance_session.scalar(select(func.count(Booking.id))) == 0
    assert await _phase(issuance_session, residents[0]) == "presetup_done"


async def test_reservation_list_failures_name_the_line_of_their_row(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 2)
    await advance(issuance_session, residents[:1], Action.PRESETUP_DONE)
    data = _csv(
        [
            _list_row(residents[0].reservation_id),
            _list_row("ZZZ-000001", confirmation_code="K0000002"),
            # 交付前設定 not done yet: not bookable.
            _list_row(residents[1].reservation_id, confirmation_code="K0000003"),
        ]
    )

    report = await import_reservation_csv(
        issuance_session, data, file_name="list.csv", tz=TOKYO, actor="operator"
    )

    assert sorted((f.line, f.code) for f in report.failures) == [
        (3, "unknown_reservation_id"),
        (4, "presetup_not_done"),
    ]


async def test_a_rolled_back_import_leaves_no_receipt(
    issuance_session: AsyncSession, zones: Zones
) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    await issuance_session.commit()
    path = zones.bundle([_booking("K0000001", residents[0].reservation_id)], sequence=1)

    report = await zones.load(issuance_session, path, commit=False)
    assert report.receipt_file is not None
    receipts = zones.folder / "receipts"
    # Before the commit only a hidden partial file exists; after a rollback nothing.
    assert [file.name for file in receipts.iterdir()] == [
        f".{Path(report.receipt_file).name}.partial"
    ]
    await issuance_session.rollback()

    assert list(receipts.iterdir()) == []
    again = await zones.load(issuance_session, path)
    assert again.outcome == "applied"
    assert [file.name for file in receipts.iterdir()] == [Path(again.receipt_file or "").name]
