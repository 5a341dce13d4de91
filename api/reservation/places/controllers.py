"""Routes of places: public availability, and the settings staff manage (settings.manage)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from litestar import Controller, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.core.autocommit import autocommit
from api.reservation.booking.driver import DriverDb, driver_connection
from api.reservation.places.availability import day_slots, month_availability
from api.reservation.places.schemas import (
    ClosedDayInput,
    DaySlots,
    LocationInput,
    LocationPatch,
    LocationSettings,
    LocationView,
    MonthAvailability,
    Page,
    RegenerationReport,
    RulesPatch,
    SlotRange,
    SpecialOpeningInput,
    TimeBands,
    WeeklyHours,
)
from api.reservation.places.services import (
    Clock,
    InvalidSetting,
    add_closed_day,
    add_special_opening,
    create_location,
    list_locations,
    location_by_code,
    location_settings,
    location_view,
    remove_closed_day,
    remove_special_opening,
    replace_bands,
    replace_hours,
    update_location,
    update_rules,
)
from api.reservation.places.slots import regenerate_slots

SETTINGS_MANAGE: Final = {"permission": "settings.manage"}
PUBLIC: Final = {"public": True}
Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0)]
Month = Annotated[str, Parameter(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


def provide_clock(state: State) -> Clock:
    """The counters' time zone (from the zone's settings) and the current moment."""
    tz = state["settings"].tz
    return Clock(tz=tz, now=dt.datetime.now(tz))


_DEPENDENCIES: Final = {"clock": Provide(provide_clock, sync_to_thread=False)}


async def _location_page(session: AsyncSession, limit: int, offset: int) -> Page[LocationView]:
    rows, total = await list_locations(session, limit=limit, offset=offset)
    return Page(items=[location_view(row) for row in rows], total=total, limit=limit, offset=offset)


class AvailabilityController(Controller):
    """What residents see before logging in: locations, free days, free slots."""

    path = "/api/locations"
    tags = ["availability"]
    dependencies = _DEPENDENCIES

    @get("/", opt=PUBLIC)
    async def locations(
        self,
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[Offset] = 0,
    ) -> Page[LocationView]:
        """The locations residents can book, by code."""
        return await _location_page(db_session, limit, offset)

    @get("/{code:str}/availability", opt=PUBLIC)
    async def month(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        month: FromQuery[Month],
    ) -> MonthAvailability:
        """A month of days with remaining online places (``month=YYYY-MM``)."""
        year, number = (int(part) for part in month.split("-"))
        await autocommit(db_session)  # one read: no BEGIN and COMMIT round trips
        return await month_availability(db_session, code, year, number, tz=clock.tz, now=clock.now)

    @get("/{code:str}/days/{day:date}", opt=PUBLIC)
    async def day(
        self,
        state: State,
        db_engine: NamedDependency[AsyncEngine],
        code: FromPath[str],
        day: FromPath[dt.date],
    ) -> DaySlots:
        """The slots of a day with remaining online places and whether they can be booked."""
        # The page every resident reloads at opening time is one read, so it runs on the
        # asyncpg connection behind a pooled one, with no transaction (no BEGIN and COMMIT
        # round trips) and without the ORM session's machinery (see booking/driver.py).
        # The clock is made here, not injected: with one dependency Litestar needs no anyio
        # task group (two or more of one level get a task each, costlier than the work).
        clock = provide_clock(state)
        async with driver_connection(db_engine) as connection:
            return await day_slots(DriverDb(connection), code, day, tz=clock.tz, now=clock.now)


class PlacesSettingsController(Controller):
    """Locations, opening hours, windows, closed days, special openings and booking rules.

    Changes that lower capacity below existing bookings are refused (409 ``over_capacity``,
    listing the bookings) unless ``keep_over_capacity=true``.
    """

    path = "/api/staff/locations"
    tags = ["places settings"]
    dependencies = _DEPENDENCIES

    @get("/", opt=SETTINGS_MANAGE)
    async def list_all(
        self,
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[Offset] = 0,
    ) -> Page[LocationView]:
        """Every location, by code."""
        return await _location_page(db_session, limit, offset)

    @post("/", opt=SETTINGS_MANAGE)
    async def create(
        self, db_session: NamedDependency[AsyncSession], data: JSONBody[LocationInput]
    ) -> LocationView:
        """Create a location (with default rules and no opening hours yet)."""
        return location_view(await create_location(db_session, data))

    @get("/{code:str}", opt=SETTINGS_MANAGE)
    async def settings(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
    ) -> LocationSettings:
        """Every setting of one location."""
        return await location_settings(db_session, code, clock)

    @patch("/{code:str}", opt=SETTINGS_MANAGE)
    async def describe(
        self,
        db_session: NamedDependency[AsyncSession],
        code: FromPath[str],
        data: JSONBody[LocationPatch],
    ) -> LocationView:
        """Change the name, address, access notes or map link."""
        return location_view(await update_location(db_session, code, data))

    @patch("/{code:str}/rules", opt=SETTINGS_MANAGE)
    async def rules(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        data: JSONBody[RulesPatch],
        keep_over_capacity: FromQuery[bool] = False,
    ) -> RegenerationReport:
        """Change slot length, people per window, the online share, horizon and deadlines."""
        return await update_rules(
            db_session, code, data, clock, keep_over_capacity=keep_over_capacity
        )

    @put("/{code:str}/hours", opt=SETTINGS_MANAGE)
    async def hours(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        data: JSONBody[WeeklyHours],
        keep_over_capacity: FromQuery[bool] = False,
    ) -> RegenerationReport:
        """Replace the weekly opening hours."""
        return await replace_hours(
            db_session, code, data, clock, keep_over_capacity=keep_over_capacity
        )

    @put("/{code:str}/bands", opt=SETTINGS_MANAGE)
    async def bands(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        data: JSONBody[TimeBands],
        keep_over_capacity: FromQuery[bool] = False,
    ) -> RegenerationReport:
        """Replace the windows open per time band."""
        return await replace_bands(
            db_session, code, data, clock, keep_over_capacity=keep_over_capacity
        )

    @post("/{code:str}/closed-days", opt=SETTINGS_MANAGE, status_code=HTTP_200_OK)
    async def close_day(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        data: JSONBody[ClosedDayInput],
        keep_over_capacity: FromQuery[bool] = False,
    ) -> RegenerationReport:
        """Close the location on a day (the city's own day, or the system's maintenance)."""
        return await add_closed_day(
            db_session, code, data, clock, keep_over_capacity=keep_over_capacity
        )

    @delete("/{code:str}/closed-days/{day:date}", opt=SETTINGS_MANAGE, status_code=HTTP_200_OK)
    async def reopen_day(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        day: FromPath[dt.date],
    ) -> RegenerationReport:
        """Remove a closed day."""
        return await remove_closed_day(db_session, code, day, clock)

    @post("/{code:str}/special-openings", opt=SETTINGS_MANAGE, status_code=HTTP_200_OK)
    async def open_specially(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        data: JSONBody[SpecialOpeningInput],
        keep_over_capacity: FromQuery[bool] = False,
    ) -> RegenerationReport:
        """Add a special opening (休日開庁)."""
        return await add_special_opening(
            db_session, code, data, clock, keep_over_capacity=keep_over_capacity
        )

    @delete("/{code:str}/special-openings/{day:date}", opt=SETTINGS_MANAGE, status_code=HTTP_200_OK)
    async def cancel_special_opening(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        day: FromPath[dt.date],
        keep_over_capacity: FromQuery[bool] = False,
    ) -> RegenerationReport:
        """Remove a special opening (refused while it has bookings, unless kept)."""
        return await remove_special_opening(
            db_session, code, day, clock, keep_over_capacity=keep_over_capacity
        )

    @post("/{code:str}/slots", opt=SETTINGS_MANAGE, status_code=HTTP_200_OK)
    async def generate(
        self,
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        code: FromPath[str],
        data: JSONBody[SlotRange],
        keep_over_capacity: FromQuery[bool] = False,
    ) -> RegenerationReport:
        """Regenerate the slots of a date range from the settings (idempotent)."""
        if data.start < clock.today:
            message = "Past days keep their slots; start today or later."
            raise InvalidSetting(message)
        location = await location_by_code(db_session, code)
        return await regenerate_slots(
            db_session,
            location.id,
            data.start,
            data.end,
            tz=clock.tz,
            now=clock.now,
            keep_over_capacity=keep_over_capacity,
        )


def places_route_handlers() -> list[ControllerRouterHandler]:
    """The places routes, for the reservation app to register."""
    handlers: list[Any] = [AvailabilityController, PlacesSettingsController]
    return handlers
