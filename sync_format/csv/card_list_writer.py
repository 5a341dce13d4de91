"""Writer of カード発行一覧CSV in the default layout (demo data, tests and benchmarks)."""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from sync_format.csv.card_list import CardListRow, Sex
from sync_format.csv.dates import DateStyle, format_date
from sync_format.csv.profile import CARD_LIST_FIELDS, default_profile
from sync_format.csv.source import UTF8, UTF8_BOM, canonical_encoding

_SEX_CODES = {Sex.MALE: "1", Sex.FEMALE: "2"}


def card_list_headers() -> list[str]:
    """Return the default layout's header texts, in column order."""
    columns = default_profile().columns
    return [str(columns[field]) for field in CARD_LIST_FIELDS]


def card_list_cells(
    row: CardListRow, *, birth_date_text: str | None = None, date_style: DateStyle = DateStyle.ISO
) -> list[str]:
    """Return the cells of one row in the default layout.

    ``birth_date_text`` writes the birth date exactly as given (to exercise the reader's
    date forms); otherwise it is written in ``date_style``.
    """
    return [
        row.reservation_id,
        row.application_id,
        row.shipment_no,
        row.name,
        row.name_kana,
        birth_date_text or format_date(row.birth_date, date_style),
        _SEX_CODES[row.sex],
        row.postal_code,
        row.address,
        row.address_extra,
        "有" if row.certificate_signature else "無",
        "有" if row.certificate_authentication else "無",
        "" if row.card_expiry is None else row.card_expiry.isoformat(),
    ]


class CardListWriter:
    """Writes rows to an open text stream; the header is written on creation."""

    def __init__(self, text: io.TextIOBase, *, line_terminator: str = "\r\n") -> None:
        self._writer = csv.writer(text, lineterminator=line_terminator)
        self._writer.writerow(card_list_headers())
        self.rows_written = 0

    def write(
        self,
        row: CardListRow,
        *,
        birth_date_text: str | None = None,
        date_style: DateStyle = DateStyle.ISO,
    ) -> None:
        """Write one row; raises ValueError when a character cannot be encoded."""
        cells = card_list_cells(row, birth_date_text=birth_date_text, date_style=date_style)
        try:
            self._writer.writerow(cells)
        except UnicodeEncodeError as error:
            raise ValueError(
                f"row {row.reservation_id}: {error.object[error.start : error.end]!r} "
                f"cannot be written in {error.encoding}"
            ) from None
        self.rows_written += 1


@contextlib.contextmanager
def open_card_list_writer(
    target: str | os.PathLike[str] | BinaryIO,
    *,
    encoding: str = "cp932",
    line_terminator: str = "\r\n",
) -> Iterator[CardListWriter]:
    """Open a card list for writing: ``cp932``, ``utf-8`` (no BOM) or ``utf-8-sig`` (BOM)."""
    chosen = canonical_encoding(encoding)
    if chosen not in (UTF8, UTF8_BOM, "cp932"):
        raise ValueError(f"cannot write a card list in {encoding!r}")
    with contextlib.ExitStack() as stack:
        if isinstance(target, str | os.PathLike):
            binary: BinaryIO = stack.enter_context(open(target, "wb"))  # noqa: PTH123
        else:
            binary = target
        text = io.TextIOWrapper(binary, encoding=chosen, errors="strict", newline="")
        try:
            yield CardListWriter(text, line_terminator=line_terminator)
        finally:
            text.flush()
            text.detach()


def write_card_list(
    target: str | os.PathLike[str] | BinaryIO,
    rows: Iterable[CardListRow],
    *,
    encoding: str = "cp932",
    date_style: DateStyle = DateStyle.ISO,
) -> int:
    """Write a whole card list in the default layout; returns the number of rows."""
    with open_card_list_writer(target, encoding=encoding) as writer:
        for row in rows:
            writer.write(row, date_style=date_style)
        return writer.rows_written
