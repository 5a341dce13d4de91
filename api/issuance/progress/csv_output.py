"""Printable CSV answers: UTF-8 with BOM (Excel opens it), CRLF, formula-safe cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from litestar import Response

from sync_format.csv import neutralize_cell

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """Write a CSV; every cell a spreadsheet would run as a formula gets a leading ``'``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralize_cell(str(cell)) for cell in header])
    for row in rows:
        writer.writerow([neutralize_cell("" if cell is None else str(cell)) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def csv_response(
    file_name: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response[bytes]:
    """A CSV download named file_name (ASCII names only: they go into a header)."""
    return Response(
        csv_bytes(header, rows),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )
