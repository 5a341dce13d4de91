"""予約一覧CSV: column order, encodings, formula neutralising and write→read round trips."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_format.csv.problems import ProblemCode
from sync_format.csv.reservation_list import (
    Channel,
    ReservationListRow,
    ReservationStatus,
    neutralize_cell,
    read_reservation_list,
    restore_cell,
    write_reservation_list,
)

JST = dt.timezone(dt.timedelta(hours=9))
COLUMNS = [
    "予約番号",
    "予約用ID",
    "交付場所コード",
    "交付場所",
    "予約日",
    "開始時刻",
    "終了時刻",
    "予約結果",
    "予約経路",
    "電子メールアドレス",
    "同時予約者ID",
    "メモ",
    "更新日時",
]


def make_row(**changes: object) -> ReservationListRow:
    values: dict[str, object] = {
        "confirmation_code": "R0001",
        "reservation_id": "A1B-123456",
        "location_code": "HQ",
        "location_name": "市民窓口センター",
        "date": dt.date(2026, 12, 3),
        "start_time": dt.time(9, 0),
        "end_time": dt.time(9, 30),
        "status": ReservationStatus.BOOKED,
        "channel": Channel.WEB,
        "email": "resident@example.com",
        "companion_ids": ("C2D-000001", "E3F-000002"),
        "memo": "車椅子で来庁",
        "updated_at": dt.datetime(2026, 11, 30, 10, 15, 0, tzinfo=JST),
    }
    values.update(changes)
    return ReservationListRow(**values)  # type: ignore[arg-type]


def write(rows: list[ReservationListRow], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.BytesIO()
    write_reservation_list(buffer, rows, encoding=encoding)
    return buffer.getvalue()


def test_columns_values_and_bom_by_default() -> None:
    data = write([make_row(), make_row(status=ReservationStatus.CANCELLED, channel=Channel.PHONE)])
    assert data.startswith(b"\xef\xbb\xbf")
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert records[0] == COLUMNS
    assert records[1] == [
        "R0001",
        "A1B-123456",
        "HQ",
        "市民窓口センター",
        "2026-12-03",
        "09:00",
        "09:30",
        "予約済",
        "web",
        "resident@example.com",
        "C2D-000001;E3F-000002",
        "車椅子で来庁",
        "2026-11-30T10:15:00+09:00",
    ]
    assert records[2][7:9] == ["取消", "電話"]
    assert b"\r\n" in data


def test_cp932_on_request() -> None:
    rows = [make_row(status=ReservationStatus.CHANGED)]
    data = write(rows, encoding="cp932")
    assert not data.startswith(b"\xef\xbb\xbf")
    result = read_reservation_list(data)
    assert result.encoding == "cp932"
    assert result.rows == rows


def test_cp932_refuses_characters_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="R0001"):
        write([make_row(memo="絵文字😀")], encoding="cp932")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_are_neutralised(start: str) -> None:
    memo = f'{start}HYPERLINK("http://evil.example")'
    data = write([make_row(memo=memo, location_name=f"{start}1+1")])
    record = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))[1]
    assert record[11] == "'" + memo
    assert record[3] == f"'{start}1+1"
    assert read_reservation_list(data).rows[0].memo == memo


def test_neutralising_is_exactly_undone() -> None:
    for cell in ["", "'", "'=x", "''+1", "=1", "'abc", "abc", "-"]:
        assert restore_cell(neutralize_cell(cell)) == cell
    assert neutralize_cell("'=x") == "''=x"
    assert restore_cell("'plain") == "'plain"


def test_reader_reports_every_bad_cell() -> None:
    data = write([make_row()]).decode("utf-8-sig").splitlines()
    bad = "R0002,A1B-12,HQ,本庁,2026-02-30,9:00,08:00,予約中,fax,no-at-sign,X,,2026-11-30T10:15:00"
    result = read_reservation_list(("\r\n".join([*data, bad]) + "\r\n").encode())
    found = [(problem.line, problem.column) for problem in result.problems]
    assert found == [
        (3, "予約用ID"),
        (3, "予約日"),
        (3, "予約結果"),
        (3, "予約経路"),
        (3, "電子メールアドレス"),
        (3, "同時予約者ID"),
        (3, "更新日時"),
    ]
    assert len(result.rows) == 1


def test_codes_must_fit_the_v1_schema_and_each_problem_names_line_and_column() -> None:
    rows = [
        make_row(confirmation_code="R" * 17),
        make_row(location_code="L" * 33),
        make_row(confirmation_code="R0#1", location_code="本庁"),
        make_row(confirmation_code="R1"),
    ]
    result = read_reservation_list(write(rows))
    found = [(problem.line, problem.column, problem.code) for problem in result.problems]
    assert found == [
        (2, "予約番号", ProblemCode.MALFORMED),
        (3, "交付場所コード", ProblemCode.MALFORMED),
        (4, "予約番号", ProblemCode.MALFORMED),
        (4, "交付場所コード", ProblemCode.MALFORMED),
        (5, "予約番号", ProblemCode.MALFORMED),
    ]
    assert all(problem.reason for problem in result.problems)
    assert result.rows == []


def test_codes_are_normalised_before_they_are_checked() -> None:
    wide = "\uff48\uff51\uff0d\uff12"  # full-width "hq-2"
    data = write([make_row(confirmation_code="k7qx-m3pa", location_code=wide)])
    [row] = read_reservation_list(data).rows
    # The display form K7QX-M3PA is the code K7QXM3PA, as bundles carry it; a location
    # code keeps its case (the reservation zone defines it), only its width changes.
    assert (row.confirmation_code, row.location_code) == ("K7QXM3PA", "hq-2")


def test_each_row_read_has_the_line_it_starts_on() -> None:
    rows = [make_row(), make_row(memo="二行の\r\nメモ"), make_row(confirmation_code="R0003")]
    result = read_reservation_list(write(rows))

    assert result.rows == rows
    # The header is line 1; the second row's quoted memo spans lines 3 and 4.
    assert result.lines == [2, 3, 5]


def test_end_before_start_is_bad() -> None:
    data = write([make_row(start_time=dt.time(10, 0), end_time=dt.time(9, 30))])
    result = read_reservation_list(data)
    assert [problem.column for problem in result.problems] == ["終了時刻"]


def test_reader_file_level_outcomes() -> None:
    assert read_reservation_list(b"").problems[0].code == ProblemCode.EMPTY_FILE
    header_only = read_reservation_list(write([]))
    assert header_only.ok
    assert [warning.code for warning in header_only.warnings] == [ProblemCode.NO_ROWS]
    missing = read_reservation_list("予約番号,予約用ID\r\n".encode())
    assert {problem.code for problem in missing.problems} == {ProblemCode.MISSING_COLUMN}


_reservation_ids = st.from_regex(r"[A-Z0-9]{3}-[0-9]{6}", fullmatch=True)
# The v1 schema's ConfirmationCode (upper-case: the reader upper-cases it) and LocationCode
# (either case: the reader keeps it).
_confirmation_codes = st.from_regex(r"[A-Z0-9]{4,16}", fullmatch=True)
_location_codes = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
# Readers refuse C0 control characters other than tab and line breaks (CONTROL_CHARACTERS).
_free_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])),
    ),
    max_size=40,
)
_formula_text = st.builds(
    lambda start, rest: start + rest,
    st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", "'=", "''-", ""]),
    _free_text,
)
# Hypothesis takes naive bounds and the offset is attached afterwards.
_EARLIEST = dt.datetime(2020, 1, 1)  # noqa: DTZ001
_LATEST = dt.datetime(2099, 1, 1)  # noqa: DTZ001
_times = st.builds(dt.time, st.integers(0, 22), st.integers(0, 59))


@st.composite
def reservation_rows(draw: st.DrawFn) -> ReservationListRow:
    start = draw(_times)
    end = dt.time(start.hour + 1, draw(st.integers(0, 59)))
    offset = dt.timezone(dt.timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
    return ReservationListRow(
        confirmation_code=draw(_confirmation_codes),
        reservation_id=draw(_reservation_ids),
        location_code=draw(_location_codes),
        location_name=draw(_formula_text.filter(lambda text: text.strip() != "")),
        date=draw(st.dates(dt.date(2020, 1, 1), dt.date(2099, 12, 31))),
        start_time=start,
        end_time=end,
        status=draw(st.sampled_from(ReservationStatus)),
        channel=draw(st.sampled_from(Channel)),
        email=draw(st.none() | st.emails()),
        companion_ids=tuple(draw(st.lists(_reservation_ids, max_size=3))),
        memo=draw(_formula_text),
        updated_at=draw(st.datetimes(_EARLIEST, _LATEST)).replace(tzinfo=offset),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(reservation_rows(), max_size=5))
def test_write_then_read_is_identity(rows: list[ReservationListRow]) -> None:
    result = read_reservation_list(write(rows))
    assert result.problems == []
    assert result.rows == rows


@given(_formula_text)
def test_no_written_cell_starts_a_formula(memo: str) -> None:
    data = write([make_row(memo=memo)])
    record = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))[1]
    assert not record[11].startswith(("=", "+", "-", "@", "\t", "\r"))


def test_a_memo_with_a_control_character_is_written_so_that_the_list_reads_back() -> None:
    data = write([make_row(memo="車椅子\x08で来庁\n二行目\t", location_name="本庁\x00舎")])
    result = read_reservation_list(data)
    assert result.problems == []
    assert result.rows[0].memo == "車椅子 で来庁\n二行目\t"
    assert result.rows[0].location_name == "本庁 舎"
