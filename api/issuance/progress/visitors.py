"""予約者リスト (visitor list): who comes to a location on a day, household by household.

Staff mark each visitor arrived, no-show or issued from it; ``issued`` also records the
card's progress at the booking's location, in the same transaction. Names are shown with
staff's 外字 substitutions (``display_name``; the card list's ``name`` is kept beside it)
and printed with them in the CSV.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.issuance.exchange.models import Booking
from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress
from api.issuance.progress.rules import READY_PHASES, Action, Phase
from api.issuance.progress.schemas import ProgressChange
from api.issuance.progress.services import apply_changes, canonical_reservation_id, utc_now
from api.issuance.residents.services import GaijiSubstitutionService

AttendanceMark = Literal["arrived", "no_show", "issued"]
_PHASE_TEXT: Final = {
    Phase.IMPORTED: "交付前設定未了",
    Phase.PRESETUP_DONE: "準備済",
    Phase.NOTICE_SENT: "準備済",
    Phase.RESERVED: "準備済",
    Phase.ISSUED: "交付済",
    Phase.RETURNED: "返戻",
    Phase.CANCELLED: "廃止",
    Phase.EXPIRED: "期限切れ",
}
_ATTENDANCE_TEXT: Final = {"arrived": "来庁", "no_show": "不来庁", "issued": "交付済"}
CSV_HEADER: Final = (
    "開始時刻",
    "終了時刻",
    "予約番号",
    "予約用ID",
    "氏名",
    "氏名カナ",
    "生年月日",
    "カード状態",
    "来庁状況",
    "メモ",
)


class Visitor(msgspec.Struct, frozen=True, kw_only=True):
    """One person expected at the counter; ``display_name`` has 外字 substituted."""

    reservation_id: str
    name: str
    display_name: str
    name_kana: str
    birth_date: dt.date
    phase: Phase
    ready: bool
    attendance: str | None


class VisitorGroup(msgspec.Struct, kw_only=True):
    """One booking: a household comes together at one time."""

    confirmation_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    channel: str
    memo: str
    members: list[Visitor]


class VisitorList(msgspec.Struct, frozen=True, kw_only=True):
    """The visitor list of one location and day."""

    location_code: str
    day: dt.date
    groups: list[VisitorGroup]
    visitors: int
    not_ready: int


class AttendanceInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Staff mark one visitor of one booking."""

    confirmation_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{4,16}$")]
    reservation_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{3}-?[0-9]{6}$")]
    mark: AttendanceMark


class AttendanceResult(msgspec.Struct, frozen=True, kw_only=True):
    """The visitor's booking after the mark."""

    confirmation_code: str
    reservation_id: str
    attendance: str
    attendance_at: dt.datetime
    attendance_by: str
    phase: Phase


class BookingNotFound(DomainError):
    """No active booking of this resident under this confirmation code."""

    status_code = 404
    code = "booking_not_found"


async def visitor_list(
    session: AsyncSession, location_code: str, day: dt.date, tz: ZoneInfo
) -> VisitorList:
    """Active bookings of location on day (local time), by start time, grouped by booking."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = start + dt.timedelta(days=1)
    statement = (
        select(
            Booking,
            Resident.reservation_id,
            Resident.name,
            Resident.name_kana,
            Resident.birth_date,
            func.coalesce(CardProgress.phase, Phase.IMPORTED.value).label("phase"),
        )
        .join(Resident, Resident.id == Booking.resident_id)
        .outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
        .where(
            Booking.location_code == location_code,
            Booking.starts_at >= start,
            Booking.starts_at < end,
            Booking.status != "cancelled",
        )
        .order_by(Booking.starts_at, Booking.confirmation_code, Resident.reservation_id)
    )
    substitutions = await GaijiSubstitutionService(session=session).table()
    groups: dict[str, VisitorGroup] = {}
    for row in await session.execute(statement):
        booking: Booking = row.Booking
        phase = Phase(row.phase)
        group = groups.setdefault(
            booking.confirmation_code,
            VisitorGroup(
                confirmation_code=booking.confirmation_code,
                starts_at=booking.starts_at.astimezone(tz),
                ends_at=booking.ends_at.astimezone(tz),
                channel=booking.channel,
                memo=booking.memo,
                members=[],
            ),
        )
        group.members.append(
            Visitor(
                reservation_id=row.reservation_id,
                name=row.name,
                display_name=row.name.translate(substitutions),
                name_kana=row.name_kana,
                birth_date=row.birth_date,
                phase=phase,
                ready=phase in READY_PHASES,
                attendance=booking.attendance,
            )
        )
    members = [member for group in groups.values() for member in group.members]
    return VisitorList(
        location_code=location_code,
        day=day,
        groups=list(groups.values()),
        visitors=len(members),
        not_ready=sum(not member.ready for member in members),
    )


def visitor_csv_rows(visitors: VisitorList) -> list[list[Any]]:
    """The printable list: one line per visitor, households on consecutive lines."""
    return [
        [
            f"{group.starts_at:%H:%M}",
            f"{group.ends_at:%H:%M}",
            group.confirmation_code,
            member.reservation_id,
            member.display_name,
            member.name_kana,
            member.birth_date.isoformat(),
            _PHASE_TEXT[member.phase],
            _ATTENDANCE_TEXT.get(member.attendance or "", ""),
            group.memo,
        ]
        for group in visitors.groups
        for member in group.members
    ]


async def mark_attendance(
    session: AsyncSession, data: AttendanceInput, *, actor: str
) -> AttendanceResult:
    """Record arrived, no-show or issued on one visitor's booking.

    An unknown or cancelled booking is refused (BookingNotFound) before anything is
    recorded. ``issued`` then records the card's progress at the booking's location, so a
    card that is not ready is refused with its reason and the booking stays unmarked.
    """
    reservation_id = canonical_reservation_id(data.reservation_id)
    resident_id = select(Resident.id).where(Resident.reservation_id == reservation_id)
    this_booking = (
        Booking.confirmation_code == data.confirmation_code,
        Booking.resident_id == resident_id.scalar_subquery(),
        Booking.status != "cancelled",
    )
    missing = f"no active booking {data.confirmation_code} for {reservation_id}"
    # Read without a lock: like the reservation import, this locks the card (apply_changes)
    # before any booking row, so the two never deadlock; the UPDATE re-checks the booking.
    location_code = await session.scalar(select(Booking.location_code).where(*this_booking))
    if location_code is None:
        raise BookingNotFound(missing)
    if data.mark == "issued":
        # The booking's location: per-location lists and counts include the card.
        issued = ProgressChange(
            reservation_id=reservation_id, action=Action.ISSUED, location_code=location_code
        )
        await apply_changes(session, [issued], actor=actor, source="staff")
    now = utc_now()
    marked = await session.execute(
        update(Booking)
        .where(*this_booking)
        .values(attendance=data.mark, attendance_at=now, attendance_by=actor, updated_at=now)
        .returning(Booking.id)
    )
    if marked.first() is None:
        # Cancelled in between: the caller's rollback undoes the progress change too.
        raise BookingNotFound(missing)
    phase = await session.scalar(
        select(func.coalesce(CardProgress.phase, Phase.IMPORTED.value))
        .select_from(Resident)
        .outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
        .where(Resident.reservation_id == reservation_id)
    )
    return AttendanceResult(
        confirmation_code=data.confirmation_code,
        reservation_id=reservation_id,
        attendance=data.mark,
        attendance_at=now,
        attendance_by=actor,
        phase=Phase(phase or Phase.IMPORTED.value),
    )
