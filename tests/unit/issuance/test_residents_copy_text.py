"""COPY text of the card list import: the polars writer and copy_text write the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.issuance.demo_data import write_demo_card_list
from api.issuance.residents.loading import copy_text
from sync_format.csv import card_list_blocks
from sync_format.csv.card_list_blocks import CardListFrame, iter_card_list_blocks
from sync_format.csv.card_list_frames import frame_copy_text


def _demo(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "demo.csv"
    write_demo_card_list(path, rows, seed=11, encoding="cp932")
    text = path.read_bytes().decode("cp932")
    lines = text.split("\r\n")
    # Rows the row parser must decide: escapes for COPY, a normalised name, a bad date.
    lines[5] = lines[5].replace("見本県デモ市", "見本\t県\\デモ市", 1)
    lines[9] = lines[9].replace(",", ", ", 1)
    lines[12] = lines[12].replace(",2,", ",女,", 1).replace(",1,", ",男,", 1)
    cells = lines[20].split(",")
    cells[5] = "1985-02-30"
    lines[20] = ",".join(cells)
    path.write_bytes("\r\n".join(lines).encode("cp932"))
    return path


@pytest.mark.parametrize("line_numbers", [True, False])
def test_polars_writes_a_frame_as_copy_text_writes_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_numbers: bool
) -> None:
    monkeypatch.setattr(card_list_blocks, "BLOCK_BYTES", 4000)
    frames = [
        batch
        for batch in iter_card_list_blocks(_demo(tmp_path, 400)).batches()
        if isinstance(batch, CardListFrame)
    ]
    assert frames
    assert any(frame.rest.lines for frame in frames)  # the escaped and normalised rows
    for frame in frames:
        by_polars = frame_copy_text(frame.frame, 10, line_numbers=line_numbers)
        by_python = copy_text(frame.to_block(), 10, line_numbers=line_numbers)
        assert sorted(copy_text(frame, 10, line_numbers=line_numbers).splitlines()) == sorted(
            by_python.splitlines()
        )
        if frame.frame.height:
            rows = sorted(by_polars.splitlines())
            assert set(rows) <= set(by_python.splitlines())
            assert len(rows) == frame.frame.height


@pytest.mark.parametrize("line_numbers", [True, False])
def test_copy_text_of_a_file_is_the_same_with_and_without_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_numbers: bool
) -> None:
    monkeypatch.setattr(card_list_blocks, "BLOCK_BYTES", 20_000)
    path = _demo(tmp_path, 2000)
    written = []
    for frames in (True, False):
        stream = iter_card_list_blocks(path)
        text = b"".join(
            copy_text(batch, 3, line_numbers=line_numbers)
            for batch in stream.batches(frames=frames)
        )
        written.append((sorted(text.splitlines()), stream.problems, stream.rows_read))
    assert written[0] == written[1]
    assert written[0][2] == 2000
    assert [problem.line for problem in written[0][1]] == [21]
    escaped = [row for row in written[0][0] if b"\\t" in row]
    assert len(escaped) == 1
    assert b"\xe8\xa6\x8b\xe6\x9c\xac\\t\xe7\x9c\x8c\\\\" in escaped[0]  # 見本\t県\\
