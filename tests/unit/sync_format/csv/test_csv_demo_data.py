"""Demo card list generator: deterministic, fictional, and read back without problems."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from api.issuance.demo_data import (
    DEMO_PREFECTURE_CITY,
    demo_reservation_id,
    generate_residents,
    write_demo_card_list,
)
from sync_format.csv.card_list import read_card_list
from sync_format.csv.card_list_writer import write_card_list
from sync_format.csv.dates import DateStyle
from sync_format.csv.normalize import is_reservation_id


def test_same_seed_same_residents_other_seed_other_residents() -> None:
    first = generate_residents(50, seed=7)
    assert first == generate_residents(50, seed=7)
    assert first != generate_residents(50, seed=8)


def test_residents_are_clearly_fictional() -> None:
    residents = generate_residents(2000, seed=1)
    rows = [resident.row for resident in residents]
    assert all(row.address.startswith(DEMO_PREFECTURE_CITY) for row in rows)
    assert all(row.postal_code.startswith("000-") for row in rows)
    assert all(is_reservation_id(row.reservation_id) for row in rows)
    assert len({row.reservation_id for row in rows}) == len(rows)
    assert any(row.has_gaiji for row in rows)
    assert len({resident.birth_date_text[:1] for resident in residents}) > 5  # varied forms


def test_reservation_ids_never_repeat() -> None:
    ids = {demo_reservation_id(index, 12345) for index in range(100_000)}
    assert len(ids) == 100_000


@pytest.mark.parametrize("encoding", ["cp932", "utf-8", "utf-8-sig"])
def test_demo_card_list_reads_back_with_zero_problems(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "demo.csv"
    assert write_demo_card_list(path, 3000, seed=5, encoding=encoding) == 3000
    result = read_card_list(path)
    assert result.problems == []
    assert result.warnings == []
    assert result.encoding == ("cp932" if encoding == "cp932" else "utf-8-sig")
    assert result.rows == [resident.row for resident in generate_residents(3000, seed=5)]


def test_card_list_writer_round_trips_in_every_date_style() -> None:
    rows = [resident.row for resident in generate_residents(200, seed=2)]
    for style in DateStyle:
        buffer = io.BytesIO()
        write_card_list(buffer, rows, encoding="utf-8-sig", date_style=style)
        assert read_card_list(buffer.getvalue()).rows == rows


def test_card_list_writer_names_a_row_it_cannot_encode() -> None:
    row = generate_residents(1, seed=3)[0].row
    bad = type(row)(**{**{f: getattr(row, f) for f in row.__struct_fields__}, "name": "😀"})
    with pytest.raises(ValueError, match=row.reservation_id):
        write_card_list(io.BytesIO(), [bad], encoding="cp932")
