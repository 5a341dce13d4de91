"""Which slots a location has on a day, computed from its settings (pure: no database).

Order of the rules for one day:
1. a special opening (休日開庁) opens the day with its own hours, whatever else applies;
2. otherwise a closed day of the city or of the national system's maintenance, a Japanese
   public holiday (when the location closes on them), or the monthly maintenance Sunday
   closes it;
3. otherwise the weekday's opening hours apply (no hours: closed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
import msgspec

SUNDAY = 6


class Band(NamedTuple):
    """Windows open for slots starting in [starts_at, ends_at)."""

    starts_at: dt.time
    ends_at: dt.time
    windows: int


class Opening(NamedTuple):
    """Hours of one day; ``windows`` overrides the bands when given."""

    opens_at: dt.time
    closes_at: dt.time
    windows: int | None = None


class PlannedSlot(NamedTuple):
    """A slot the settings call for, with its capacity already split."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    online_capacity: int
    staff_capacity: int


class LocationPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything about one location that decides its slots."""

    slot_minutes: int
    people_per_window: int
    online_percent: int
    default_windows: int
    closed_on_public_holidays: bool = True
    maintenance_sunday: int | None = None
    hours: Mapping[int, Opening] = {}
    bands: Sequence[Band] = ()
    closed_days: Mapping[dt.date, str] = {}
    # Closed days of the maintenance kind (a subset of closed_days).
    maintenance_days: frozenset[dt.date] = frozenset()
    special_openings: Mapping[dt.date, Opening] = {}


def split_capacity(windows: int, people_per_window: int, online_percent: int) -> tuple[int, int]:
    """Split capacity (windows times people per window) between online and staff bookings.

    The online share is rounded down, so rounding never takes a place from staff.
    """
    capacity = windows * people_per_window
    online = capacity * online_percent // 100
    return online, capacity - online


def week_of_month(day: dt.date) -> int:
    """Which occurrence of its weekday the day is in its month (1 for the first)."""
    return (day.day - 1) // 7 + 1


def public_holidays(start: dt.date, end: dt.date) -> holidays.HolidayBase:
    """Japanese public holidays (国民の祝日, 振替休日, 国民の休日) of the years in range."""
    return holidays.country_holidays("JP", years=range(start.year, end.year + 1))


def under_maintenance(plan: LocationPlan, day: dt.date) -> bool:
    """Whether the national system is down that day (its maintenance Sunday, or a day set)."""
    return day in plan.maintenance_days or (
        plan.maintenance_sunday is not None
        and day.weekday() == SUNDAY
        and week_of_month(day) == plan.maintenance_sunday
    )


def closure(
    plan: LocationPlan, day: dt.date, holiday_calendar: Mapping[dt.date, str]
) -> str | None:
    """Why the location is closed on day, or None when it opens (ignoring special openings)."""
    if day in plan.closed_days:
        return plan.closed_days[day] or "closed day"
    if plan.closed_on_public_holidays and day in holiday_calendar:
        return f"public holiday: {holiday_calendar[day]}"
    if under_maintenance(plan, day):
        return "national system maintenance"
    if day.weekday() not in plan.hours:
        return "not an opening day"
    return None


def opening_of(
    plan: LocationPlan, day: dt.date, holiday_calendar: Mapping[dt.date, str]
) -> Opening | None:
    """The hours the location keeps on day, or None when it is closed.

    A special opening wins over holidays and the city's own closed days, but not over the
    national system's maintenance: no card can be issued while it is down.
    """
    if under_maintenance(plan, day):
        return None
    special = plan.special_openings.get(day)
    if special is not None:
        return special
    if closure(plan, day, holiday_calendar) is not None:
        return None
    return plan.hours[day.weekday()]


def windows_at(plan: LocationPlan, moment: dt.time) -> int:
    """Windows open at a time of day: the band covering it, else the default."""
    for band in plan.bands:
        if band.starts_at <= moment < band.ends_at:
            return band.windows
    return plan.default_windows


def plan_day(
    plan: LocationPlan, day: dt.date, tz: ZoneInfo, holiday_calendar: Mapping[dt.date, str]
) -> list[PlannedSlot]:
    """The slots of one day; a slot that would run past closing time is not made."""
    opening = opening_of(plan, day, holiday_calendar)
    if opening is None:
        return []
    length = dt.timedelta(minutes=plan.slot_minutes)
    moment = dt.datetime.combine(day, opening.opens_at, tzinfo=tz)
    closing = dt.datetime.combine(day, opening.closes_at, tzinfo=tz)
    slots: list[PlannedSlot] = []
    while moment + length <= closing:
        windows = (
            opening.windows if opening.windows is not None else windows_at(plan, moment.time())
        )
        online, staff = split_capacity(windows, plan.people_per_window, plan.online_percent)
        # A time with no window open (a lunch band of 0) is no slot at all.
        if online + staff:
            slots.append(PlannedSlot(moment, moment + length, online, staff))
        moment += length
    return slots


def plan_range(
    plan: LocationPlan, start: dt.date, end: dt.date, tz: ZoneInfo
) -> Iterator[PlannedSlot]:
    """Every planned slot from start to end, both included."""
    holiday_calendar = public_holidays(start, end)
    day = start
    while day <= end:
        yield from plan_day(plan, day, tz, holiday_calendar)
        day += dt.timedelta(days=1)
