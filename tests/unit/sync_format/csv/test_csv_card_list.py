"""カード発行一覧CSV reader: samples, encodings, quoting and every bad-input case."""

# Full-width and look-alike characters are the input these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from sync_format.csv.card_list import Sex, iter_card_list, read_card_list
from sync_format.csv.problems import ProblemCode
from tests.unit.sync_format.csv.conftest import HEADERS


def codes(problems: list) -> list[str]:
    return [problem.code for problem in problems]


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("card-list-cp932.csv", "cp932"), ("card-list-utf8-bom.csv", "utf-8-sig")],
)
def test_sample_files_parse_cleanly(data_dir: Path, name: str, encoding: str) -> None:
    result = read_card_list(data_dir / name)
    assert result.ok, [problem.describe() for problem in result.problems]
    assert result.warnings == []
    assert result.encoding == encoding
    assert len(result.rows) == 20
    assert [row.line for row in result.rows] == list(range(2, 22))


def test_cp932_sample_is_normalised(data_dir: Path) -> None:
    rows = {row.line: row for row in read_card_list(data_dir / "card-list-cp932.csv").rows}
    assert rows[3].reservation_id == "A4T-756589"  # full-width, no hyphen
    assert rows[9].reservation_id == "6ZN-986724"  # full-width hyphen
    assert rows[16].reservation_id == "0U8-524078"  # no hyphen
    assert rows[2].birth_date == dt.date(2010, 8, 26)  # era code 4220826
    assert rows[3].birth_date == dt.date(1948, 5, 5)  # 昭23.05.05
    assert rows[15].birth_date == dt.date(2021, 4, 22)  # 令和3年4月22日
    assert rows[5].address_extra == "17階"
    assert rows[5].certificate_signature is False
    assert rows[5].certificate_authentication is True
    assert rows[2].sex is Sex.MALE
    assert rows[2].password == "0826"


def test_valid_row_becomes_a_typed_record(card_list) -> None:
    (row,) = read_card_list(card_list([{}])).rows
    assert row.reservation_id == "A1B-123456"
    assert row.application_id == "00123456789012345678901"
    assert row.birth_date == dt.date(1985, 2, 14)
    assert row.sex is Sex.MALE
    assert row.postal_code == "000-0001"
    assert (row.certificate_signature, row.certificate_authentication) == (True, False)
    assert row.card_expiry == dt.date(2035, 2, 14)
    assert row.has_gaiji is False


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_encodings_and_line_endings(card_list, encoding: str, newline: str) -> None:
    data = card_list([{}, {"製造管理番号": "A1B-000002"}], encoding=encoding, newline=newline)
    result = read_card_list(data)
    assert result.ok
    assert len(result.rows) == 2
    assert result.encoding == ("cp932" if encoding == "cp932" else "utf-8-sig")
    assert result.rows[1].line == 3


def test_undecodable_bytes_are_a_file_level_error() -> None:
    result = read_card_list(b"\xff\xfe\xfd\x80\x81,\x82\r\n\xa0\xe0\xef\xff")
    assert codes(result.problems) == [ProblemCode.UNSUPPORTED_ENCODING]
    assert "unsupported encoding" in result.problems[0].reason
    assert result.rows == []


def test_utf16_is_refused_clearly(card_list) -> None:
    result = read_card_list(card_list([{}], encoding="utf-16"))
    assert codes(result.problems) == [ProblemCode.UNSUPPORTED_ENCODING]
    assert "UTF-16" in result.problems[0].reason


def test_empty_file_is_an_error_and_header_only_is_a_warning(
    card_list,
) -> None:
    empty = read_card_list(b"")
    assert codes(empty.problems) == [ProblemCode.EMPTY_FILE]
    header_only = read_card_list(card_list([]))
    assert header_only.ok
    assert header_only.rows == []
    assert codes(header_only.warnings) == [ProblemCode.NO_ROWS]


def test_header_in_any_order_and_unknown_column_is_a_warning(
    card_list,
) -> None:
    headers = ["備考欄", *reversed(HEADERS)]
    result = read_card_list(card_list([{"備考欄": "x"}], headers=headers))
    assert result.ok
    assert result.rows[0].reservation_id == "A1B-123456"
    assert codes(result.warnings) == [ProblemCode.UNKNOWN_COLUMN]
    assert result.warnings[0].column == "備考欄"


def test_missing_required_columns_are_file_level_errors(card_list) -> None:
    headers = [header for header in HEADERS if header not in ("申請書ID", "住所")]
    result = read_card_list(card_list([{}], headers=headers))
    assert codes(result.problems) == [ProblemCode.MISSING_COLUMN] * 2
    assert [problem.column for problem in result.problems] == ["申請書ID", "住所"]
    assert result.rows == []


def test_optional_columns_may_be_left_out(card_list) -> None:
    headers = HEADERS[:9]
    (row,) = read_card_list(card_list([{}], headers=headers)).rows
    assert (row.address_extra, row.certificate_signature, row.card_expiry) == ("", False, None)


def test_quoted_fields_with_commas_and_line_breaks_keep_physical_line_numbers(
    card_list,
) -> None:
    data = card_list(
        [
            {"製造管理番号": "A1B-000001", "住所": "見本県デモ市\r\n見本町1, 2番"},
            {"製造管理番号": "A1B-000002", "方書": 'デモ"ハイツ"\n3階'},
            {"製造管理番号": "A1B-000003", "生年月日": "1985-02-30"},
        ]
    )
    result = read_card_list(data)
    assert [row.line for row in result.rows] == [2, 4]
    assert result.rows[0].address == "見本県デモ市\r\n見本町1, 2番"
    assert result.rows[1].address_extra == 'デモ"ハイツ"\n3階'
    (problem,) = result.problems
    assert (problem.line, problem.column, problem.value) == (6, "生年月日", "1985-02-30")


def test_broken_quoting_is_reported() -> None:
    data = ",".join(HEADERS).encode() + b'\r\nA1B-123456,"unterminated\r\n'
    result = read_card_list(data)
    assert codes(result.problems) == [ProblemCode.MALFORMED_CSV]


def test_all_problems_are_reported_at_once(card_list) -> None:
    data = card_list(
        [
            {"製造管理番号": "A1B-000001", "申請書ID": "123", "性別": "3"},
            {"製造管理番号": "", "氏名カナ": "みほん", "郵便番号": "12-34"},
            {"製造管理番号": "A1B-000003"},
            {
                "製造管理番号": "A1B-000004",
                "生年月日": "平成32年1月1日",
                "カード有効期限": "2035-02-30",
            },
            {"製造管理番号": "A1B-000005", "氏名": " ", "署名用電子証明書": "maybe"},
        ]
    )
    result = read_card_list(data)
    found = [(problem.line, problem.column, problem.code) for problem in result.problems]
    assert found == [
        (2, "申請書ID", ProblemCode.MALFORMED),
        (2, "性別", ProblemCode.UNKNOWN_CODE),
        (3, "製造管理番号", ProblemCode.REQUIRED),
        (3, "氏名カナ", ProblemCode.MALFORMED),
        (3, "郵便番号", ProblemCode.MALFORMED),
        (5, "生年月日", ProblemCode.BAD_DATE),
        (5, "カード有効期限", ProblemCode.BAD_DATE),
        (6, "氏名", ProblemCode.REQUIRED),
        (6, "署名用電子証明書", ProblemCode.UNKNOWN_CODE),
    ]
    assert [row.reservation_id for row in result.rows] == ["A1B-000003"]
    assert all(problem.reason for problem in result.problems)
    assert result.problems[0].value == "123"


def test_wrong_cell_count_is_a_row_problem(card_list) -> None:
    data = card_list([{}]) + b"B2C-000001,1\r\n"
    result = read_card_list(data)
    assert ProblemCode.WRONG_CELL_COUNT in codes(result.problems)
    assert {problem.line for problem in result.problems} == {3}


def test_identical_duplicate_is_a_warning_and_kept_once(card_list) -> None:
    data = card_list([{}, {"製造管理番号": "a1b123456"}])
    result = read_card_list(data)
    assert result.ok
    assert len(result.rows) == 1
    assert codes(result.warnings) == [ProblemCode.DUPLICATE_IDENTICAL]
    assert result.warnings[0].line == 3


def test_conflicting_duplicate_is_a_problem(card_list) -> None:
    data = card_list([{}, {"氏名": "別人\u3000花子"}, {"製造管理番号": "Z9Z-999999"}])
    result = read_card_list(data)
    assert codes(result.problems) == [ProblemCode.DUPLICATE_CONFLICT]
    assert result.problems[0].line == 3
    assert "line 2" in result.problems[0].reason
    assert [row.reservation_id for row in result.rows] == ["Z9Z-999999"]


def test_gaiji_is_kept_and_flagged(card_list) -> None:
    data = card_list(
        [
            {"製造管理番号": "A1B-000001", "氏名": "見本\u3000太\ue000"},
            {"製造管理番号": "A1B-000002", "方書": "デモ\ue001ハイツ"},
            {"製造管理番号": "A1B-000003"},
        ],
        encoding="cp932",
    )
    rows = read_card_list(data).rows
    assert rows[0].name == "見本\u3000太\ue000"
    assert [row.has_gaiji for row in rows] == [True, True, False]


def test_full_width_and_half_width_input_is_normalised(card_list) -> None:
    data = card_list(
        [
            {
                "製造管理番号": "ａ１ｂ－１２３４５６",
                "申請書ID": "００１２３４５６７８９０１２３４５６７８９０１",
                "氏名カナ": "ﾐﾎﾝ ﾀﾛｳ",
                "性別": "女",
                "郵便番号": "０００００１０",
                "署名用電子証明書": "",
            }
        ]
    )
    (row,) = read_card_list(data).rows
    assert row.reservation_id == "A1B-123456"
    assert row.application_id == "00123456789012345678901"
    assert row.name_kana == "ミホン タロウ"
    assert row.sex is Sex.FEMALE
    assert row.postal_code == "000-0010"
    assert row.certificate_signature is False


def test_streaming_reader_yields_rows_and_collects_problems(card_list) -> None:
    rows = [{"製造管理番号": f"S{n:02d}-{n:06d}"} for n in range(1, 6)]
    rows[2]["生年月日"] = "2月30日"
    stream = iter_card_list(io.BytesIO(card_list(rows)))
    ids = [row.reservation_id for row in stream]
    assert ids == ["S01-000001", "S02-000002", "S04-000004", "S05-000005"]
    assert [problem.line for problem in stream.problems] == [4]
    assert stream.rows_read == 5
    assert not stream.ok


class _NonSeekable(io.RawIOBase):
    """A pipe-like stream: the reader must not rely on seeking back after sniffing."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_non_seekable_stream_larger_than_the_sniffed_prefix(card_list) -> None:
    rows = [{"製造管理番号": f"N{n % 100:02d}-{n:06d}"} for n in range(9000)]
    data = card_list(rows, encoding="cp932")
    assert len(data) > 1 << 20
    result = read_card_list(io.BufferedReader(_NonSeekable(data)))
    assert result.ok
    assert len(result.rows) == 9000
    assert result.encoding == "cp932"


def test_undecodable_bytes_after_the_sniffed_prefix_are_reported(
    card_list,
) -> None:
    rows = [{"製造管理番号": f"N{n % 100:02d}-{n:06d}"} for n in range(9000)]
    data = card_list(rows) + b"\xff\xfe\r\n"
    result = read_card_list(data)
    assert codes(result.problems) == [ProblemCode.UNSUPPORTED_ENCODING]
    # Text is decoded in chunks, so the line is where the undecodable chunk begins.
    assert 8900 < result.problems[0].line <= 9001
    assert "after line" in result.problems[0].reason


def test_describe_names_line_column_and_value() -> None:
    result = read_card_list(",".join(HEADERS).encode() + b"\r\n" + b",".join([b""] * 13))
    text = result.problems[0].describe()
    assert text.startswith("line 2, column 製造管理番号, value ''")
