"""Reading progress: lists per phase, location and date range; counts; CSV rows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress
from api.issuance.progress.rules import Phase
from api.issuance.progress.schemas import CardPage, CardRow, PhaseCounts


class CardFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which cards a list shows: phase, location, and when the phase was reached."""

    phase: Phase | None = None
    location_code: str | None = None
    changed_from: dt.datetime | None = None
    changed_before: dt.datetime | None = None


CSV_HEADER: Final = ("予約用ID", "氏名", "氏名カナ", "状態", "状態変更日時", "交付場所コード")
_current_phase = func.coalesce(CardProgress.phase, Phase.IMPORTED.value)
# A card without events has been ``imported`` since the resident row was created.
_changed_at = func.coalesce(CardProgress.changed_at, Resident.created_at)


def _filtered(statement: Any, where: CardFilter) -> Any:
    statement = statement.outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
    if where.phase is not None:
        statement = statement.where(_current_phase == where.phase.value)
    if where.location_code is not None:
        statement = statement.where(CardProgress.location_code == where.location_code)
    if where.changed_from is not None:
        statement = statement.where(_changed_at >= where.changed_from)
    if where.changed_before is not None:
        statement = statement.where(_changed_at < where.changed_before)
    return statement


def _cards(where: CardFilter) -> Any:
    return _filtered(
        select(
            Resident.reservation_id,
            Resident.name,
            Resident.name_kana,
            _current_phase.label("phase"),
            _changed_at.label("changed_at"),
            CardProgress.location_code,
        ),
        where,
    ).order_by(Resident.reservation_id)


def _row(row: Any) -> CardRow:
    return CardRow(
        reservation_id=row.reservation_id,
        name=row.name,
        name_kana=row.name_kana,
        phase=Phase(row.phase),
        changed_at=row.changed_at,
        location_code=row.location_code,
    )


async def list_cards(
    session: AsyncSession, where: CardFilter, *, limit: int, offset: int
) -> CardPage:
    """One page of cards matching the filter, by reservation ID, with the total."""
    total = await session.scalar(_filtered(select(func.count(Resident.id)), where))
    rows = await session.execute(_cards(where).limit(limit).offset(offset))
    return CardPage(
        items=[_row(row) for row in rows], total=int(total or 0), limit=limit, offset=offset
    )


async def card_csv_rows(session: AsyncSession, where: CardFilter) -> list[list[object]]:
    """Every card matching the filter as CSV cells (``CSV_HEADER`` order)."""
    rows = await session.execute(_cards(where))
    return [
        [
            row.reservation_id,
            row.name,
            row.name_kana,
            row.phase,
            row.changed_at.isoformat(),
            row.location_code or "",
        ]
        for row in rows
    ]


async def phase_counts(session: AsyncSession, location_code: str | None = None) -> PhaseCounts:
    """How many cards are in each phase (every phase listed, zeros included)."""
    statement = _filtered(
        select(_current_phase.label("phase"), func.count(Resident.id).label("cards")),
        CardFilter(location_code=location_code),
    ).group_by(_current_phase)
    counts = {phase.value: 0 for phase in Phase}
    for row in await session.execute(statement):
        counts[row.phase] = int(row.cards)
    return PhaseCounts(counts=counts, total=sum(counts.values()))
