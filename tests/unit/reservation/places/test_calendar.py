"""The pure slot plan: opening hours, windows, closures and special openings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from api.reservation.places.calendar import (
    Band,
    LocationPlan,
    Opening,
    plan_day,
    plan_range,
    public_holidays,
    split_capacity,
    week_of_month,
)

TOKYO = ZoneInfo("Asia/Tokyo")
MORNING = Opening(dt.time(9, 0), dt.time(12, 0))


def plan(**changes: object) -> LocationPlan:
    values: dict[str, object] = {
        "slot_minutes": 30,
        "people_per_window": 2,
        "online_percent": 75,
        "default_windows": 2,
        "maintenance_sunday": 2,
        "hours": dict.fromkeys(range(7), MORNING),
    }
    values.update(changes)
    return LocationPlan(**values)  # type: ignore[arg-type]


def slots_on(location: LocationPlan, day: dt.date) -> int:
    return len(plan_day(location, day, TOKYO, public_holidays(day, day)))


def test_capacity_split_rounds_the_online_share_down() -> None:
    assert split_capacity(3, 2, 75) == (4, 2)
    assert split_capacity(1, 1, 50) == (0, 1)
    assert split_capacity(2, 2, 100) == (4, 0)


def test_a_morning_makes_six_half_hour_slots_with_the_band_windows() -> None:
    location = plan(bands=(Band(dt.time(10, 0), dt.time(11, 0), 4),))
    slots = plan_day(location, dt.date(2027, 1, 4), TOKYO, {})
    assert [slot.starts_at.time() for slot in slots][:3] == [
        dt.time(9, 0),
        dt.time(9, 30),
        dt.time(10, 0),
    ]
    assert len(slots) == 6
    # 09:00 default 2 windows x 2 people = 4 → 3 online, 1 staff; 10:00 band 4 windows → 8.
    assert (slots[0].online_capacity, slots[0].staff_capacity) == (3, 1)
    assert (slots[2].online_capacity, slots[2].staff_capacity) == (6, 2)


def test_a_slot_that_would_run_past_closing_is_not_made() -> None:
    location = plan(slot_minutes=40)
    assert slots_on(location, dt.date(2027, 1, 4)) == 4  # 9:00 … 11:00 (+40 = 11:40)


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (dt.date(2027, 1, 11), "成人の日"),
        (dt.date(2027, 1, 1), "元日"),
        (dt.date(2027, 1, 10), "second Sunday: national maintenance"),
    ],
)
def test_public_holidays_and_the_maintenance_sunday_have_no_slots(day: dt.date, why: str) -> None:
    assert slots_on(plan(), day) == 0, why


def test_other_sundays_open_and_holidays_can_be_kept_open() -> None:
    assert week_of_month(dt.date(2027, 1, 17)) == 3
    assert slots_on(plan(), dt.date(2027, 1, 17)) == 6
    assert slots_on(plan(closed_on_public_holidays=False), dt.date(2027, 1, 11)) == 6


def test_a_special_opening_does_not_open_a_maintenance_day() -> None:
    maintenance_sunday, maintenance_day = dt.date(2027, 1, 10), dt.date(2027, 1, 16)
    hours = Opening(dt.time(9, 0), dt.time(10, 0), 1)
    location = plan(
        maintenance_sunday=2,
        closed_days={maintenance_day: "J-LIS"},
        maintenance_days=frozenset({maintenance_day}),
        special_openings={maintenance_sunday: hours, maintenance_day: hours},
    )
    assert slots_on(location, maintenance_sunday) == 0
    assert slots_on(location, maintenance_day) == 0


def test_a_city_day_closes_and_a_special_opening_wins_over_holidays_and_city_days() -> None:
    city_day = dt.date(2027, 1, 5)
    holiday = dt.date(2027, 1, 11)
    location = plan(
        closed_days={city_day: "庁舎点検"},
        special_openings={holiday: Opening(dt.time(9, 0), dt.time(10, 0), 1)},
    )
    assert slots_on(location, city_day) == 0
    special = plan_day(location, holiday, TOKYO, public_holidays(holiday, holiday))
    assert [(slot.online_capacity, slot.staff_capacity) for slot in special] == [(1, 1), (1, 1)]


def test_a_band_with_no_window_makes_no_slot_and_weekdays_without_hours_are_closed() -> None:
    location = plan(hours={0: MORNING}, bands=(Band(dt.time(9, 0), dt.time(10, 0), 0),))
    monday, tuesday = dt.date(2027, 1, 4), dt.date(2027, 1, 5)
    assert slots_on(location, monday) == 4
    assert slots_on(location, tuesday) == 0
    assert len(list(plan_range(location, monday, tuesday, TOKYO))) == 4
