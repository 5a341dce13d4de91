"""A 交付場所コード means one location whichever file brings it: 予約一覧CSV, results, bundles."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from sync_format import ReservationRecord, open_bundle, write_bundle
from sync_format.csv.normalize import normalize_location_code
from sync_format.csv.problems import CellError, ProblemCode
from sync_format.csv.progress import read_issued_results
from sync_format.csv.reservation_list import (
    Channel,
    ReservationListRow,
    ReservationStatus,
    read_reservation_list,
    write_reservation_list,
)
from tests.unit.sync_format.sync_support import Zones

JST = dt.timezone(dt.timedelta(hours=9))


def _from_reservation_list(cell: str) -> str:
    row = ReservationListRow(
        confirmation_code="R0001",
        reservation_id="A1B-123456",
        location_code=cell,
        location_name="市役所本庁舎",
        date=dt.date(2026, 12, 3),
        start_time=dt.time(9, 0),
        end_time=dt.time(9, 30),
        status=ReservationStatus.BOOKED,
        channel=Channel.WEB,
        email=None,
        companion_ids=(),
        memo="",
        updated_at=dt.datetime(2026, 11, 30, 10, 15, tzinfo=JST),
    )
    buffer = io.BytesIO()
    write_reservation_list(buffer, [row], encoding="utf-8-sig")
    result = read_reservation_list(buffer.getvalue())
    assert result.problems == []
    return result.rows[0].location_code


def _from_results_file(cell: str) -> str | None:
    header = "製造管理番号,結果,実施日,交付場所コード,備考\r\n"
    data = f"{header}A1B-123456,交付済,2026-12-03,{cell},\r\n"
    result = read_issued_results(data.encode())
    assert result.problems == []
    return result.rows[0].location_code


def _from_bundle(code: str, zones: Zones, path: Path) -> str:
    start = dt.datetime(2026, 12, 3, 9, 0, tzinfo=JST)
    record = ReservationRecord(
        confirmation_code="R0001",
        reservation_id="A1B-123456",
        location_code=code,
        start=start,
        end=start + dt.timedelta(minutes=30),
        status="booked",
        updated_at=start - dt.timedelta(days=3),
    )
    write_bundle(
        path,
        kind="reservations",
        records=[record],
        sender=zones.reservation,
        recipient=zones.issuance.public(),
        sequence=1,
    )
    bundle = open_bundle(path, recipient=zones.issuance, trusted=zones.trusted_by_issuance())
    [read] = list(bundle.records())
    assert isinstance(read, ReservationRecord)
    return read.location_code


@pytest.mark.parametrize("code", ["city-hall", "City_Hall-2", "HQ", "x"])
def test_the_same_code_reads_the_same_from_every_file_case_kept(
    code: str, zones: Zones, tmp_path: Path
) -> None:
    from_bundle = _from_bundle(code, zones, tmp_path / "reservations.bundle")
    assert from_bundle == code
    assert _from_reservation_list(code) == from_bundle
    assert _from_results_file(code) == from_bundle


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("\uff43\uff49\uff54\uff59\uff0d\uff48\uff41\uff4c\uff4c", "city-hall"),  # full width
        ("city\u2010hall", "city-hall"),  # a hyphen look-alike
        ("\u3000city-hall ", "city-hall"),  # surrounding spaces, ideographic too
        ("\uff28\uff31", "HQ"),
    ],
)
def test_typed_variants_become_the_code_the_reservation_zone_defined(
    typed: str, canonical: str
) -> None:
    assert normalize_location_code(typed) == canonical
    assert _from_reservation_list(typed) == canonical
    assert _from_results_file(typed) == canonical


@pytest.mark.parametrize("bad", ["本庁", "L" * 33, "city hall", "city/hall"])
def test_what_no_bundle_could_carry_is_refused(bad: str) -> None:
    with pytest.raises(CellError) as caught:
        normalize_location_code(bad)
    assert caught.value.code == ProblemCode.MALFORMED


def test_a_blank_code_is_missing() -> None:
    with pytest.raises(CellError) as caught:
        normalize_location_code(" \u3000")
    assert caught.value.code == ProblemCode.REQUIRED
