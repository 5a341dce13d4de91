"""Import profiles: header remapping, code values, positional columns, profile errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sync_format.csv.card_list import Sex, read_card_list
from sync_format.csv.problems import ProblemCode
from sync_format.csv.profile import (
    CARD_LIST_FIELDS,
    ProfileError,
    bundled_profile,
    bundled_profile_names,
    default_profile,
    load_profile,
    parse_profile,
)
from tests.unit.sync_format.csv.conftest import CITY_HEADERS


def test_default_profile_is_the_formats_md_layout() -> None:
    profile = default_profile()
    assert profile.header is True
    assert profile.encoding == "auto"
    assert profile.allow_era_overflow is False
    assert list(profile.columns) == list(CARD_LIST_FIELDS)
    assert profile.columns["reservation_id"] == "製造管理番号"
    assert profile.sex_codes == {"1": "male", "男": "male", "2": "female", "女": "female"}


def test_bundled_profiles_are_known_by_plain_names() -> None:
    assert bundled_profile_names() == ("default", "example-city", "example-positional")
    assert [bundled_profile(name).name for name in bundled_profile_names()]


@pytest.mark.parametrize(
    "name", ["../../../pyproject", "../profiles/default", "Default", "default.toml", "", "-x"]
)
def test_a_bundled_profile_name_that_is_no_plain_name_is_refused_naming_the_allowed(
    name: str,
) -> None:
    with pytest.raises(ProfileError) as refused:
        bundled_profile(name)

    assert "the bundled profiles are: default, example-city, example-positional" in str(
        refused.value
    )


def test_a_profile_file_elsewhere_cannot_be_reached_as_a_bundled_one(tmp_path: Path) -> None:
    # A valid profile outside the bundled folder: an absolute name would have replaced it.
    elsewhere = tmp_path / "city.toml"
    elsewhere.write_bytes(
        (Path(__file__).parents[4] / "sync_format/csv/profiles/example-city.toml").read_bytes()
    )

    with pytest.raises(ProfileError, match="no bundled profile has this name"):
        bundled_profile(str(tmp_path / "city"))


def test_profile_remaps_headers_codes_encoding_and_era_overflow() -> None:
    profile = bundled_profile("example-city")
    row = [
        "A1B-123456",
        "00123456789012345678901",
        "9012345678123",
        "見本\u3000花子",
        "ミホン\u3000ハナコ",
        "平成32年1月1日",
        "f",
        "000-0001",
        "見本県デモ市見本町1丁目",
        "",
        "1",
        "0",
    ]
    data = (",".join(CITY_HEADERS) + "\r\n" + ",".join(row) + "\r\n").encode("cp932")
    result = read_card_list(data, profile)
    assert result.ok, [problem.describe() for problem in result.problems]
    (parsed,) = result.rows
    assert parsed.sex is Sex.FEMALE
    assert parsed.birth_date == dt.date(2020, 1, 1)
    assert (parsed.certificate_signature, parsed.certificate_authentication) == (True, False)
    assert parsed.card_expiry is None
    # The same file read with the default profile is missing every renamed column.
    default = read_card_list(data)
    assert {problem.code for problem in default.problems} == {ProblemCode.MISSING_COLUMN}


def test_profile_with_a_fixed_encoding_refuses_other_bytes() -> None:
    profile = bundled_profile("example-city")
    data = (",".join(CITY_HEADERS) + "\r\n").encode("utf-8")
    result = read_card_list(data, profile)
    assert [problem.code for problem in result.problems] == [ProblemCode.UNSUPPORTED_ENCODING]


def test_positional_profile_reads_a_headerless_file() -> None:
    profile = bundled_profile("example-positional")
    lines = [
        "A1B-000001,00123456789012345678901,1,見本\u3000一郎,ミホン\u3000イチロウ,S60.02.14,1,"
        "0000001,見本県デモ市,ignored,3階",
        "A1B-000002,00123456789012345678902,2,見本\u3000二郎,ミホン\u3000ジロウ,1985-02-30,1,"
        "0000001,見本県デモ市,ignored,",
        "A1B-000003,short",
    ]
    result = read_card_list("\n".join(lines).encode("utf-8"), profile)
    assert [row.line for row in result.rows] == [1]
    assert result.rows[0].address_extra == "3階"
    assert result.rows[0].birth_date == dt.date(1985, 2, 14)
    by_line = {(problem.line, problem.column) for problem in result.problems}
    assert (2, "#6") in by_line
    assert (3, None) in by_line  # wrong cell count
    assert (3, "#2") in by_line


def test_profile_file_is_loaded_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    text = (Path(__file__).parents[4] / "sync_format/csv/profiles/default.toml").read_text("utf-8")
    path.write_text(text.replace('"製造管理番号"', '"管理番号"'), encoding="utf-8")
    profile = load_profile(path)
    assert profile.columns["reservation_id"] == "管理番号"


def test_profile_errors_name_every_bad_key() -> None:
    text = """
[profile]
encoding = "latin-1"
header = "yes"
colour = "blue"

[columns]
reservation_id = "製造管理番号"
birthday = "生年月日"
name = 3
sex = "製造管理番号"

[codes.sex]
male = ["1"]
female = "2"

[codes.blood]
a = ["A"]
"""
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "city.toml")
    errors = "\n".join(caught.value.errors)
    assert "[profile].encoding" in errors
    assert "[profile].header: expected true or false" in errors
    assert "[profile].colour: unknown setting" in errors
    assert "[columns].birthday: unknown field" in errors
    assert "[columns].name: expected the column's header text" in errors
    assert "[columns].sex: '製造管理番号' is already used by reservation_id" in errors
    assert "[columns].application_id: missing" in errors
    assert "[codes.sex].female: expected a list of strings" in errors
    assert "[codes.blood]: unknown code table" in errors
    assert str(caught.value).startswith("import profile city.toml: ")


def test_profile_errors_for_positions_and_conflicting_codes() -> None:
    columns = "\n".join(
        f"{field} = {position}" for position, field in enumerate(CARD_LIST_FIELDS, start=1)
    )
    text = f"""
[profile]
header = false
[columns]
{columns.replace("reservation_id = 1", "reservation_id = 0")}
[codes.sex]
male = ["1", "M"]
female = ["2", "m"]
"""
    with pytest.raises(ProfileError) as caught:
        parse_profile(text)
    errors = "\n".join(caught.value.errors)
    assert "[columns].reservation_id: column numbers start at 1" in errors
    assert "code 'm' also means 'male'" in errors


def test_invalid_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not valid TOML"):
        parse_profile("[profile\n")
    with pytest.raises(ProfileError, match="cannot read the file"):
        load_profile(tmp_path / "missing.toml")
