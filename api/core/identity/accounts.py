"""Pure rules about one staff account's state: may it act now, must it change its password.

Checked at login, at every request of a session and at every use of an access token, so
that an account disabled, locked or past its validity stops at once, wherever it acts.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Final

import msgspec

from api.core.identity.models import StaffAccountMixin
from api.core.settings import ZoneSettings

# A lock that only an administrator lifts (MADOGUCHI_STAFF_LOCKOUT_MINUTES=0).
LOCKED_UNTIL_UNLOCKED: Final = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


class Refusal(enum.StrEnum):
    """Why an account may not act now (the access log's reason)."""

    DISABLED = "disabled"
    LOCKED = "locked"
    NOT_YET_VALID = "not_yet_valid"
    NO_LONGER_VALID = "no_longer_valid"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is acting on a staff route: a logged-in member of staff or an access token.

    It has the access log's ``Actor`` attributes (``kind``, ``name``, ``terminal``).
    """

    kind: str  # "staff" (browser session) or "token"
    name: str  # the login ID
    terminal: str | None
    account_id: int
    display_name: str
    permissions: frozenset[str]
    token_id: int | None = None
    password_change_required: bool = False
    totp_enrolment_required: bool = False

    @property
    def setup_pending(self) -> bool:
        """Whether the account must change its password or enrol TOTP before anything else."""
        return self.password_change_required or self.totp_enrolment_required


def utc_now() -> dt.datetime:
    """The current time (UTC, aware)."""
    return dt.datetime.now(dt.UTC)


def refusal(
    account: StaffAccountMixin, *, now: dt.datetime, settings: ZoneSettings
) -> Refusal | None:
    """Why the account may not act at ``now``, or ``None`` when it may."""
    if account.disabled:
        return Refusal.DISABLED
    if account.locked_until is not None and account.locked_until > now:
        return Refusal.LOCKED
    # Validity dates are office days: compare in the counters' time zone.
    today = now.astimezone(settings.tz).date()
    if account.valid_from is not None and today < account.valid_from:
        return Refusal.NOT_YET_VALID
    if account.valid_until is not None and today > account.valid_until:
        return Refusal.NO_LONGER_VALID
    return None


def password_expires_at(account: StaffAccountMixin, settings: ZoneSettings) -> dt.datetime | None:
    """When the account's password must have been renewed; ``None`` when it never expires."""
    if settings.password_expiry_days == 0:
        return None
    return account.password_changed_at + dt.timedelta(days=settings.password_expiry_days)


def password_change_required(
    account: StaffAccountMixin, *, now: dt.datetime, settings: ZoneSettings
) -> bool:
    """Whether the account must change its password before anything else (first or expired)."""
    expires_at = password_expires_at(account, settings)
    return account.must_change_password or (expires_at is not None and now >= expires_at)


def password_expiry_warning(
    account: StaffAccountMixin, *, now: dt.datetime, settings: ZoneSettings
) -> bool:
    """Whether the password expires within the warning period (and has not yet expired)."""
    expires_at = password_expires_at(account, settings)
    if expires_at is None or settings.password_warning_days == 0:
        return False
    return expires_at - dt.timedelta(days=settings.password_warning_days) <= now < expires_at


def session_expired(data: dict[str, object], *, now: dt.datetime, settings: ZoneSettings) -> bool:
    """Whether a staff session passed its idle or absolute timeout.

    ``data`` holds ``login_at`` and ``seen_at`` as POSIX timestamps.
    """
    login_at = data.get("login_at")
    seen_at = data.get("seen_at")
    if not isinstance(login_at, int | float) or not isinstance(seen_at, int | float):
        return True
    moment = now.timestamp()
    return (
        moment - seen_at > settings.session_idle_minutes * 60
        or moment - login_at > settings.session_absolute_hours * 3600
    )
