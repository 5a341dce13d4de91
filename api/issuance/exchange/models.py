"""Exchange tables: bookings, eligibility exports, reservation imports, counters.

Bookings are what the reservation zone reported; ``eligibility_sent`` is what each card
was last exported as (the base of the next delta); counters hand out bundle sequences.
Counter locations live here beside the bookings that name them; staff manage them through
``api/issuance/locations``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from api.issuance.models import IssuanceBase, IssuancePlainBase


class Booking(IssuanceBase):
    """予約: one resident's part of a booking, as the reservation zone last reported it.

    A household booking is one confirmation code with a row per member; each row lists
    the other members as ``companion_ids``.
    """

    __tablename__ = "resident_bookings"
    __table_args__ = (
        UniqueConstraint("confirmation_code", "resident_id"),
        CheckConstraint("status IN ('booked', 'changed', 'cancelled')", name="status_known"),
        CheckConstraint("channel IN ('web', 'phone')", name="channel_known"),
        CheckConstraint("attendance IN ('arrived', 'no_show', 'issued')", name="attendance_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    resident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    confirmation_code: Mapped[str] = mapped_column(String(16))
    location_code: Mapped[str] = mapped_column(String(32))
    location_name: Mapped[str | None] = mapped_column(Text, default=None)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    email: Mapped[str | None] = mapped_column(Text, default=None)
    companion_ids: Mapped[list[str]] = mapped_column(ARRAY(String(10)), default=list)
    memo: Mapped[str] = mapped_column(Text, default="")
    # The reservation zone's 更新日時: the latest report of a booking wins.
    source_updated_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    attendance: Mapped[str | None] = mapped_column(String(16), default=None)
    attendance_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    attendance_by: Mapped[str | None] = mapped_column(Text, default=None)


class CounterLocation(IssuanceBase):
    """交付場所 as the issuance zone knows it: staff keep the list (``api/issuance/locations``).

    ``active`` locations are the ones letters list. The reservation import adds a code it
    has not seen (inactive, named after the bundle or the code) and may rename a location
    only while ``updated_by`` is None, i.e. no member of staff has named it.
    """

    __tablename__ = "counter_locations"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    # Staff login ID (or ``cli:<user>``) of the last hand edit; None: only imports wrote it.
    updated_by: Mapped[str | None] = mapped_column(String(100), default=None)


class EligibilityExport(IssuanceBase):
    """One eligibility bundle written for the reservation zone, and its receipt."""

    __tablename__ = "eligibility_exports"
    __table_args__ = (CheckConstraint("mode IN ('full', 'delta')", name="mode_known"),)

    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    bundle_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))
    base_sequence: Mapped[int | None] = mapped_column(BigInteger, default=None)
    upserts: Mapped[int] = mapped_column(Integer)
    revocations: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    receipt_applied_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)


class EligibilitySent(IssuancePlainBase):
    """What the reservation zone was last told about one card: the base of the next delta."""

    __tablename__ = "eligibility_sent"

    resident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    eligible: Mapped[bool] = mapped_column(Boolean)
    password: Mapped[str] = mapped_column(String(4))
    shipment_no: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(BigInteger)


class ReservationImport(IssuanceBase):
    """One applied reservation bundle or 予約一覧CSV: the high-water mark and the report."""

    __tablename__ = "reservation_imports"
    __table_args__ = (CheckConstraint("source IN ('bundle', 'csv')", name="source_known"),)

    source: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    sequence: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)
    bundle_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    file_name: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    imported: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    ignored: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    failures: Mapped[list[Any]] = mapped_column(JSONB, default=list)


class SyncCounter(IssuancePlainBase):
    """A named counter bumped with one atomic UPDATE (bundle sequence numbers)."""

    __tablename__ = "sync_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
