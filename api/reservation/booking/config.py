"""Settings of resident login and booking, derived from the zone's settings.

The variables (``RESERVATION_PASSWORD_KEY``, ``RESERVATION_RESIDENT_SESSION_MINUTES``,
``RESERVATION_LOGIN_RATE_LIMIT``, ``RESERVATION_LOGIN_ALARM_FAILURES``) are read and
validated with every other setting in ``api/core/settings.py``.
"""

from __future__ import annotations

import functools

import msgspec

from api.core.secrets import read_or_create_secret
from api.core.settings import ZoneSettings


class BookingSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The validated settings of resident login and booking."""

    password_key: bytes
    session_minutes: int = 30
    login_rate_limit: int = 30
    alarm_failures_per_minute: int = 100
    # Fixed by the design (DESIGN "Security"): five failures lock an ID for 30 minutes.
    lockout_threshold: int = 5
    lockout_minutes: int = 30


def resolve_password_key(settings: ZoneSettings) -> bytes:
    """The configured password-verifier key, or one generated once into the zone's folder.

    Several replicas (and the eligibility import) must share one configured key: a
    verifier made under another key never matches.
    """
    if settings.password_key:
        return settings.password_key.encode()
    return read_or_create_secret(settings.zone_dir / "password_key").encode()


def load_booking_settings(settings: ZoneSettings) -> BookingSettings:
    """The booking settings of the zone's (already validated) settings."""
    return BookingSettings(
        password_key=resolve_password_key(settings),
        session_minutes=settings.resident_session_minutes,
        login_rate_limit=settings.login_rate_limit,
        alarm_failures_per_minute=settings.login_alarm_failures,
    )


@functools.cache
def cached_booking_settings(settings: ZoneSettings) -> BookingSettings:
    """The booking settings of a zone, read once per process."""
    return load_booking_settings(settings)
