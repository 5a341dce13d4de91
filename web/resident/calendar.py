"""A month of days laid out as weeks (Monday first) for the calendar component."""

from __future__ import annotations

import datetime as dt

from web.resident.port import DayView


def parse_month(raw: str | None, today: dt.date) -> dt.date:
    """The first day of ``YYYY-MM`` (this month when missing, malformed or in the past)."""
    this_month = today.replace(day=1)
    try:
        year, month = (int(part) for part in (raw or "").split("-"))
        first = dt.date(year, month, 1)
    except ValueError:
        return this_month
    return max(first, this_month)


def month_grid(first: dt.date, days: list[DayView]) -> list[list[DayView | None]]:
    """Weeks of seven cells; ``None`` pads the days before the 1st and after the last."""
    cells: list[DayView | None] = [None] * first.weekday()
    cells.extend(days)
    cells.extend([None] * (-len(cells) % 7))
    return [cells[index : index + 7] for index in range(0, len(cells), 7)]
