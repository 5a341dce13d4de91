"""Reservations as staff and the issuance zone see them: one row per booked person.

A household booking is one booking with several members; each member is a row (the
issuance zone matches rows to residents by reservation_id), listing the others as
companions. A member who left a booking, or a cancelled booking, shows as cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.credentials import normalize_code
from sync_format import ReservationRecord
from sync_format.csv.reservation_list import Channel, ReservationListRow, ReservationStatus

_SELECT: Final = """
SELECT b.confirmation_code, m.reservation_id, l.code AS location_code,
       l.name AS location_name, s.starts_at, s.ends_at,
       CASE WHEN b.status = 'cancelled' OR NOT m.active THEN 'cancelled' ELSE b.status END
           AS status,
       b.channel, b.email, b.memo, greatest(b.updated_at, m.updated_at) AS updated_at,
       ARRAY(SELECT o.reservation_id FROM booking_members o
             WHERE o.booking_id = b.id AND o.id <> m.id AND (o.active OR NOT m.active)
             ORDER BY o.id) AS companion_ids
FROM bookings b
JOIN booking_members m ON m.booking_id = b.id
JOIN slots s ON s.id = b.slot_id
JOIN locations l ON l.id = s.location_id
"""
_ORDER: Final = " ORDER BY s.starts_at, b.confirmation_code, m.id"
_FILTERS: Final = {
    "location_code": "l.code = :location_code",
    "lower": "s.starts_at >= :lower",
    "upper": "s.starts_at < :upper",
    "reservation_id": "b.id IN (SELECT booking_id FROM booking_members "
    "WHERE reservation_id = :reservation_id)",
    "confirmation_code": "b.confirmation_code = :confirmation_code",
    "since": "(b.updated_at > :since OR m.updated_at > :since)",
}


class ReservationView(msgspec.Struct, kw_only=True):
    """One booked person of one booking."""

    confirmation_code: str
    reservation_id: str
    location_code: str
    location_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    channel: str
    email: str | None
    memo: str
    companion_ids: list[str]
    updated_at: dt.datetime


def _query(parameters: dict[str, Any], *, suffix: str = "") -> Any:
    conditions = [_FILTERS[name] for name in _FILTERS if name in parameters]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return text(_SELECT + where + _ORDER + suffix)


def _day_bounds(day: dt.date, tz: ZoneInfo) -> dict[str, dt.datetime]:
    lower = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return {"lower": lower, "upper": lower + dt.timedelta(days=1)}


def search_parameters(
    *, location_code: str | None, day: dt.date | None, search: str | None, tz: ZoneInfo
) -> dict[str, Any]:
    """Filters for a list: a location, a day, and a reservation_id or confirmation code."""
    parameters: dict[str, Any] = {}
    if location_code:
        parameters["location_code"] = location_code
    if day is not None:
        parameters.update(_day_bounds(day, tz))
    if search:
        code = normalize_code(search)
        # A reservation ID has a hyphen after three characters; anything else is a code.
        if len(code) == 9 and code[3:].isdigit():
            parameters["reservation_id"] = f"{code[:3]}-{code[3:]}"
        else:
            parameters["confirmation_code"] = code
    return parameters


async def list_reservations(
    session: AsyncSession, parameters: dict[str, Any], *, limit: int, offset: int
) -> tuple[list[ReservationView], int]:
    """One page of reservation rows matching the filters, and how many match."""
    total = (
        await session.execute(
            text(f"SELECT count(*) FROM ({_query(parameters).text}) AS matching"),  # noqa: S608
            parameters,
        )
    ).scalar_one()
    rows = await session.execute(
        _query(parameters, suffix=" LIMIT :limit OFFSET :offset"),
        {**parameters, "limit": limit, "offset": offset},
    )
    return [ReservationView(**row._asdict()) for row in rows], total


async def stream_reservations(
    session: AsyncSession, parameters: dict[str, Any]
) -> AsyncIterator[ReservationView]:
    """Every matching row, fetched in chunks (a full export may hold millions)."""
    result = await session.stream(_query(parameters), parameters)
    async for partition in result.partitions(5000):
        for row in partition:
            yield ReservationView(**row._asdict())


def list_row(view: ReservationView, tz: ZoneInfo) -> ReservationListRow:
    """A reservation row as a line of 予約一覧CSV (times in the counters' time zone)."""
    starts, ends = view.starts_at.astimezone(tz), view.ends_at.astimezone(tz)
    return ReservationListRow(
        confirmation_code=view.confirmation_code,
        reservation_id=view.reservation_id,
        location_code=view.location_code,
        location_name=view.location_name,
        date=starts.date(),
        start_time=starts.time().replace(tzinfo=None),
        end_time=ends.time().replace(tzinfo=None),
        status=ReservationStatus(view.status),
        channel=Channel(view.channel),
        email=view.email,
        companion_ids=tuple(view.companion_ids),
        memo=view.memo,
        updated_at=view.updated_at.astimezone(tz),
    )


def record(view: ReservationView) -> ReservationRecord:
    """A reservation row as a v1 record of a reservations bundle."""
    return ReservationRecord(
        confirmation_code=view.confirmation_code,
        reservation_id=view.reservation_id,
        location_code=view.location_code,
        start=view.starts_at,
        end=view.ends_at,
        status=view.status,  # type: ignore[arg-type]
        email=view.email,
        companion_ids=view.companion_ids,
        memo=view.memo,
        channel=view.channel,  # type: ignore[arg-type]
        updated_at=view.updated_at,
    )
