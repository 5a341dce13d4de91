"""Tables of the USB exchange: sequence high-water marks and the log of every bundle.

The reservation zone keeps no copy of what a bundle carried, only which bundle it was
(id, sequence, digest) and what was done with it, so receipts can be re-issued and a
reservations delta knows where the issuance zone's last receipt left off.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.reservation.models import ReservationBase


class SyncStream(ReservationBase):
    """One direction of one bundle kind, and the last sequence applied (in) or written (out).

    Incoming marks are locked (``FOR UPDATE``) while a bundle is applied; outgoing
    sequences are taken with one atomic ``UPDATE … RETURNING``, never read-then-written.
    """

    __tablename__ = "sync_streams"

    name: Mapped[str] = mapped_column(String(32), unique=True)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    bundle_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    digest: Mapped[str | None] = mapped_column(String(64), default=None)


class SyncBundle(ReservationBase):
    """A bundle this zone applied (direction ``in``) or wrote (direction ``out``)."""

    __tablename__ = "sync_bundles"
    __table_args__ = (
        UniqueConstraint(
            "direction", "kind", "sequence", name="uq_sync_bundles_direction_kind_sequence"
        ),
        CheckConstraint("direction IN ('in', 'out')", name="direction_known"),
        CheckConstraint("mode IN ('full', 'delta')", name="mode_known"),
    )

    direction: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(BigInteger)
    bundle_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))
    base_sequence: Mapped[int | None] = mapped_column(BigInteger, default=None)
    record_total: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # For an applied bundle: what the operator was told (forced gap, revocations, …).
    note: Mapped[str] = mapped_column(Text, default="")
    # For a reservations bundle written: bookings changed up to this moment are in it.
    changes_through: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    # For a bundle written: when the other zone's receipt for it was imported.
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
