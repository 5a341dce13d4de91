"""Progress result readers: 交付前設定結果 and 交付済結果."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sync_format.csv.problems import ProblemCode
from sync_format.csv.progress import (
    IssuedResult,
    PresetupResult,
    read_issued_results,
    read_presetup_results,
)

HEADER = "製造管理番号,結果,実施日,交付場所コード,備考\r\n"


def test_presetup_sample_parses(data_dir: Path) -> None:
    result = read_presetup_results(data_dir / "presetup-results.csv")
    assert result.ok, [problem.describe() for problem in result.problems]
    assert len(result.rows) == 15
    failed = [row for row in result.rows if row.result is PresetupResult.FAILED]
    assert [(row.reservation_id, row.note) for row in failed] == [("M42-770075", "券面印字不良")]
    assert result.rows[0].date == dt.date(2026, 11, 20)
    assert result.rows[0].location_code is None


def test_issued_sample_parses(data_dir: Path) -> None:
    result = read_issued_results(data_dir / "issued-results.csv")
    assert result.ok
    assert len(result.rows) == 5
    assert {row.result for row in result.rows} == {IssuedResult.ISSUED}
    assert result.rows[0].location_code == "HQ"


def test_every_issued_value_and_date_form() -> None:
    data = (
        HEADER
        + "A1B-000001,交付済,令和8年12月3日,HQ,\r\n"
        + "a1b000002,返戻,R08.12.03,,宛所不明\r\n"
        + "A1B-000003,廃止,5081203,,\r\n"
    ).encode("cp932")
    result = read_issued_results(data)
    assert result.ok
    assert [row.result for row in result.rows] == [
        IssuedResult.ISSUED,
        IssuedResult.RETURNED,
        IssuedResult.CANCELLED,
    ]
    assert {row.date for row in result.rows} == {dt.date(2026, 12, 3)}
    assert result.rows[1].reservation_id == "A1B-000002"
    assert result.rows[1].note == "宛所不明"


def test_progress_problems_are_all_reported() -> None:
    data = (
        HEADER
        + "A1B-000001,済,2026-12-03,,\r\n"  # 済 is a presetup value, not an issued one
        + ",交付済,2026-02-30,,\r\n"
        + "A1B-000003,交付済,,,\r\n"
    ).encode()
    result = read_issued_results(data)
    found = [(problem.line, problem.column, problem.code) for problem in result.problems]
    assert found == [
        (2, "結果", ProblemCode.UNKNOWN_CODE),
        (3, "製造管理番号", ProblemCode.REQUIRED),
        (3, "実施日", ProblemCode.BAD_DATE),
        (4, "実施日", ProblemCode.REQUIRED),
    ]
    assert result.rows == []


def test_progress_header_rules() -> None:
    missing = read_presetup_results("製造管理番号,結果,交付場所コード\r\n".encode())
    assert [problem.column for problem in missing.problems] == ["実施日"]
    optional_left_out = read_presetup_results(
        "結果,製造管理番号,実施日,担当\r\n済,A1B-000001,2026/11/20,山田\r\n".encode()
    )
    assert optional_left_out.ok
    assert [warning.column for warning in optional_left_out.warnings] == ["担当"]
    assert optional_left_out.rows[0].location_code is None
    header_only = read_presetup_results(HEADER.encode("cp932"))
    assert header_only.ok
    assert [warning.code for warning in header_only.warnings] == [ProblemCode.NO_ROWS]
    empty = read_presetup_results(b"")
    assert [problem.code for problem in empty.problems] == [ProblemCode.EMPTY_FILE]


def test_progress_era_overflow_option() -> None:
    data = (HEADER + "A1B-000001,済,平成38年11月20日,,\r\n").encode()
    assert not read_presetup_results(data).ok
    allowed = read_presetup_results(data, allow_era_overflow=True)
    assert allowed.rows[0].date == dt.date(2026, 11, 20)


def test_location_code_must_fit_the_v1_schema_and_names_its_line() -> None:
    data = (
        HEADER
        + "A1B-000001,交付済,2026-12-03,\uff28\uff31,\r\n"
        + f"A1B-000002,交付済,2026-12-03,{'L' * 33},\r\n"
        + "A1B-000003,交付済,2026-12-03,本庁,\r\n"
    ).encode()
    result = read_issued_results(data)
    found = [(problem.line, problem.column, problem.code) for problem in result.problems]
    assert found == [
        (3, "交付場所コード", ProblemCode.MALFORMED),
        (4, "交付場所コード", ProblemCode.MALFORMED),
    ]
    # Full-width letters are made ASCII before the check.
    assert [(row.line, row.location_code) for row in result.rows] == [(2, "HQ")]
