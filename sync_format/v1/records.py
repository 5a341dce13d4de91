"""Version 1 records: what crosses between the zones, and nothing more.

On the wire a record is a MessagePack array: its integer tag, then its fields in
declaration order (msgspec ``array_like``). Fields are only ever appended, with defaults,
and readers ignore trailing items they do not know, so a newer minor writer stays
readable. See ``sync_format/README.md`` for the evolution rules.
"""

import operator
import re
import uuid
from collections.abc import Sequence as SequenceOf
from datetime import datetime
from typing import Annotated, ClassVar, Literal

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


class _Record(msgspec.Struct, array_like=True, frozen=True, kw_only=True):
    """Base of the v1 records: encoded as ``[tag, field, ...]``. Never reorder fields."""

    # The record's name in header record counts, messages and the operator CLI.
    type_name: ClassVar[str]


class EligibilityUpsert(_Record, tag=1, frozen=True, kw_only=True):
    """Let a reservation_id book: its password and shipment number (nothing personal)."""

    type_name: ClassVar[str] = "eligibility_upsert"
    reservation_id: ReservationId
    password: Password
    shipment_no: ShipmentNo


class EligibilityRevoke(_Record, tag=2, frozen=True, kw_only=True):
    """Stop a reservation_id from booking, with a coded (never free-text) reason."""

    type_name: ClassVar[str] = "eligibility_revoke"
    reservation_id: ReservationId
    reason: RevokeReason


class ReservationRecord(_Record, tag=3, frozen=True, kw_only=True):
    """One booking as the reservation zone knows it, latest state wins."""

    type_name: ClassVar[str] = "reservation"
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


class Receipt(_Record, tag=4, frozen=True, kw_only=True):
    """What a zone did with one bundle, identified by id, sequence and digest."""

    type_name: ClassVar[str] = "receipt"
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
    """Return a record type's name, its key in header record counts."""
    return record_type.type_name


def count_by_type(
    records: SequenceOf[object], types: tuple[type[Record], ...]
) -> tuple[list[int], int]:
    """Count records of each of types (exact type, in C loops); also return how many are left.

    Returns:
        The count per type, in the order of types, and the number of records of any other
        type (0 when every record is one of types).
    """
    counts: list[int] = []
    remaining = len(records)
    for record_type in types:
        found = operator.countOf(map(type, records), record_type) if remaining else 0
        counts.append(found)
        remaining -= found
    return counts, remaining


_ERROR_PATH = re.compile(r"`\$\[(\d+)\]\[(\d+)\]")


def explain_error(kind: str, frame: bytes, error: Exception) -> str:
    """Name the record and field a decode error points at (``$[3][2]`` says neither).

    Only called for a frame that failed to decode; falls back to the error's own words.
    """
    message = str(error)
    match = _ERROR_PATH.search(message)
    if match is None:
        return message
    index, position = int(match[1]), int(match[2])
    try:
        raw = msgspec.msgpack.decode(frame)[index]
        tag = raw[0]
    except (msgspec.DecodeError, ValueError, TypeError, IndexError, KeyError):
        return message
    for record_type in RECORD_TYPES[kind]:
        fields = record_type.__struct_fields__
        if record_type.__struct_config__.tag == tag and 1 <= position <= len(fields):
            name = f"{record_type.type_name}.{fields[position - 1]}"
            return f"record {index} ({name}): {message}"
    return message
