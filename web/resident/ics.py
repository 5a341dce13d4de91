"""The booking as an iCalendar (RFC 5545) event, for residents' calendar apps."""

from __future__ import annotations

import datetime as dt

from web.i18n import N_, Language, gettext
from web.resident.port import BookingView
from web.resident.site import ResidentSiteConfig


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 §3.1), never inside a character."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return "\r\n ".join(out)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def booking_ics(
    booking: BookingView, *, site: ResidentSiteConfig, language: Language = "ja"
) -> bytes:
    """One VEVENT with the place, the confirmation code and what to bring."""
    summary = gettext(language, N_("My Number Card collection"))
    description = "\n".join(
        (
            gettext(language, N_("Confirmation code: %(code)s"), code=booking.confirmation_code),
            gettext(
                language,
                N_("Bring the letter (交付通知書) and identity documents for every person booked."),
            ),
            gettext(language, N_("Questions: %(phone)s"), phone=site.phone),
        )
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Madoguchi//Resident booking//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{booking.confirmation_code}@madoguchi",
        f"DTSTAMP:{_utc(dt.datetime.now(dt.UTC))}",
        f"DTSTART:{_utc(booking.slot.starts_at)}",
        f"DTEND:{_utc(booking.slot.ends_at)}",
        f"SUMMARY:{_escape(summary)}",
        f"LOCATION:{_escape(f'{booking.location.name} {booking.location.address}')}",
        f"DESCRIPTION:{_escape(description)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
