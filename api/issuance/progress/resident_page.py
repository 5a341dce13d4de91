"""One resident's page: card, certificate info, progress timeline, bookings, memos."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.issuance.exchange.models import Booking
from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress, ProgressEvent, ResidentMemo
from api.issuance.progress.rules import Phase
from api.issuance.progress.schemas import ProgressEventView
from api.issuance.progress.services import canonical_reservation_id


class ResidentNotFound(DomainError):
    """No resident has this reservation ID."""

    status_code = 404
    code = "resident_not_found"


class MemoInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new memo about a resident."""

    body: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class MemoView(msgspec.Struct, frozen=True, kw_only=True):
    """A memo with its author and time."""

    id: int
    body: str
    author: str
    written_at: dt.datetime


class CertificateInfo(msgspec.Struct, frozen=True, kw_only=True):
    """電子証明書情報: which certificates the card carries."""

    signature: bool
    authentication: bool


class CardInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The card's identifiers and validity."""

    reservation_id: str
    application_id: str
    shipment_no: str
    card_expiry: dt.date | None
    certificate_info: CertificateInfo


class BookingView(msgspec.Struct, frozen=True, kw_only=True):
    """One booking of the resident as the reservation zone reported it."""

    confirmation_code: str
    location_code: str
    location_name: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    channel: str
    email: str | None
    companion_ids: list[str]
    memo: str
    updated_at: dt.datetime
    attendance: str | None
    attendance_at: dt.datetime | None
    attendance_by: str | None


class ResidentPage(msgspec.Struct, frozen=True, kw_only=True):
    """Everything staff see about one resident."""

    reservation_id: str
    name: str
    name_kana: str
    birth_date: dt.date
    sex: str
    postal_code: str
    address: str
    address_extra: str | None
    has_gaiji: bool
    card: CardInfo
    phase: Phase
    timeline: list[ProgressEventView]
    bookings: list[BookingView]
    memos: list[MemoView]


async def resident_by_reservation_id(session: AsyncSession, reservation_id: str) -> Resident:
    """The resident with this reservation ID, or ResidentNotFound."""
    resident = await session.scalar(
        select(Resident).where(Resident.reservation_id == canonical_reservation_id(reservation_id))
    )
    if resident is None:
        message = f"no resident with reservation ID {reservation_id}"
        raise ResidentNotFound(message)
    return resident


def event_view(event: ProgressEvent) -> ProgressEventView:
    """An event as the timeline shows it."""
    return ProgressEventView(
        id=event.id,
        action=event.action,
        phase_before=event.phase_before,
        phase_after=event.phase_after,
        actor=event.actor,
        source=event.source,
        reason=event.reason,
        occurred_on=event.occurred_on,
        location_code=event.location_code,
        recorded_at=event.created_at,
    )


def booking_view(booking: Booking) -> BookingView:
    """A booking as the resident page shows it."""
    return BookingView(
        confirmation_code=booking.confirmation_code,
        location_code=booking.location_code,
        location_name=booking.location_name,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        status=booking.status,
        channel=booking.channel,
        email=booking.email,
        companion_ids=list(booking.companion_ids),
        memo=booking.memo,
        updated_at=booking.source_updated_at,
        attendance=booking.attendance,
        attendance_at=booking.attendance_at,
        attendance_by=booking.attendance_by,
    )


def memo_view(memo: ResidentMemo) -> MemoView:
    """A memo as the resident page shows it."""
    return MemoView(id=memo.id, body=memo.body, author=memo.author, written_at=memo.created_at)


async def resident_page(session: AsyncSession, reservation_id: str) -> ResidentPage:
    """Assemble one resident's page (newest bookings and memos first, timeline oldest first)."""
    resident = await resident_by_reservation_id(session, reservation_id)
    phase = await session.scalar(
        select(func.coalesce(CardProgress.phase, Phase.IMPORTED.value))
        .select_from(Resident)
        .outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
        .where(Resident.id == resident.id)
    )
    events = await session.scalars(
        select(ProgressEvent)
        .where(ProgressEvent.resident_id == resident.id)
        .order_by(ProgressEvent.id)
    )
    bookings = await session.scalars(
        select(Booking).where(Booking.resident_id == resident.id).order_by(Booking.starts_at.desc())
    )
    memos = await session.scalars(
        select(ResidentMemo)
        .where(ResidentMemo.resident_id == resident.id)
        .order_by(ResidentMemo.id.desc())
    )
    return ResidentPage(
        reservation_id=resident.reservation_id,
        name=resident.name,
        name_kana=resident.name_kana,
        birth_date=resident.birth_date,
        sex=str(resident.sex.value),
        postal_code=resident.postal_code,
        address=resident.address,
        address_extra=resident.address_extra,
        has_gaiji=resident.has_gaiji,
        card=CardInfo(
            reservation_id=resident.reservation_id,
            application_id=resident.application_id,
            shipment_no=resident.shipment_no,
            card_expiry=resident.card_expiry,
            certificate_info=CertificateInfo(
                signature=resident.certificate_signature,
                authentication=resident.certificate_authentication,
            ),
        ),
        phase=Phase(phase or Phase.IMPORTED.value),
        timeline=[event_view(event) for event in events],
        bookings=[booking_view(booking) for booking in bookings],
        memos=[memo_view(memo) for memo in memos],
    )


async def add_memo(
    session: AsyncSession, reservation_id: str, body: str, *, author: str
) -> MemoView:
    """Append a memo to a resident's page."""
    resident = await resident_by_reservation_id(session, reservation_id)
    memo = ResidentMemo(resident_id=resident.id, body=body, author=author)
    session.add(memo)
    await session.flush()
    return memo_view(memo)
