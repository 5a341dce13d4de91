"""Places settings: locations, rules, hours, windows, closed days, special openings.

Every change that can move capacity regenerates the location's future slots in the same
transaction, so a refusal (:class:`~api.reservation.places.slots.OverCapacity`) leaves
the settings as they were too.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.reservation.models import Location
from api.reservation.places.calendar import under_maintenance
from api.reservation.places.models import (
    ClosedDay,
    LocationRules,
    OpeningHours,
    SpecialOpening,
    TimeBand,
)
from api.reservation.places.schemas import (
    BandInput,
    ClosedDayInput,
    ClosedDayView,
    DayHours,
    LocationInput,
    LocationPatch,
    LocationSettings,
    LocationView,
    RegenerationReport,
    RulesPatch,
    RulesView,
    SpecialOpeningInput,
    SpecialOpeningView,
    TimeBands,
    WeeklyHours,
)
from api.reservation.places.slots import (
    LOOKAHEAD_DAYS,
    latest_slot_day,
    load_plan,
    regenerate_slots,
)


class LocationNotFound(DomainError):
    """No location has this code."""

    status_code = 404
    code = "location_not_found"


class SettingConflict(DomainError):
    """The setting contradicts another one (a duplicate code, day or band)."""

    status_code = 409
    code = "setting_conflict"


class InvalidSetting(DomainError):
    """The setting is well-formed but impossible (closing before opening, …)."""

    status_code = 422
    code = "invalid_setting"


class Clock(msgspec.Struct, frozen=True):
    """The counters' time zone and the current moment (injected so tests can fix it)."""

    tz: ZoneInfo
    now: dt.datetime

    @property
    def today(self) -> dt.date:
        """Today in the counters' time zone."""
        return self.now.astimezone(self.tz).date()


def location_view(location: Location) -> LocationView:
    """A location row as its view."""
    return LocationView(
        id=location.id,
        code=location.code,
        name=location.name,
        address=location.address,
        access_notes=location.access_notes,
        map_url=location.map_url,
    )


async def location_by_code(session: AsyncSession, code: str) -> Location:
    """The location with this code, or :class:`LocationNotFound`."""
    location = await session.scalar(select(Location).where(Location.code == code))
    if location is None:
        message = f"There is no location {code!r}."
        raise LocationNotFound(message)
    return location


async def list_locations(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[list[Location], int]:
    """One page of locations by code, and how many there are."""
    total = await session.scalar(select(func.count()).select_from(Location)) or 0
    rows = await session.scalars(
        select(Location).order_by(Location.code).limit(limit).offset(offset)
    )
    return list(rows), total


async def create_location(session: AsyncSession, data: LocationInput) -> Location:
    """Create a location with default rules; it has no slots until it has opening hours."""
    taken = await session.scalar(select(Location.id).where(Location.code == data.code))
    if taken is not None:
        message = f"A location with code {data.code!r} exists already."
        raise SettingConflict(message)
    location = Location(**msgspec.structs.asdict(data))
    session.add(location)
    await session.flush()
    session.add(LocationRules(location_id=location.id))
    await session.flush()
    return location


async def update_location(session: AsyncSession, code: str, patch: LocationPatch) -> Location:
    """Change a location's description (its slots are not affected)."""
    location = await location_by_code(session, code)
    for field, value in msgspec.structs.asdict(patch).items():
        if value is not msgspec.UNSET:
            setattr(location, field, value)
    await session.flush()
    return location


async def rules_of(session: AsyncSession, location_id: int) -> LocationRules:
    """The location's rules row (created with the defaults when missing)."""
    rules = await session.scalar(
        select(LocationRules).where(LocationRules.location_id == location_id)
    )
    if rules is None:
        rules = LocationRules(location_id=location_id)
        session.add(rules)
        await session.flush()
    return rules


def rules_view(rules: LocationRules) -> RulesView:
    """A rules row as its view."""
    return RulesView(**{field: getattr(rules, field) for field in RulesView.__struct_fields__})


Parameters = ParamSpec("Parameters")
Report = RegenerationReport


def atomic(
    change: Callable[Concatenate[AsyncSession, Parameters], Coroutine[Any, Any, Report]],
) -> Callable[Concatenate[AsyncSession, Parameters], Coroutine[Any, Any, Report]]:
    """Run a settings change in a savepoint of its own.

    A refusal then leaves the settings as they were even when the caller's transaction
    goes on (a CLI batch, a test), not only when the request's transaction rolls back.
    """

    @functools.wraps(change)
    async def wrapper(
        session: AsyncSession, /, *args: Parameters.args, **kwargs: Parameters.kwargs
    ) -> Report:
        async with session.begin_nested():
            return await change(session, *args, **kwargs)

    return wrapper


async def refresh_slots(
    session: AsyncSession, location_id: int, clock: Clock, *, keep_over_capacity: bool
) -> RegenerationReport:
    """Regenerate the location's slots from today to the end of its horizon (or its last slot).

    Called after every settings change, in its transaction.
    """
    rules = await rules_of(session, location_id)
    horizon_end = clock.today + dt.timedelta(days=rules.opens_days_ahead + LOOKAHEAD_DAYS)
    latest = await latest_slot_day(session, location_id, clock.tz)
    end = max(horizon_end, latest) if latest is not None else horizon_end
    return await regenerate_slots(
        session,
        location_id,
        clock.today,
        end,
        tz=clock.tz,
        now=clock.now,
        keep_over_capacity=keep_over_capacity,
    )


@atomic
async def update_rules(
    session: AsyncSession, code: str, patch: RulesPatch, clock: Clock, *, keep_over_capacity: bool
) -> RegenerationReport:
    """Change a location's rules and regenerate its slots."""
    location = await location_by_code(session, code)
    rules = await rules_of(session, location.id)
    for field, value in msgspec.structs.asdict(patch).items():
        if value is not msgspec.UNSET:
            setattr(rules, field, value)
    await session.flush()
    return await refresh_slots(session, location.id, clock, keep_over_capacity=keep_over_capacity)


@atomic
async def replace_hours(
    session: AsyncSession, code: str, week: WeeklyHours, clock: Clock, *, keep_over_capacity: bool
) -> RegenerationReport:
    """Replace a location's weekly opening hours and regenerate its slots."""
    weekdays = [day.weekday for day in week.days]
    if len(set(weekdays)) != len(weekdays):
        message = "Each weekday may appear once."
        raise InvalidSetting(message)
    if any(day.closes_at <= day.opens_at for day in week.days):
        message = "Closing time must be after opening time."
        raise InvalidSetting(message)
    location = await location_by_code(session, code)
    await session.execute(delete(OpeningHours).where(OpeningHours.location_id == location.id))
    if week.days:
        await session.execute(
            insert(OpeningHours),
            [{"location_id": location.id, **msgspec.structs.asdict(day)} for day in week.days],
        )
    return await refresh_slots(session, location.id, clock, keep_over_capacity=keep_over_capacity)


@atomic
async def replace_bands(
    session: AsyncSession, code: str, bands: TimeBands, clock: Clock, *, keep_over_capacity: bool
) -> RegenerationReport:
    """Replace a location's time bands (windows per time of day) and regenerate its slots."""
    ordered = sorted(bands.bands, key=lambda band: band.starts_at)
    if any(band.ends_at <= band.starts_at for band in ordered):
        message = "A time band must end after it starts."
        raise InvalidSetting(message)
    if any(later.starts_at < earlier.ends_at for earlier, later in itertools.pairwise(ordered)):
        message = "Time bands may not overlap."
        raise InvalidSetting(message)
    location = await location_by_code(session, code)
    await session.execute(delete(TimeBand).where(TimeBand.location_id == location.id))
    if ordered:
        await session.execute(
            insert(TimeBand),
            [{"location_id": location.id, **msgspec.structs.asdict(band)} for band in ordered],
        )
    return await refresh_slots(session, location.id, clock, keep_over_capacity=keep_over_capacity)


@atomic
async def add_closed_day(
    session: AsyncSession,
    code: str,
    data: ClosedDayInput,
    clock: Clock,
    *,
    keep_over_capacity: bool,
) -> RegenerationReport:
    """Close a location on a day (the city's own, or maintenance) and regenerate its slots."""
    location = await location_by_code(session, code)
    await _insert_once(
        session,
        ClosedDay(location_id=location.id, **msgspec.structs.asdict(data)),
        f"{data.day} is already a closed day of {code}.",
    )
    return await refresh_slots(session, location.id, clock, keep_over_capacity=keep_over_capacity)


@atomic
async def remove_closed_day(
    session: AsyncSession, code: str, day: dt.date, clock: Clock
) -> RegenerationReport:
    """Reopen a closed day (adds capacity, so it is never refused)."""
    location = await location_by_code(session, code)
    await session.execute(
        delete(ClosedDay).where(ClosedDay.location_id == location.id, ClosedDay.day == day)
    )
    return await refresh_slots(session, location.id, clock, keep_over_capacity=False)


@atomic
async def add_special_opening(
    session: AsyncSession,
    code: str,
    data: SpecialOpeningInput,
    clock: Clock,
    *,
    keep_over_capacity: bool,
) -> RegenerationReport:
    """Open a location on a day it would be closed (休日開庁) and regenerate its slots."""
    if data.closes_at <= data.opens_at:
        message = "Closing time must be after opening time."
        raise InvalidSetting(message)
    location = await location_by_code(session, code)
    if under_maintenance(await load_plan(session, location.id), data.day):
        message = (
            f"{data.day} is the national system's maintenance day: "
            "no card can be issued, so the counter cannot open."
        )
        raise InvalidSetting(message)
    await _insert_once(
        session,
        SpecialOpening(location_id=location.id, **msgspec.structs.asdict(data)),
        f"{data.day} already has a special opening at {code}.",
    )
    return await refresh_slots(session, location.id, clock, keep_over_capacity=keep_over_capacity)


@atomic
async def remove_special_opening(
    session: AsyncSession, code: str, day: dt.date, clock: Clock, *, keep_over_capacity: bool
) -> RegenerationReport:
    """Cancel a special opening; refused while it has bookings, unless kept over capacity."""
    location = await location_by_code(session, code)
    await session.execute(
        delete(SpecialOpening).where(
            SpecialOpening.location_id == location.id, SpecialOpening.day == day
        )
    )
    return await refresh_slots(session, location.id, clock, keep_over_capacity=keep_over_capacity)


async def _insert_once(session: AsyncSession, row: ClosedDay | SpecialOpening, clash: str) -> None:
    # The unique constraint decides (two staff adding the same day at once cannot both
    # succeed); a savepoint keeps the surrounding transaction usable after the clash.
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise SettingConflict(clash) from None


async def location_settings(session: AsyncSession, code: str, clock: Clock) -> LocationSettings:
    """Every setting of a location; closed days and special openings from today on."""
    location = await location_by_code(session, code)
    rules = await rules_of(session, location.id)
    hours = await session.scalars(
        select(OpeningHours)
        .where(OpeningHours.location_id == location.id)
        .order_by(OpeningHours.weekday)
    )
    bands = await session.scalars(
        select(TimeBand).where(TimeBand.location_id == location.id).order_by(TimeBand.starts_at)
    )
    closed = await session.scalars(
        select(ClosedDay)
        .where(ClosedDay.location_id == location.id, ClosedDay.day >= clock.today)
        .order_by(ClosedDay.day)
    )
    specials = await session.scalars(
        select(SpecialOpening)
        .where(SpecialOpening.location_id == location.id, SpecialOpening.day >= clock.today)
        .order_by(SpecialOpening.day)
    )
    return LocationSettings(
        location=location_view(location),
        rules=rules_view(rules),
        hours=[
            DayHours(weekday=h.weekday, opens_at=h.opens_at, closes_at=h.closes_at) for h in hours
        ],
        bands=[
            BandInput(starts_at=b.starts_at, ends_at=b.ends_at, windows=b.windows) for b in bands
        ],
        closed_days=[ClosedDayView(day=c.day, kind=c.kind, reason=c.reason) for c in closed],
        special_openings=[
            SpecialOpeningView(
                day=s.day,
                opens_at=s.opens_at,
                closes_at=s.closes_at,
                windows=s.windows,
                reason=s.reason,
            )
            for s in specials
        ],
    )
