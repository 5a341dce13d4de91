"""Settings tables of the counter sites: rules, opening hours, windows, closed days, openings.

Slots (``api.reservation.models.Slot``) are generated from these rows; the booking engine
reads only the slots' counters and the rules, never these tables while booking.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.reservation.models import ReservationBase

LOCATION_FOREIGN_KEY = "locations.id"


class LocationRules(ReservationBase):
    """One location's slot shape and booking rules (one row per location)."""

    __tablename__ = "location_rules"
    __table_args__ = (
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes_range"),
        CheckConstraint("people_per_window >= 0", name="people_per_window_positive"),
        CheckConstraint("online_percent BETWEEN 0 AND 100", name="online_percent_range"),
        CheckConstraint("default_windows >= 0", name="default_windows_positive"),
        CheckConstraint("opens_days_ahead BETWEEN 1 AND 366", name="opens_days_ahead_range"),
        CheckConstraint("closes_hours_before >= 0", name="closes_hours_before_positive"),
        CheckConstraint("change_hours_before >= 0", name="change_hours_before_positive"),
        CheckConstraint("household_max BETWEEN 1 AND 20", name="household_max_range"),
        CheckConstraint(
            "maintenance_sunday IS NULL OR maintenance_sunday BETWEEN 1 AND 5",
            name="maintenance_sunday_range",
        ),
    )

    location_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(LOCATION_FOREIGN_KEY, ondelete="CASCADE"), unique=True
    )
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    people_per_window: Mapped[int] = mapped_column(Integer, default=2)
    # The share of each slot's capacity residents can book online; staff (phone and
    # counter) bookings take the rest, so a phone caller always finds room.
    online_percent: Mapped[int] = mapped_column(SmallInteger, default=80)
    # Windows open at times no time band covers.
    default_windows: Mapped[int] = mapped_column(Integer, default=1)
    # The booking rules, named as the booking engine's BookingRules names them: booking
    # for day D opens at opens_at (local time) on day D - opens_days_ahead, and closes
    # closes_hours_before the slot; changes and cancellations close change_hours_before.
    opens_days_ahead: Mapped[int] = mapped_column(Integer, default=30)
    opens_at: Mapped[dt.time] = mapped_column(Time, default=dt.time(9, 0))
    closes_hours_before: Mapped[int] = mapped_column(Integer, default=24)
    change_hours_before: Mapped[int] = mapped_column(Integer, default=24)
    household_max: Mapped[int] = mapped_column(Integer, default=6)
    closed_on_public_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    # The national system's monthly maintenance: the n-th Sunday of each month (None: none).
    maintenance_sunday: Mapped[int | None] = mapped_column(SmallInteger, default=None)


class OpeningHours(ReservationBase):
    """When a location opens on one weekday (0 Monday … 6 Sunday); no row: closed that day."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        UniqueConstraint("location_id", "weekday", name="uq_opening_hours_location_weekday"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("closes_at > opens_at", name="opening_has_length"),
    )

    location_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(LOCATION_FOREIGN_KEY, ondelete="CASCADE")
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens_at: Mapped[dt.time] = mapped_column(Time)
    closes_at: Mapped[dt.time] = mapped_column(Time)


class TimeBand(ReservationBase):
    """公開窓口数 for a time of day: slots starting in [starts_at, ends_at) have these windows."""

    __tablename__ = "time_bands"
    __table_args__ = (
        UniqueConstraint("location_id", "starts_at", name="uq_time_bands_location_start"),
        CheckConstraint("ends_at > starts_at", name="band_has_length"),
        CheckConstraint("windows >= 0", name="windows_positive"),
    )

    location_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(LOCATION_FOREIGN_KEY, ondelete="CASCADE")
    )
    starts_at: Mapped[dt.time] = mapped_column(Time)
    ends_at: Mapped[dt.time] = mapped_column(Time)
    windows: Mapped[int] = mapped_column(Integer)


class ClosedDay(ReservationBase):
    """A day a location is closed besides public holidays: the city's own, or maintenance."""

    __tablename__ = "closed_days"
    __table_args__ = (
        UniqueConstraint("location_id", "day", name="uq_closed_days_location_day"),
        CheckConstraint("kind IN ('city', 'maintenance')", name="kind_known"),
    )

    location_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(LOCATION_FOREIGN_KEY, ondelete="CASCADE")
    )
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16), default="city")
    reason: Mapped[str] = mapped_column(Text, default="")


class SpecialOpening(ReservationBase):
    """休日開庁: a location opens on a day it would be closed, with these hours.

    It wins over holidays and the city's own closed days (staff set it on purpose for that
    day), but not over the national system's maintenance: one on such a day is refused.
    """

    __tablename__ = "special_openings"
    __table_args__ = (
        UniqueConstraint("location_id", "day", name="uq_special_openings_location_day"),
        CheckConstraint("closes_at > opens_at", name="special_opening_has_length"),
        CheckConstraint("windows IS NULL OR windows >= 0", name="special_windows_positive"),
    )

    location_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(LOCATION_FOREIGN_KEY, ondelete="CASCADE")
    )
    day: Mapped[dt.date] = mapped_column(Date)
    opens_at: Mapped[dt.time] = mapped_column(Time)
    closes_at: Mapped[dt.time] = mapped_column(Time)
    # Windows for the whole day; None uses the location's time bands.
    windows: Mapped[int | None] = mapped_column(Integer, default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
