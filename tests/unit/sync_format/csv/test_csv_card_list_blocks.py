"""The block reader (bulk import) agrees with the row reader on every row and every problem."""

# Full-width and look-alike characters are the input these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.issuance.demo_data import write_demo_card_list
from sync_format.csv import card_list_blocks, card_list_frames
from sync_format.csv.card_list import CardListStream, _build_parsers
from sync_format.csv.card_list_blocks import CardListFrame, _row_values, iter_card_list_blocks
from sync_format.csv.columns import CANONICAL_CELLS
from sync_format.csv.profile import bundled_profile, default_profile
from sync_format.csv.source import SNIFF_SIZE
from tests.unit.sync_format.csv.conftest import CITY_HEADERS, build_card_list


def row_reader(source: Any) -> tuple[list[tuple[Any, ...]], CardListStream]:
    stream = CardListStream(source)
    rows = [(row.line, *_row_values(row), row.has_gaiji) for row in stream]
    return rows, stream


def block_reader(source: Any) -> tuple[list[tuple[Any, ...]], CardListStream]:
    stream = iter_card_list_blocks(source)
    rows: list[tuple[Any, ...]] = []
    for block in stream.blocks():
        rows.extend(zip(block.lines, *block.columns, block.has_gaiji, strict=True))
    return rows, stream


def assert_same(source: Any) -> list[tuple[Any, ...]]:
    expected, by_row = row_reader(io.BytesIO(source) if isinstance(source, bytes) else source)
    found, by_block = block_reader(io.BytesIO(source) if isinstance(source, bytes) else source)
    assert found == expected
    assert by_block.problems == by_row.problems
    assert by_block.warnings == by_row.warnings
    assert by_block.rows_read == by_row.rows_read
    assert by_block.encoding == by_row.encoding
    return found


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few rows, so files cross many block boundaries."""
    monkeypatch.setattr(card_list_blocks, "BLOCK_BYTES", 700)


@pytest.mark.parametrize("name", ["card-list-cp932.csv", "card-list-utf8-bom.csv"])
def test_block_reader_reads_the_samples_like_the_row_reader(data_dir: Path, name: str) -> None:
    assert len(assert_same(data_dir / name)) == 20


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig"])
def test_block_reader_reads_a_demo_list_in_every_date_form_like_the_row_reader(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "demo.csv"
    write_demo_card_list(path, 2000, seed=3, encoding=encoding)
    assert len(assert_same(path)) == 2000


@pytest.mark.usefixtures("small_blocks")
def test_block_reader_reports_bad_rows_blank_lines_and_quoting_like_the_row_reader() -> None:
    rows = [
        {},
        {"製造管理番号": "Ａ１Ｂ－１２３４５７", "氏名カナ": "ﾐﾎﾝ ﾀﾛｳ"},  # normalised
        {"製造管理番号": "A1B-12345", "生年月日": "1985-02-30"},  # two bad cells
        {"製造管理番号": "A1B-123459", "住所": "見本町\n2丁目, 3号"},  # quoted, two lines
        {"製造管理番号": "A1B-123460", "氏名": " 見本\u3000太郎 ", "性別": "女"},
        {"製造管理番号": "A1B-123461", "氏名": "見本\ue000郎"},  # 外字
        {"製造管理番号": "A1B-123462", "方書": "a\tb\\c"},
        {"製造管理番号": "A1B-123463", "性別": "3", "署名用電子証明書": "?"},
    ]
    data = build_card_list(rows, newline="\n")
    data = data.replace(b"\nA1B-123460", b"\n\n\nA1B-123460")  # blank lines
    data += b"A1B-123464,too,few\n"
    found = assert_same(data)
    assert [row[0] for row in found] == [2, 3, 5, 9, 10, 11]


def test_block_reader_reports_a_header_only_and_an_empty_file_like_the_row_reader() -> None:
    assert assert_same(build_card_list([])) == []
    assert assert_same(b"") == []
    assert assert_same(b"\xff\xfe\x00\x00") == []


_VARIANTS = {
    "製造管理番号": ["A1B-{n:06d}", "a1b{n:06d}", "Ａ１Ｂ－{n:06d}", "A1B-{n:05d}", ""],
    "申請書ID": [
        "0012345678901234567{n:04d}",
        "００１２３４５６７８９０１２３４５６７８９{n:04d}",
        "12",
    ],
    "発送番号": ["9012345678123", "ab12", "12-34", ""],
    "氏名": ["見本\u3000太郎", " 見本 ", "ﾐﾎﾝ", "見\ue001本", "", "a,b", 'say "hi"', "見本\x00郎"],
    "氏名カナ": ["ミホン\u3000タロウ", "ﾐﾎﾝ ﾀﾛｳ", "みほん", " ミホン", ""],
    "生年月日": [
        "1985-02-14",
        "1985/2/14",
        "昭和60年2月14日",
        "S60.02.14",
        "3600214",
        "1985-02-30",
    ],
    "性別": ["1", "2", "男", "女", "Ｆ", "3", ""],
    "郵便番号": ["000-0001", "0000001", "000－0001", "12"],
    "住所": ["見本県デモ市1-2-3", "見本町\r\n2丁目", "", "\t見本", "見本\x01"],
    "方書": ["", "17階", "ﾋﾞﾙ", " "],
    "署名用電子証明書": ["有", "無", "", "?"],
    "利用者証明用電子証明書": ["有", "無", " "],
    "カード有効期限": ["2035-02-14", "", "令和17年2月14日", "2035-13-01"],
}


@st.composite
def card_lists(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(min_value=0, max_value=12))
    rows = []
    for number in range(count):
        row = {
            header: draw(st.sampled_from(values)).format(n=number)
            for header, values in _VARIANTS.items()
        }
        rows.append(row)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    data = build_card_list(rows, newline=newline)
    if draw(st.booleans()):
        data = data.replace(newline.encode(), (newline * 2).encode(), 1)
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=card_lists(), block=st.sampled_from([64, 300, 1 << 20]))
def test_block_reader_agrees_with_the_row_reader_on_any_mix_of_cells(
    data: bytes, block: int
) -> None:
    original = card_list_blocks.BLOCK_BYTES
    card_list_blocks.BLOCK_BYTES = block
    try:
        assert_same(data)
    finally:
        card_list_blocks.BLOCK_BYTES = original


# Cells that need no quoting and hold no NUL, so blocks are simple and polars checks them
# (the frame path).
_SIMPLE_VARIANTS = {
    header: [value for value in values if not any(char in value for char in ',"\r\n\x00')]
    for header, values in _VARIANTS.items()
}
_SIMPLE_VARIANTS["氏名"] += ["見本\t太郎", "a\\b", "\x1c見本", "見本\x85", "見\U000f0001本"]
_SIMPLE_VARIANTS["生年月日"] += [
    "３６００２１４",
    "令和元年5月1日",
    "H31.05.01",  # past the end of 平成: bad without era overflow
    "s60.02.14",
    "1985-02-29",
    "19850214",
    "昭60.02.14",
    "1985/2/14",
]
_SIMPLE_VARIANTS["カード有効期限"] += [
    " ",
    "２０３５－０２－１４",
    "2035-02-14 ",
    "\x1c",
    "2035-02-14\x0b",
]
_SIMPLE_VARIANTS["性別"] += [" 1", "ｆ", "1\x1f"]
# Control characters other than NUL (which makes a block not simple): polars must send
# their rows to the row parser, which refuses them.
_SIMPLE_VARIANTS["氏名"] += ["見本\x01太郎", "見本\x1b"]
_SIMPLE_VARIANTS["署名用電子証明書"] += ["有\x08"]


@st.composite
def simple_card_lists(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(min_value=1, max_value=12))
    rows = [
        {
            header: draw(st.sampled_from(values)).format(n=number)
            for header, values in _SIMPLE_VARIANTS.items()
        }
        for number in range(count)
    ]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "cp932"]))
    if encoding == "cp932":
        rows = [
            {header: cell for header, cell in row.items() if cell.isascii() or _cp932(cell)}
            for row in rows
        ]
    return build_card_list(rows, newline=newline, encoding=encoding)


def _cp932(cell: str) -> bool:
    try:
        cell.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=simple_card_lists(), block=st.sampled_from([300, 1000, 1 << 20]))
def test_block_reader_agrees_with_the_row_reader_on_simple_blocks(data: bytes, block: int) -> None:
    original = card_list_blocks.BLOCK_BYTES, card_list_frames.SUSPECT_SHARE
    card_list_blocks.BLOCK_BYTES = block
    card_list_frames.SUSPECT_SHARE = 1.0  # polars decides every block, however odd
    try:
        found = assert_same(data)
        batches = list(iter_card_list_blocks(io.BytesIO(data)).batches())
        # Every block is simple: each valid row came through the frame path.
        assert all(isinstance(batch, CardListFrame) for batch in batches)
        assert bool(batches) == bool(found)
    finally:
        card_list_blocks.BLOCK_BYTES, card_list_frames.SUSPECT_SHARE = original


@pytest.mark.usefixtures("small_blocks")
def test_block_reader_reads_a_demo_list_through_polars_frames(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    write_demo_card_list(path, 500, seed=5, encoding="cp932")
    kinds = {type(batch) for batch in iter_card_list_blocks(path).batches()}
    assert kinds == {CardListFrame}


def test_block_reader_decides_the_same_with_and_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    write_demo_card_list(path, 3000, seed=9, encoding="cp932")
    by_frames = iter_card_list_blocks(path)
    framed = [
        row for block in by_frames.blocks() for row in zip(block.lines, *block.columns, strict=True)
    ]
    by_rows = iter_card_list_blocks(path)
    unframed = [
        row
        for block in by_rows.batches(frames=False)
        for row in zip(block.lines, *block.columns, strict=True)  # type: ignore[union-attr]
    ]
    assert framed == unframed
    assert by_frames.problems == by_rows.problems
    assert by_frames.rows_read == by_rows.rows_read == 3000


_PARSERS = _build_parsers(default_profile())


@settings(max_examples=200, deadline=None)
@given(data=st.data(), field=st.sampled_from(sorted(CANONICAL_CELLS)))
def test_every_string_of_a_canonical_pattern_is_a_fixed_point_of_its_parser(
    data: st.DataObject, field: str
) -> None:
    text = data.draw(st.from_regex(f"\\A(?:{CANONICAL_CELLS[field]})\\Z"))
    text = text.removesuffix("\n")
    if re.fullmatch(CANONICAL_CELLS[field], text):
        assert _PARSERS[field](text) == text


def test_block_reader_names_the_exact_line_of_an_undecodable_byte_past_the_sniffed_part() -> None:
    rows = [
        {"製造管理番号": f"A1B-{number:06d}", "申請書ID": f"{number:023d}"}
        for number in range(20_000)
    ]
    data = build_card_list(rows, encoding="cp932")
    at = data.index(b"A1B-015000")
    broken = data[:at] + b"\x85\xff" + data[at:]  # not CP932; line 15002 (header is line 1)
    assert len(broken) > SNIFF_SIZE

    found, by_block = block_reader(io.BytesIO(broken))
    expected, by_row = row_reader(io.BytesIO(broken))

    assert [(p.code, p.line) for p in by_block.problems] == [("file.unsupported_encoding", 15_002)]
    assert "line 15002" in by_block.problems[0].reason
    # The row reader decodes ahead, so it can only say "after" an earlier line.
    assert by_row.problems[0].code == "file.unsupported_encoding"
    assert by_row.problems[0].line is not None
    assert by_row.problems[0].line <= 15_002
    assert len(found) < 15_000
    assert len(expected) < 15_000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(["example-city", "example-positional"]),
    cells=st.lists(
        st.tuples(
            st.sampled_from(["平成32年1月1日", "H31.05.01", "1985-02-14", "4310501", "S60.02.14"]),
            st.sampled_from(["M", "F", "1", "m", " F", "男"]),
            st.sampled_from(["1", "0", "有", "", "x"]),
            st.sampled_from(["", "17階", " "]),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_block_reader_agrees_with_the_row_reader_under_other_profiles(
    profile: str, cells: list[tuple[str, str, str, str]]
) -> None:
    chosen = bundled_profile(profile)
    lines = [] if not chosen.header else [",".join(CITY_HEADERS)]
    for number, (birth, sex, certificate, extra) in enumerate(cells):
        row = [
            f"A1B-{number:06d}",
            f"{number:023d}",
            "9012345678123",
            "見本\u3000太郎",
            "ミホン\u3000タロウ",
            birth,
            sex,
            "000-0001",
            "見本県デモ市1-2-3",
            extra,
            certificate,
            certificate,
        ]
        # The positional layout has 11 columns (10 is ignored); every line has them all.
        lines.append(",".join(row if chosen.header else row[:11]))
    data = ("\r\n".join(lines) + "\r\n").encode("cp932")
    original = card_list_frames.SUSPECT_SHARE
    card_list_frames.SUSPECT_SHARE = 1.0  # polars decides every block, however odd
    try:
        _agree_under_profile(data, chosen)
    finally:
        card_list_frames.SUSPECT_SHARE = original


def _agree_under_profile(data: bytes, chosen: Any) -> None:
    by_row = CardListStream(io.BytesIO(data), chosen)
    expected = [(row.line, *_row_values(row), row.has_gaiji) for row in by_row]
    by_block = iter_card_list_blocks(io.BytesIO(data), chosen)
    found = [
        row
        for block in by_block.blocks()
        for row in zip(block.lines, *block.columns, block.has_gaiji, strict=True)
    ]
    assert found == expected
    assert by_block.problems == by_row.problems
    assert by_block.rows_read == by_row.rows_read
    batches = list(iter_card_list_blocks(io.BytesIO(data), chosen).batches())
    assert all(isinstance(batch, CardListFrame) for batch in batches)


# Characters around the edges the canonical patterns draw (spaces of Python and of Rust,
# control characters, half-width kana, katakana, private use, escapes for COPY), none
# needing CSV quotes.
_EDGE_CHARS = st.sampled_from(
    list(" \t\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u200b\u2028\u202f\u3000\ufeff\\")
    + list("\x00\x01\x08\x0e\x1b")
    + list("Aaz09-ｱｰﾟ\uff60ァヾヿ・ー見\ue000\U000f0000\U0010fffd\U0001f600")
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.tuples(*[st.text(_EDGE_CHARS, max_size=6) for _ in range(5)]), min_size=1, max_size=8
    ),
    block=st.sampled_from([400, 1 << 20]),
)
def test_block_reader_agrees_with_the_row_reader_on_any_text_in_simple_blocks(
    texts: list[tuple[str, str, str, str, str]], block: int
) -> None:
    rows = [
        {
            "製造管理番号": f"A1B-{number:06d}" if number % 2 else f"{reservation}{number:06d}",
            "氏名": name,
            "氏名カナ": kana,
            "住所": address,
            "方書": extra,
        }
        for number, (reservation, name, kana, address, extra) in enumerate(texts)
    ]
    original = card_list_blocks.BLOCK_BYTES, card_list_frames.SUSPECT_SHARE
    card_list_blocks.BLOCK_BYTES = block
    card_list_frames.SUSPECT_SHARE = 1.0  # polars decides every block, however odd
    try:
        assert_same(build_card_list(rows, newline="\r\n"))
    finally:
        card_list_blocks.BLOCK_BYTES, card_list_frames.SUSPECT_SHARE = original
