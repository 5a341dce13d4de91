"""Input and output shapes of the places settings and availability routes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

Code = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z_-]{1,16}$")]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=2000)]
Url = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^https://")]
Weekday = Annotated[int, msgspec.Meta(ge=0, le=6)]
Windows = Annotated[int, msgspec.Meta(ge=0, le=100)]
ClosedKind = Literal["city", "maintenance"]
Item = TypeVar("Item")


class LocationInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new location (交付場所)."""

    code: Code
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    address: ShortText = ""
    access_notes: LongText = ""
    map_url: Url | None = None


class LocationPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Changes to a location's description; fields left out stay as they are."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    address: ShortText | UnsetType = UNSET
    access_notes: LongText | UnsetType = UNSET
    map_url: Url | UnsetType | None = UNSET


class RulesPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Changes to a location's slot shape and booking rules; fields left out stay."""

    slot_minutes: Annotated[int, msgspec.Meta(ge=5, le=240)] | UnsetType = UNSET
    people_per_window: Annotated[int, msgspec.Meta(ge=0, le=100)] | UnsetType = UNSET
    online_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] | UnsetType = UNSET
    default_windows: Windows | UnsetType = UNSET
    opens_days_ahead: Annotated[int, msgspec.Meta(ge=1, le=366)] | UnsetType = UNSET
    opens_at: dt.time | UnsetType = UNSET
    closes_hours_before: Annotated[int, msgspec.Meta(ge=0, le=24 * 30)] | UnsetType = UNSET
    change_hours_before: Annotated[int, msgspec.Meta(ge=0, le=24 * 30)] | UnsetType = UNSET
    household_max: Annotated[int, msgspec.Meta(ge=1, le=20)] | UnsetType = UNSET
    closed_on_public_holidays: bool | UnsetType = UNSET
    maintenance_sunday: Annotated[int, msgspec.Meta(ge=1, le=5)] | UnsetType | None = UNSET


class DayHours(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Opening hours of one weekday (0 Monday … 6 Sunday)."""

    weekday: Weekday
    opens_at: dt.time
    closes_at: dt.time


class WeeklyHours(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The whole week's opening hours; a weekday left out is closed."""

    days: Annotated[list[DayHours], msgspec.Meta(max_length=7)]


class BandInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Windows open for slots starting in [starts_at, ends_at)."""

    starts_at: dt.time
    ends_at: dt.time
    windows: Windows


class TimeBands(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """All time bands of a location (they replace the previous ones)."""

    bands: Annotated[list[BandInput], msgspec.Meta(max_length=48)]


class ClosedDayInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A day the location closes: the city's own, or the national system's maintenance."""

    day: dt.date
    kind: ClosedKind = "city"
    reason: ShortText = ""


class SpecialOpeningInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """休日開庁: open on this day with these hours (and windows, else the time bands)."""

    day: dt.date
    opens_at: dt.time
    closes_at: dt.time
    windows: Windows | None = None
    reason: ShortText = ""


class SlotRange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Days (both included) whose slots are regenerated from the settings."""

    start: dt.date
    end: dt.date


class LocationView(msgspec.Struct, kw_only=True):
    """A location as residents and staff see it."""

    id: int
    code: str
    name: str
    address: str
    access_notes: str
    map_url: str | None


class RulesView(msgspec.Struct, kw_only=True):
    """A location's slot shape and booking rules."""

    slot_minutes: int
    people_per_window: int
    online_percent: int
    default_windows: int
    opens_days_ahead: int
    opens_at: dt.time
    closes_hours_before: int
    change_hours_before: int
    household_max: int
    closed_on_public_holidays: bool
    maintenance_sunday: int | None


class ClosedDayView(msgspec.Struct, kw_only=True):
    """A closed day of a location."""

    day: dt.date
    kind: str
    reason: str


class SpecialOpeningView(msgspec.Struct, kw_only=True):
    """A special opening of a location."""

    day: dt.date
    opens_at: dt.time
    closes_at: dt.time
    windows: int | None
    reason: str


class LocationSettings(msgspec.Struct, kw_only=True):
    """Every setting of one location, as the settings page shows it."""

    location: LocationView
    rules: RulesView
    hours: list[DayHours]
    bands: list[BandInput]
    closed_days: list[ClosedDayView]
    special_openings: list[SpecialOpeningView]


class AffectedBooking(msgspec.Struct, kw_only=True):
    """A booking left in a slot whose capacity a change reduces below its bookings."""

    confirmation_code: str
    starts_at: dt.datetime
    channel: str
    party_size: int
    reservation_ids: list[str]


class RegenerationReport(msgspec.Struct, kw_only=True):
    """What regenerating slots did; ``over_capacity`` lists bookings kept above capacity."""

    start: dt.date
    end: dt.date
    created: int
    changed: int
    removed: int
    emptied: int
    over_capacity: list[AffectedBooking] = []


class DayAvailability(msgspec.Struct, kw_only=True):
    """One day of a month: how many online places remain and whether it can be booked now."""

    date: dt.date
    status: Literal["open", "full", "not_yet_open", "closed"]
    slots: int
    remaining_online: int


class MonthAvailability(msgspec.Struct, kw_only=True):
    """A month of days at one location."""

    location_code: str
    month: str
    days: list[DayAvailability]


class SlotAvailability(msgspec.Struct, kw_only=True):
    """One slot of a day with its remaining online places."""

    slot_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    remaining_online: int
    bookable: bool


class DaySlots(msgspec.Struct, kw_only=True):
    """A day of slots at one location."""

    location_code: str
    date: dt.date
    slots: list[SlotAvailability]


class Page(msgspec.Struct, Generic[Item], kw_only=True):
    """One page of a list."""

    items: list[Item]
    total: int
    limit: int
    offset: int
