"""What the resident pages need from the booking engine.

The pages never decide a booking rule: they call a :class:`ResidentBookingPort` and show
what it answers. ``web.resident.engine.EngineBookingPort`` implements it over
``api/reservation/booking`` (and the places availability). Every refusal is a
:class:`Refusal` with a stable ``code`` that the pages turn into a message saying what to
do next; the rules the messages quote (deadlines, household size, lockout) are the
engine's, as :class:`SiteRules`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

import msgspec

DayStatus = Literal["free", "few", "full", "closed"]
RefusalCode = Literal[
    "invalid_credentials",  # unknown ID or wrong password (one generic answer)
    "locked",  # too many wrong passwords: wait until `until`
    "rate_limited",  # too many attempts from this client
    "not_eligible",  # revoked or expired card: call the counter
    "already_booked",  # this ID (or a member's) already holds an active booking
    "slot_full",  # the time was taken meanwhile: pick another
    "slot_unavailable",  # outside the booking window, or closed
    "deadline_passed",  # too late to change or cancel online: call the counter
    "not_found",  # no such booking for this resident
    "household_too_large",  # more members than one booking may carry
    "duplicate_member",  # the same ID twice in one booking
    "not_logged_in",  # the session ended (logged out elsewhere, or expired)
]


class Refusal(Exception):
    """The booking engine said no; ``code`` tells the page which message to show."""

    def __init__(self, code: RefusalCode, *, until: dt.datetime | None = None) -> None:
        super().__init__(code)
        self.code: RefusalCode = code
        self.until = until


class SiteRules(msgspec.Struct, frozen=True, kw_only=True):
    """The engine's rules as the pages quote them (for one place, or the defaults)."""

    opens_days_ahead: int
    closes_hours_before: int
    change_hours_before: int
    household_max: int
    lockout_threshold: int
    lockout_minutes: int


class Holder(msgspec.Struct, frozen=True):
    """The logged-in resident: reservation ID and the session generation of their login."""

    reservation_id: str
    generation: int


class Credentials(msgspec.Struct, frozen=True):
    """A reservation ID and its password, as typed by a resident."""

    reservation_id: str
    password: str


class LocationView(msgspec.Struct, frozen=True):
    """交付場所 as residents see it."""

    id: int
    name: str
    address: str
    access_notes: str
    map_url: str | None = None


class DayView(msgspec.Struct, frozen=True):
    """One day of a month calendar: how bookable it is."""

    day: dt.date
    status: DayStatus


class SlotView(msgspec.Struct, frozen=True):
    """One bookable time on one day, with the seats left for online booking."""

    id: int
    location_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    remaining: int


class BookingView(msgspec.Struct, frozen=True):
    """A resident's active booking."""

    confirmation_code: str
    location: LocationView
    slot: SlotView
    member_ids: tuple[str, ...]
    email: str | None
    can_change: bool
    change_deadline: dt.datetime | None = None


class ResidentBookingPort(Protocol):
    """The booking engine's services, as the pages call them (one port per request)."""

    async def login(self, credentials: Credentials) -> Holder:
        """Check the credentials (a logged password attempt); return who logged in."""
        ...

    async def is_current(self, holder: Holder) -> bool:
        """Whether the holder's session is still valid (no logout since the login)."""
        ...

    async def logout(self, holder: Holder) -> None:
        """End every session of the holder's reservation ID."""
        ...

    async def check_member(self, credentials: Credentials) -> str:
        """Check a household member's credentials (same limits and log as login).

        Return the member's reservation ID; refuse one who already holds a booking.
        """
        ...

    async def rules(self, location_id: int | None) -> SiteRules:
        """The booking rules of a place (the engine's defaults when none is chosen)."""
        ...

    async def locations(self) -> list[LocationView]:
        """The places residents can book, in display order."""
        ...

    async def location(self, location_id: int) -> LocationView | None:
        """One place, or None."""
        ...

    async def month(self, location_id: int, first_day: dt.date, party_size: int) -> list[DayView]:
        """Every day of the month that starts at ``first_day``, with its availability."""
        ...

    async def day_slots(self, location_id: int, day: dt.date, party_size: int) -> list[SlotView]:
        """The times of one day that can still take ``party_size`` people online."""
        ...

    async def slot(self, slot_id: int) -> SlotView | None:
        """One slot, or None."""
        ...

    async def booking_of(self, reservation_id: str) -> BookingView | None:
        """The active booking that ``reservation_id`` holds or belongs to, if any."""
        ...

    async def book(
        self, holder: Holder, member_ids: list[str], slot_id: int, email: str | None
    ) -> BookingView:
        """Book ``slot_id`` for the holder and the (verified) members, all or nothing."""
        ...

    async def change(self, holder: Holder, confirmation_code: str, slot_id: int) -> BookingView:
        """Move the holder's booking to another slot (same party)."""
        ...

    async def cancel(self, holder: Holder, confirmation_code: str) -> None:
        """Cancel the holder's booking."""
        ...
