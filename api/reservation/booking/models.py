"""Booking tables: who may book (eligibility), bookings and their members, login throttles.

Only pseudonymous data: a reservation_id, a keyed password verifier, a shipment_no, and
what residents type in (an optional e-mail address, a memo).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.reservation.models import ReservationBase, ReservationPlainBase


class Eligibility(ReservationBase):
    """予約資格: one card that may book, as the last eligibility bundle said."""

    __tablename__ = "eligibilities"

    reservation_id: Mapped[str] = mapped_column(String(10), unique=True)
    shipment_no: Mapped[str] = mapped_column(String(20))
    # HMAC-SHA256 of the MMDD password under a server-side key: never the password itself.
    password_verifier: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoke_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    # Server defaults too: the eligibility import inserts rows without naming these.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Signed resident session tokens carry it; logging out bumps it, ending every session.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Booking(ReservationBase):
    """予約: one booking of one slot for one or more household members."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("party_size > 0", name="party_size_positive"),
        CheckConstraint("channel IN ('web', 'phone')", name="channel_known"),
        CheckConstraint("share IN ('online', 'staff')", name="share_known"),
        CheckConstraint("status IN ('booked', 'changed', 'cancelled')", name="status_known"),
    )

    confirmation_code: Mapped[str] = mapped_column(String(12), unique=True)
    slot_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("slots.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    # Which part of the slot's capacity it takes: the online share or the staff share.
    share: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    party_size: Mapped[int] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(Text, default=None)
    memo: Mapped[str] = mapped_column(Text, default="")
    cancel_reason: Mapped[str | None] = mapped_column(Text, default=None)
    staff_login_id: Mapped[str | None] = mapped_column(String(64), default=None)


class BookingMember(ReservationBase):
    """One household member of a booking (同時予約者), by reservation_id."""

    __tablename__ = "booking_members"
    __table_args__ = (
        # One active booking per reservation_id, enforced by the database.
        Index(
            "uq_booking_members_active_reservation_id",
            "reservation_id",
            unique=True,
            postgresql_where=text("active"),
        ),
    )

    booking_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    reservation_id: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)


class LoginThrottle(ReservationPlainBase):
    """A counter per key and fixed window, shared by every process through PostgreSQL.

    Keys: ``client:<address>`` (per-client rate limit of password attempts) and
    ``failures`` (resident login failures across all IDs, for the alarm).
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)


class UnknownIdLockout(ReservationPlainBase):
    """Failed logins for reservation IDs that do not exist, counted like real ones.

    So an unknown ID locks after five failures exactly as a real one does, and the
    answers never tell which IDs exist.
    """

    __tablename__ = "unknown_id_lockouts"

    reservation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Rows a day past their last failure (and any lock) are pruned with the rate-limit windows.
    last_failed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
