"""What each refusal of the booking engine tells the resident, and what to do next.

The numbers in the messages (lockout, deadlines, household size) are the engine's rules
(:class:`~web.resident.port.SiteRules`), never constants of the pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

from web.i18n import N_, Text, format_time
from web.resident.port import Refusal, RefusalCode, SiteRules

REFUSAL_TEXTS: Final[dict[RefusalCode, str]] = {
    "invalid_credentials": N_(
        "The reservation ID or the password is not correct. Check both against your letter "
        "and try again. After %(attempts)s wrong passwords the ID is locked for %(minutes)s "
        "minutes."
    ),
    "locked": N_(
        "Too many wrong passwords were entered for this reservation ID, so it is locked "
        "until %(time)s to protect you. Please try again after that time, or call "
        "%(phone)s."
    ),
    "rate_limited": N_(
        "Too many attempts came from your connection. Please wait a few minutes and try "
        "again, or call %(phone)s."
    ),
    "not_eligible": N_(
        "This reservation ID cannot be used to book online. Please call the counter on %(phone)s."
    ),
    "already_booked": N_(
        "This reservation ID already has a booking. To change it, log in with that ID and "
        "choose “Change the date or time”."
    ),
    "slot_full": N_(
        "Sorry, the time you chose has just been taken by someone else. Please choose another time."
    ),
    "slot_unavailable": N_("This time can no longer be booked online. Please choose another time."),
    "deadline_passed": N_(
        "Online changes and cancellations close %(hours)s hours before the appointment. "
        "Please call %(phone)s."
    ),
    "not_found": N_("No booking was found for your reservation ID. You can make a new booking."),
    "household_too_large": N_(
        "One booking can include up to %(count)s people. Please make another booking for "
        "the others."
    ),
    "duplicate_member": N_("This reservation ID is already part of this booking."),
    "not_logged_in": N_("Your session has ended. Please log in again."),
}


def refusal_text(refusal: Refusal, *, phone: str, tz: ZoneInfo, rules: SiteRules) -> Text:
    """The message for ``refusal``, with the time, phone number and rules filled in."""
    until = refusal.until or dt.datetime.now(tz)
    return Text(
        REFUSAL_TEXTS[refusal.code],
        {
            "phone": phone,
            "time": format_time(until.astimezone(tz)),
            "attempts": str(rules.lockout_threshold),
            "minutes": str(rules.lockout_minutes),
            "hours": str(rules.change_hours_before),
            "count": str(rules.household_max),
        },
    )
