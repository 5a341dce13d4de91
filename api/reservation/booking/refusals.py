"""The distinct refusals of resident login and booking, each with a stable code.

Every one is a :class:`~api.core.errors.DomainError`, so it reaches the client in the
one JSON error shape with its own ``code``.
"""

from __future__ import annotations

from api.core.errors import DomainError


class LoginFailed(DomainError):
    """Unknown reservation ID or wrong password: one answer for both."""

    status_code = 401
    code = "login_failed"


class NotLoggedIn(DomainError):
    """No valid resident session (missing, expired, forged, or logged out)."""

    status_code = 401
    code = "not_logged_in"


class LockedOut(DomainError):
    """Too many failed logins for this reservation ID: locked for a while."""

    status_code = 423
    code = "locked_out"


class RateLimited(DomainError):
    """Too many password attempts from this client address."""

    status_code = 429
    code = "rate_limited"


class OutsideHorizon(DomainError):
    """Booking for the slot's day has not opened yet."""

    code = "outside_horizon"


class DeadlinePassed(DomainError):
    """Booking for the slot has closed (or the slot is in the past)."""

    code = "deadline_passed"


class ChangeDeadlinePassed(DomainError):
    """The booked slot is too close to change or cancel."""

    code = "change_deadline_passed"


class SlotFull(DomainError):
    """The slot's share of capacity has no room for the party."""

    code = "slot_full"


class SlotNotFound(DomainError):
    """No slot has this id."""

    status_code = 404
    code = "slot_not_found"


class AlreadyBooked(DomainError):
    """A member already has an active booking (one per reservation ID)."""

    code = "already_booked"


class Revoked(DomainError):
    """The resident's own eligibility was revoked (card issued, returned, cancelled, expired)."""

    status_code = 403
    code = "revoked"


class MemberRevoked(DomainError):
    """A member's eligibility was revoked (card issued, returned, cancelled, expired)."""

    code = "member_revoked"


class MemberLoginFailed(DomainError):
    """A household member's ID and password (or shipment number) do not match."""

    status_code = 422
    code = "member_login_failed"


class MemberLockedOut(DomainError):
    """A household member's ID is locked after failed attempts."""

    status_code = 423
    code = "member_locked_out"


class HouseholdTooLarge(DomainError):
    """More people than one booking may hold, or the same ID twice."""

    status_code = 422
    code = "household_invalid"


class NoBooking(DomainError):
    """No active booking matches."""

    status_code = 404
    code = "no_booking"


class SameSlot(DomainError):
    """A change to the slot the booking already has."""

    code = "same_slot"


class NotEligible(DomainError):
    """The reservation ID is unknown to staff lookups (phone bookings)."""

    status_code = 404
    code = "not_eligible"
