"""Request and response bodies of the resident API and of phone booking."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

ReservationIdText = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
PasswordText = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
ShipmentText = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
# Line breaks and tabs are text; other C0 control characters are refused (no CSV reader
# takes them back).
Memo = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
SlotId = Annotated[int, msgspec.Meta(ge=1)]
Share = Literal["online", "staff"]
CancelReason = Annotated[str, msgspec.Meta(max_length=200)]


class ResidentLoginInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A resident's login: the reservation ID and the password (birth month-day, MMDD)."""

    reservation_id: ReservationIdText
    password: PasswordText


class MemberCredentials(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A household member booked along: their own reservation ID and password."""

    reservation_id: ReservationIdText
    password: PasswordText


class ResidentBookingInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Book a slot for the logged-in resident and, optionally, household members."""

    slot_id: SlotId
    members: Annotated[list[MemberCredentials], msgspec.Meta(max_length=19)] = []
    email: Email | None = None
    memo: Memo = ""


class ChangeInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Move a booking to another slot (all or nothing)."""

    slot_id: SlotId


class CallerMember(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One person a caller books for, as read out on the phone."""

    reservation_id: ReservationIdText
    shipment_no: ShipmentText


class PhoneBookingInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A phone booking: the caller first, then household members."""

    slot_id: SlotId
    members: Annotated[list[CallerMember], msgspec.Meta(min_length=1, max_length=20)]
    share: Share = "staff"
    email: Email | None = None
    memo: Memo = ""


class PhoneChangeInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Staff move a booking to another slot, from the staff share unless told otherwise."""

    slot_id: SlotId
    share: Share = "staff"


class CancelInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Why a booking is cancelled (optional)."""

    reason: CancelReason = ""


class BookingView(msgspec.Struct, frozen=True, kw_only=True):
    """One booking as residents and staff see it."""

    confirmation_code: str  # shown as ``K7QX-M3PA``
    status: str
    slot_id: int
    location_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    members: list[str]
    party_size: int
    channel: str
    share: str
    email: str | None
    memo: str


class ResidentLoginResult(msgspec.Struct, frozen=True, kw_only=True):
    """A successful login: the session token (also set as a cookie) and the booking if any."""

    reservation_id: str
    session_token: str
    expires_at: dt.datetime
    booking: BookingView | None


class UnlockResult(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a lockout was lifted."""

    reservation_id: str
    unlocked: bool
