"""Reservation zone tables: places and bookable slots (no personal data is ever stored here)."""

from __future__ import annotations

import datetime as dt

from advanced_alchemy.base import DefaultBase, IdentityAuditBase
from advanced_alchemy.extensions.litestar.session import SessionModelMixin
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.core.audit.models import AccessLogMixin
from api.core.identity.models import (
    AccessTokenMixin,
    AccountRoleMixin,
    PasswordHistoryMixin,
    RegisteredTerminalMixin,
    RoleMixin,
    RolePermissionMixin,
    StaffAccountMixin,
)
from api.core.tables import CoreTables


class ReservationBase(IdentityAuditBase):
    """Base of every reservation-zone table: own metadata, own migrations, own database."""

    __abstract__ = True
    __bind_key__ = "reservation"


class ReservationPlainBase(DefaultBase):
    """Base of reservation-zone tables that declare their own key (the access log)."""

    __abstract__ = True
    __bind_key__ = "reservation"


class Location(ReservationBase):
    """交付場所: a counter site residents can book."""

    __tablename__ = "locations"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text, default="")
    access_notes: Mapped[str] = mapped_column(Text, default="")
    map_url: Mapped[str | None] = mapped_column(Text, default=None)

    slots: Mapped[list[Slot]] = relationship(back_populates="location", lazy="raise")


class Slot(ReservationBase):
    """予約枠: one bookable time range at one location, with its capacity split.

    Capacity is held as counters in the row so that the database, not Python, refuses an
    overbooking: a booking is one conditional ``UPDATE ... WHERE booked < capacity``.
    """

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("location_id", "starts_at", name="uq_slots_location_start"),
        CheckConstraint("ends_at > starts_at", name="slot_has_length"),
        CheckConstraint("online_capacity >= 0 AND staff_capacity >= 0", name="capacity_positive"),
        CheckConstraint("online_booked >= 0 AND staff_booked >= 0", name="booked_positive"),
    )

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    online_capacity: Mapped[int] = mapped_column(default=0)
    staff_capacity: Mapped[int] = mapped_column(default=0)
    online_booked: Mapped[int] = mapped_column(default=0)
    staff_booked: Mapped[int] = mapped_column(default=0)

    location: Mapped[Location] = relationship(back_populates="slots", lazy="raise")


# Shared tables of api/core, bound into this zone's database.


class StaffAccount(StaffAccountMixin, ReservationBase):
    """A staff account of the reservation zone."""

    __tablename__ = "staff_accounts"


class Role(RoleMixin, ReservationBase):
    """A role of the reservation zone."""

    __tablename__ = "staff_roles"


class RolePermission(RolePermissionMixin, ReservationBase):
    """A permission granted by a role of the reservation zone."""

    __tablename__ = "staff_role_permissions"


class AccountRole(AccountRoleMixin, ReservationBase):
    """A role granted to an account of the reservation zone."""

    __tablename__ = "staff_account_roles"


class PasswordHistory(PasswordHistoryMixin, ReservationBase):
    """Earlier password hashes of a staff account of the reservation zone."""

    __tablename__ = "staff_password_history"


class AccessToken(AccessTokenMixin, ReservationBase):
    """A personal access token of the reservation zone."""

    __tablename__ = "staff_access_tokens"


class RegisteredTerminal(RegisteredTerminalMixin, ReservationBase):
    """A registered office terminal of the reservation zone."""

    __tablename__ = "staff_terminals"


class StaffSession(SessionModelMixin):
    """A server-side staff browser session of the reservation zone."""

    __tablename__ = "staff_sessions"
    __bind_key__ = "reservation"


class AccessLog(AccessLogMixin, ReservationPlainBase):
    """The reservation zone's append-only, hash-chained access log."""

    __tablename__ = "access_log"


CORE_TABLES = CoreTables(
    staff_account=StaffAccount,
    role=Role,
    role_permission=RolePermission,
    account_role=AccountRole,
    password_history=PasswordHistory,
    access_token=AccessToken,
    registered_terminal=RegisteredTerminal,
    staff_session=StaffSession,
    access_log=AccessLog,
)
