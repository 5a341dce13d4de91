"""Version 1 records: what crosses between the zones, and nothing more.

Records ignore unknown fields so a newer minor writer stays readable; see
``sync_format/README.md`` for the evolution rules.
"""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

SCHEMA_VERSION = 1

ReservationId = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{3}-?[0-9]{6}$")]
# Birth month and day, MMDD: the resident's password (366 values, see DESIGN "Security").
Password = Annotated[str, msgspec.Meta(pattern=r"^(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$")]
ShipmentNo = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{1,20}$")]
ConfirmationCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{4,16}$")]
LocationCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z_-]{1,32}$")]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Memo = Annotated[str, msgspec.Meta(max_length=500)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Sequence = Annotated[int, msgspec.Meta(ge=1)]
HexDigest = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
FailureId = Annotated[str, msgspec.Meta(max_length=64)]
FailureReason = Annotated[str, msgspec.Meta(max_length=500)]

RevokeReason = Literal["issued", "returned", "cancelled", "expired", "other"]
ReservationStatus = Literal["booked", "changed", "cancelled"]
Channel = Literal["web", "phone"]


class EligibilityUpsert(msgspec.Struct, tag="eligibility_upsert", frozen=True, kw_only=True):
    """Let a reservation_id book: its password and shipment number (nothing personal)."""

    reservation_id: ReservationId
    password: Password
    shipment_no: ShipmentNo


class EligibilityRevoke(msgspec.Struct, tag="eligibility_revoke", frozen=True, kw_only=True):
    """Stop a reservation_id from booking, with a coded (never free-text) reason."""

    reservation_id: ReservationId
    reason: RevokeReason


class ReservationRecord(msgspec.Struct, tag="reservation", frozen=True, kw_only=True):
    """One booking as the reservation zone knows it, latest state wins."""

    confirmation_code: ConfirmationCode
    reservation_id: ReservationId
    location_code: LocationCode
    start: AwareDatetime
    end: AwareDatetime
    status: ReservationStatus
    email: Email | None = None
    companion_ids: Annotated[list[ReservationId], msgspec.Meta(max_length=20)] = []
    memo: Memo = ""
    channel: Channel = "web"
    updated_at: AwareDatetime


class Receipt(msgspec.Struct, tag="receipt", frozen=True, kw_only=True):
    """What a zone did with one bundle, identified by id, sequence and digest."""

    bundle_id: uuid.UUID
    sequence: Sequence
    digest: HexDigest
    imported: Count
    updated: Count
    ignored: Count
    failed: Count
    failures: list[tuple[FailureId, FailureReason]] = []


EligibilityRecord = EligibilityUpsert | EligibilityRevoke
Record = EligibilityUpsert | EligibilityRevoke | ReservationRecord | Receipt
BundleKind = Literal["eligibility", "reservations", "receipt"]

# The record types each kind of bundle may carry; the reader refuses anything else.
RECORD_TYPES: dict[str, tuple[type[Record], ...]] = {
    "eligibility": (EligibilityUpsert, EligibilityRevoke),
    "reservations": (ReservationRecord,),
    "receipt": (Receipt,),
}


def record_type_name(record_type: type[Record]) -> str:
    """Return the wire tag of a record type, used as its key in header record counts."""
    tag = record_type.__struct_config__.tag
    assert isinstance(tag, str)
    return tag
