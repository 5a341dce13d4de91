"""Plain factories for residents and their progress (shared by the exchange tests)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.models import Resident
from api.issuance.progress.rules import Action
from api.issuance.progress.schemas import ProgressChange
from api.issuance.progress.services import apply_changes
from sync_format.csv import Sex


def reservation_id(index: int) -> str:
    return f"T{index // 1_000_000:02d}-{index % 1_000_000:06d}"


async def add_residents(
    session: AsyncSession, count: int, *, start: int = 1, surname: str = "見本"
) -> list[Resident]:
    residents = [
        Resident(
            reservation_id=reservation_id(index),
            application_id=f"{index:023d}",
            shipment_no=f"S{index:08d}",
            name=f"{surname} 太郎{index}",
            name_kana=f"ミホン タロウ{index}",
            birth_date=dt.date(1980, index % 12 + 1, index % 28 + 1),
            sex=Sex.MALE,
            postal_code="251-8601",
            address=f"見本県デモ市本町{index}",
        )
        for index in range(start, start + count)
    ]
    session.add_all(residents)
    await session.flush()
    return residents


async def advance(session: AsyncSession, residents: list[Resident], *actions: Action) -> None:
    """Record actions, in order, on every resident (staff actions)."""
    for action in actions:
        await apply_changes(
            session,
            [ProgressChange(reservation_id=r.reservation_id, action=action) for r in residents],
            actor="tester",
            source="staff",
        )
