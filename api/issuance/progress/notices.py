"""Credentials and 交付案内 letters: the data a letter needs, and recording the printing.

The credentials are the card's own facts: reservation ID = 製造管理番号, password = the
birth date as MMDD. The letter tells the resident the password rule; the password itself
is not in these lists, which staff print and pass around.

Letters print names and addresses with staff's 外字 substitutions applied (``display_*``
in JSON, the only values in the CSV); JSON keeps the card list's own values beside them,
as the resident API does. Every letter lists the active counter locations.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.locations.services import CounterLocationService
from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.schemas import ProgressChange, ProgressReport
from api.issuance.progress.services import apply_changes
from api.issuance.residents.services import GaijiSubstitutionService

CSV_HEADER: Final = ("予約用ID", "氏名", "郵便番号", "住所", "方書", "交付場所")


class NoticesPrintedInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The cards whose letters were printed."""

    reservation_ids: Annotated[
        list[Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{3}-?[0-9]{6}$")]],
        msgspec.Meta(min_length=1, max_length=10_000),
    ]


class LocationView(msgspec.Struct, frozen=True, kw_only=True):
    """A counter location a resident may choose."""

    code: str
    name: str
    address: str


class NoticeLetter(msgspec.Struct, frozen=True, kw_only=True):
    """What one 交付案内 letter prints: the ``display_*`` values, 外字 substituted.

    ``name``, ``address`` and ``address_extra`` are the card list's own values.
    """

    reservation_id: str
    name: str
    display_name: str
    postal_code: str
    address: str
    display_address: str
    address_extra: str | None
    display_address_extra: str | None


class LetterPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of letters, with the locations every letter lists."""

    items: list[NoticeLetter]
    locations: list[LocationView]
    total: int
    limit: int
    offset: int


def password_for(birth_date: Any) -> str:
    """The resident's password: birth month and day, ``MMDD``."""
    return f"{birth_date.month:02d}{birth_date.day:02d}"


def _letters(phase: Phase) -> Any:
    return (
        select(
            Resident.reservation_id,
            Resident.name,
            Resident.postal_code,
            Resident.address,
            Resident.address_extra,
        )
        .outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
        .where(func.coalesce(CardProgress.phase, Phase.IMPORTED.value) == phase.value)
    )


async def locations(session: AsyncSession) -> list[LocationView]:
    """The counter locations every letter lists: the active ones, by code."""
    rows = await CounterLocationService(session=session).on_letters()
    return [LocationView(code=row.code, name=row.name, address=row.address) for row in rows]


def _letter(row: Any, substitutions: dict[int, str]) -> NoticeLetter:
    extra: str | None = row.address_extra
    return NoticeLetter(
        reservation_id=row.reservation_id,
        name=row.name,
        display_name=row.name.translate(substitutions),
        postal_code=row.postal_code,
        address=row.address,
        display_address=row.address.translate(substitutions),
        address_extra=extra,
        display_address_extra=extra.translate(substitutions) if extra is not None else None,
    )


async def notice_letters(
    session: AsyncSession, *, phase: Phase, limit: int, offset: int
) -> LetterPage:
    """Letters for the cards in phase (``presetup_done``: not printed yet), by postal code."""
    statement = _letters(phase)
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = await session.execute(
        statement.order_by(Resident.postal_code, Resident.reservation_id)
        .limit(limit)
        .offset(offset)
    )
    substitutions = await GaijiSubstitutionService(session=session).table()
    return LetterPage(
        items=[_letter(row, substitutions) for row in rows],
        locations=await locations(session),
        total=int(total or 0),
        limit=limit,
        offset=offset,
    )


async def letter_csv_rows(session: AsyncSession, phase: Phase) -> list[list[Any]]:
    """Every letter of phase as CSV cells, as printed (外字 substituted).

    The active locations' names are joined into one cell.
    """
    places = "、".join(location.name for location in await locations(session))
    substitutions = await GaijiSubstitutionService(session=session).table()
    rows = await session.execute(
        _letters(phase).order_by(Resident.postal_code, Resident.reservation_id)
    )
    letters = [_letter(row, substitutions) for row in rows]
    return [
        [
            letter.reservation_id,
            letter.display_name,
            letter.postal_code,
            letter.display_address,
            letter.display_address_extra or "",
            places,
        ]
        for letter in letters
    ]


async def record_notices_printed(
    session: AsyncSession, reservation_ids: list[str], *, actor: str
) -> ProgressReport:
    """Record that the letters of these cards were printed: each moves to ``notice_sent``."""
    return await apply_changes(
        session,
        [
            ProgressChange(reservation_id=rid, action=Action.NOTICE_PRINTED)
            for rid in reservation_ids
        ],
        actor=actor,
        source="staff",
    )
