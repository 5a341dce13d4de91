"""Applying bookings: store each member's booking and move progress to reserved and back.

Every member of every booking is matched to a resident by reservation_id; unknown IDs and
IDs of cards that are already final (issued, returned, cancelled, expired) are reported,
never dropped silently. The latest report of a booking wins (by the reservation zone's
更新日時), so files imported out of order do no harm.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.exchange.models import Booking, CounterLocation
from api.issuance.exchange.schemas import ImportFailure, ReservationImportReport
from api.issuance.progress.rules import FINAL_PHASES, Action, Phase
from api.issuance.progress.schemas import ProgressChange
from api.issuance.progress.services import (
    any_of,
    apply_changes,
    canonical_reservation_id,
    locked_cards,
    utc_now,
)


class IncomingBooking(msgspec.Struct, frozen=True, kw_only=True):
    """One booking as a bundle record or a CSV row reports it."""

    confirmation_code: str
    reservation_id: str
    location_code: str
    location_name: str | None = None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    channel: str
    email: str | None = None
    companion_ids: tuple[str, ...] = ()
    memo: str = ""
    updated_at: dt.datetime
    line: int | None = None


def _members(bookings: list[IncomingBooking]) -> dict[tuple[str, str], IncomingBooking]:
    """Each member of each booking, once, as the latest report of it.

    A household booking may arrive as one record listing companions or as one record per
    member; either way every member gets its own row listing the others.
    """
    latest: dict[tuple[str, str], IncomingBooking] = {}
    for booking in bookings:
        household = [booking.reservation_id, *booking.companion_ids]
        household = list(dict.fromkeys(canonical_reservation_id(rid) for rid in household))
        for member in household:
            row = msgspec.structs.replace(
                booking,
                reservation_id=member,
                companion_ids=tuple(other for other in household if other != member),
            )
            key = (booking.confirmation_code, member)
            if key not in latest or latest[key].updated_at < row.updated_at:
                latest[key] = row
    return latest


def _failure(booking: IncomingBooking, code: str, reason: str) -> ImportFailure:
    return ImportFailure(
        reservation_id=booking.reservation_id,
        code=code,
        reason=reason,
        confirmation_code=booking.confirmation_code,
        line=booking.line,
    )


async def _existing(session: AsyncSession, resident_ids: list[int]) -> dict[tuple[str, int], Any]:
    rows = await session.execute(
        select(Booking.confirmation_code, Booking.resident_id, Booking.source_updated_at).where(
            Booking.resident_id == any_of(resident_ids, integers=True)
        )
    )
    return {(row.confirmation_code, row.resident_id): row.source_updated_at for row in rows}


def _booking_values(booking: IncomingBooking, resident_id: int) -> dict[str, Any]:
    return {
        "resident_id": resident_id,
        "confirmation_code": booking.confirmation_code,
        "location_code": booking.location_code,
        "location_name": booking.location_name,
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "status": booking.status,
        "channel": booking.channel,
        "email": booking.email,
        "companion_ids": list(booking.companion_ids),
        "memo": booking.memo,
        "source_updated_at": booking.updated_at,
    }


async def _upsert_bookings(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    for start in range(0, len(values), 2000):
        statement = pg_insert(Booking).values(values[start : start + 2000])
        changed = {
            column: statement.excluded[column]
            for column in values[0]
            if column not in {"resident_id", "confirmation_code"}
        }
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Booking.confirmation_code, Booking.resident_id],
                set_={**changed, "updated_at": utc_now()},
                # The latest report wins, whatever order files are imported in.
                where=statement.excluded.source_updated_at > Booking.source_updated_at,
            )
        )


async def _remember_locations(session: AsyncSession, bookings: list[IncomingBooking]) -> None:
    names: dict[str, str | None] = {}
    for booking in bookings:
        names[booking.location_code] = booking.location_name or names.get(booking.location_code)
    if not names:
        return
    # A code the zone does not know yet is added unlisted (no address): staff decide
    # whether letters show it.
    statement = pg_insert(CounterLocation).values(
        [
            {"code": code, "name": name or code, "address": "", "active": False}
            for code, name in sorted(names.items())
        ]
    )
    named = statement.on_conflict_do_update(
        index_elements=[CounterLocation.code],
        set_={"name": statement.excluded.name, "updated_at": utc_now()},
        # A bundle knows only codes: never overwrite a real name with the code, nor any
        # name a member of staff gave.
        where=(statement.excluded.name != statement.excluded.code)
        & CounterLocation.updated_by.is_(None),
    )
    await session.execute(named)


async def apply_bookings(
    session: AsyncSession,
    bookings: list[IncomingBooking],
    *,
    actor: str,
    report: ReservationImportReport,
) -> None:
    """Store the bookings and move progress to ``reserved`` and back; fill in report."""
    members = _members(bookings)
    cards = await locked_cards(session, sorted({rid for _, rid in members}))
    existing = await _existing(session, [card.id for card in cards.values()])
    values: list[dict[str, Any]] = []
    touched: set[int] = set()
    for (code, rid), booking in members.items():
        card = cards.get(rid)
        if card is None:
            report.failures.append(
                _failure(booking, "unknown_reservation_id", "no card with this reservation ID")
            )
            continue
        phase = Phase(card.phase)
        active = booking.status != "cancelled"
        if active and phase in FINAL_PHASES:
            report.failures.append(
                _failure(
                    booking, "card_final", f"the card is already {phase.value}; booking not applied"
                )
            )
            continue
        if active and phase is Phase.IMPORTED:
            report.failures.append(
                _failure(
                    booking,
                    "presetup_not_done",
                    "交付前設定 is not done: the card cannot be booked",
                )
            )
            continue
        stored = existing.get((code, card.id))
        if stored is not None and stored >= booking.updated_at:
            report.ignored += 1
            continue
        if stored is None:
            report.imported += 1
        else:
            report.updated += 1
        values.append(_booking_values(booking, card.id))
        touched.add(card.id)
    report.failed = len(report.failures)
    if values:
        await _upsert_bookings(session, values)
    await _remember_locations(session, bookings)
    await _move_progress(session, cards, touched, actor=actor, report=report)


async def _move_progress(
    session: AsyncSession,
    cards: dict[str, Any],
    touched: set[int],
    *,
    actor: str,
    report: ReservationImportReport,
) -> None:
    if not touched:
        return
    # Each card's latest active booking (DISTINCT ON): where the card is to be handed over.
    rows = await session.execute(
        select(Booking.resident_id, Booking.location_code)
        .where(
            Booking.resident_id == any_of(sorted(touched), integers=True),
            Booking.status != "cancelled",
        )
        .order_by(Booking.resident_id, Booking.source_updated_at.desc(), Booking.id.desc())
        .ext(distinct_on(Booking.resident_id))
    )
    active_location: dict[int, str] = {row.resident_id: row.location_code for row in rows}
    changes: list[ProgressChange] = []
    for card in cards.values():
        if card.id not in touched:
            continue
        phase = Phase(card.phase)
        location_code = active_location.get(card.id)
        if location_code is not None and phase in {Phase.PRESETUP_DONE, Phase.NOTICE_SENT}:
            # The location makes the card show up in lists and counts per location.
            changes.append(
                ProgressChange(
                    reservation_id=card.reservation_id,
                    action=Action.RESERVED,
                    location_code=location_code,
                )
            )
            report.reserved += 1
        elif (
            location_code is not None
            and phase is Phase.RESERVED
            and location_code != card.location_code
        ):
            # The booking moved to another location: the card is to be handed over there.
            changes.append(
                ProgressChange(
                    reservation_id=card.reservation_id,
                    action=Action.RESERVED,
                    location_code=location_code,
                    reason="booking moved to another location",
                )
            )
        elif location_code is None and phase is Phase.RESERVED:
            changes.append(
                ProgressChange(
                    reservation_id=card.reservation_id,
                    action=Action.RESERVATION_CANCELLED,
                    reason="booking cancelled",
                )
            )
            report.unreserved += 1
    if changes:
        await apply_changes(session, changes, actor=actor, source="sync")
