"""The booking surge's scenario: the office, its days and slots, the residents, the tally.

Both sides of ``bench.booking_surge`` (over HTTP and straight to SQL) play these same
residents through the same :class:`Client` protocol, so everything that must be equal on
both sides lives here: the figures of the scenario, who the residents are and what each
one wants, and what a run counts.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

PASSWORD_KEY = b"bench-password-key-0123456789abcdefgh"
TIME_ZONE = ZoneInfo("Asia/Tokyo")
LOCATION = "BENCH"
DAYS, SLOTS_PER_DAY, HOT_DAYS = 20, 16, 3
ONLINE_CAPACITY, STAFF_CAPACITY = 10, 2
HOT_SHARE, HOUSEHOLD_SHARE = 0.8, 0.1
TRIES, LOOKS = 3, 5  # booking attempts and day views per resident, at most
WORKERS, POOL_PER_WORKER = 2, 16
LOGIN_RATE_LIMIT, LOCKOUT_THRESHOLD, LOCKOUT_MINUTES, ALARM = 30, 5, 30, 100


@dataclass(frozen=True)
class Resident:
    """One resident: their credentials, their household member's if any, the days they want."""

    number: int
    reservation_id: str
    password: str
    member: tuple[str, str] | None
    days: tuple[dt.date, ...]  # in order of preference

    @property
    def address(self) -> str:
        """This resident's own client address (the per-client rate limit keys on it)."""
        n = self.number
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


@dataclass
class Tally:
    """What one run counts: bookings, residents who gave up, latencies, refusals, 5xx."""

    booked: int = 0
    gave_up: int = 0
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"login": [], "day": [], "book": []}
    )
    refusals: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0

    def refuse(self, code: str) -> None:
        """Count one refusal under ``code``."""
        self.refusals[code] = self.refusals.get(code, 0) + 1

    def every_latency(self) -> list[float]:
        """The latencies of every request, whatever its kind."""
        return [value for values in self.latencies.values() for value in values]


@dataclass(frozen=True)
class Slot:
    """One slot of a day as the resident sees it."""

    slot_id: int
    remaining: int
    bookable: bool


class Client(Protocol):
    """One resident's way to the zone: over HTTP, or straight to the database."""

    async def login(self, resident: Resident) -> str | None:
        """Log in; ``None`` on success, else the refusal code."""

    async def day(self, resident: Resident, day: dt.date) -> list[Slot]:
        """The slots of one day with remaining online places."""

    async def book(self, resident: Resident, slot_id: int) -> str | None:
        """Book (with the household member, if any); ``None`` on success, else the code."""


def reservation_id(number: int) -> str:
    """The reservation ID of eligibility ``number``."""
    return f"B{number // 1_000_000:02d}-{number % 1_000_000:06d}"


def password_of(number: int) -> str:
    """The password of eligibility ``number``: four digits."""
    return f"{number % 12 + 1:02d}{number % 28 + 1:02d}"


def opening_days() -> list[dt.date]:
    """The bookable days, in order: ``DAYS`` days from three days after today (Tokyo)."""
    first = dt.datetime.now(TIME_ZONE).date() + dt.timedelta(days=3)
    return [first + dt.timedelta(days=day) for day in range(DAYS)]


def residents(count: int, days: list[dt.date]) -> list[Resident]:
    """``count`` residents, the same on every call: eligibilities 1..count, members after.

    ``HOT_SHARE`` of them want the first ``HOT_DAYS`` days most; ``HOUSEHOLD_SHARE`` bring
    a household member (eligibility ``number + count``).
    """
    chance = random.Random(20261126)
    hot, cold = days[:HOT_DAYS], days[HOT_DAYS:]
    plan = []
    for number in range(1, count + 1):
        member = number + count
        if chance.random() < HOT_SHARE:
            preference = chance.sample(hot, len(hot)) + chance.sample(cold, len(cold))
        else:
            preference = chance.sample(days, len(days))
        plan.append(
            Resident(
                number=number,
                reservation_id=reservation_id(number),
                password=password_of(number),
                member=(reservation_id(member), password_of(member))
                if chance.random() < HOUSEHOLD_SHARE
                else None,
                days=tuple(preference),
            )
        )
    return plan
