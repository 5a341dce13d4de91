"""Reading progress: lists per phase, location and date range; counts; CSV rows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress
from api.issuance.progress.rules import Phase
from api.issuance.progress.schemas import CardPage, CardRow, PhaseCounts


class CardFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which cards a list shows: phase, location, when the phase was recorded or reached.

    ``reached_from``/``reached_until`` are days (both included) in the city's time zone:
    the 実施日 of the change that set the phase when it gave one, else the day it was
    recorded. ``changed_from``/``changed_before`` are instants of recording.
    """

    phase: Phase | None = None
    location_code: str | None = None
    changed_from: dt.datetime | None = None
    changed_before: dt.datetime | None = None
    reached_from: dt.date | None = None
    reached_until: dt.date | None = None


CSV_HEADER: Final = (
    "予約用ID",
    "氏名",
    "氏名カナ",
    "状態",
    "実施日",
    "状態変更日時",
    "交付場所コード",
)
_current_phase = func.coalesce(CardProgress.phase, Phase.IMPORTED.value)
# A card without events has been ``imported`` since the resident row was created.
_changed_at = func.coalesce(CardProgress.changed_at, Resident.created_at)
_undated = CardProgress.occurred_on.is_(None)


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


def _filtered(statement: Any, where: CardFilter, tz: ZoneInfo) -> Any:
    statement = statement.outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
    if where.phase is not None:
        statement = statement.where(_current_phase == where.phase.value)
    if where.location_code is not None:
        statement = statement.where(CardProgress.location_code == where.location_code)
    if where.changed_from is not None:
        statement = statement.where(_changed_at >= where.changed_from)
    if where.changed_before is not None:
        statement = statement.where(_changed_at < where.changed_before)
    # An undated card's day bounds are the city's midnights, worked out here: PostgreSQL
    # compares plain instants and needs no time zone of its own.
    if where.reached_from is not None:
        start = _midnight(where.reached_from, tz)
        statement = statement.where(
            or_(
                CardProgress.occurred_on >= where.reached_from,
                and_(_undated, _changed_at >= start),
            )
        )
    if where.reached_until is not None:
        end = _midnight(where.reached_until + dt.timedelta(days=1), tz)
        statement = statement.where(
            or_(
                CardProgress.occurred_on <= where.reached_until,
                and_(_undated, _changed_at < end),
            )
        )
    return statement


def _cards(where: CardFilter, tz: ZoneInfo) -> Any:
    return _filtered(
        select(
            Resident.reservation_id,
            Resident.name,
            Resident.name_kana,
            _current_phase.label("phase"),
            CardProgress.occurred_on,
            _changed_at.label("changed_at"),
            CardProgress.location_code,
        ),
        where,
        tz,
    ).order_by(Resident.reservation_id)


def _row(row: Any, tz: ZoneInfo) -> CardRow:
    return CardRow(
        reservation_id=row.reservation_id,
        name=row.name,
        name_kana=row.name_kana,
        phase=Phase(row.phase),
        reached_on=row.occurred_on or row.changed_at.astimezone(tz).date(),
        changed_at=row.changed_at,
        location_code=row.location_code,
    )


async def list_cards(
    session: AsyncSession, where: CardFilter, *, tz: ZoneInfo, limit: int, offset: int
) -> CardPage:
    """One page of cards matching the filter, by reservation ID, with the total.

    ``tz`` is the city's: it turns recording instants into days.
    """
    total = await session.scalar(_filtered(select(func.count(Resident.id)), where, tz))
    rows = await session.execute(_cards(where, tz).limit(limit).offset(offset))
    return CardPage(
        items=[_row(row, tz) for row in rows], total=int(total or 0), limit=limit, offset=offset
    )


async def card_csv_rows(
    session: AsyncSession, where: CardFilter, *, tz: ZoneInfo
) -> list[list[object]]:
    """Every card matching the filter as CSV cells (``CSV_HEADER`` order)."""
    rows = await session.execute(_cards(where, tz))
    cells: list[list[object]] = []
    for row in rows:
        card = _row(row, tz)
        cells.append(
            [
                card.reservation_id,
                card.name,
                card.name_kana,
                card.phase.value,
                card.reached_on.isoformat(),
                card.changed_at.isoformat(),
                card.location_code or "",
            ]
        )
    return cells


async def phase_counts(session: AsyncSession, where: CardFilter, *, tz: ZoneInfo) -> PhaseCounts:
    """How many cards matching the filter are in each phase (every phase listed, zeros too).

    With a day range: how many cards reached their current phase on those days (issued
    this week, per location), as the list with the same filter shows them.
    """
    statement = _filtered(
        select(_current_phase.label("phase"), func.count(Resident.id).label("cards")), where, tz
    ).group_by(_current_phase)
    counts = {phase.value: 0 for phase in Phase}
    for row in await session.execute(statement):
        counts[row.phase] = int(row.cards)
    return PhaseCounts(counts=counts, total=sum(counts.values()))
