"""v1 records: privacy of the eligibility record, constraints, forward compatibility."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_format import EligibilityRevoke, EligibilityUpsert, Receipt, ReservationRecord
from sync_format.v1.records import RECORD_TYPES, record_type_name
from tests.unit.sync_format.sync_support import (
    receipt_records,
    reservation,
    reservation_records,
    revoke_records,
    upsert_records,
)

ELIGIBILITY = msgspec.msgpack.Decoder(list[EligibilityUpsert | EligibilityRevoke])
PERSONAL_WORDS = ("name", "birth", "address", "sex", "certificate", "application", "kana")


def test_eligibility_upsert_has_exactly_the_three_pseudonymous_fields() -> None:
    assert EligibilityUpsert.__struct_fields__ == ("reservation_id", "password", "shipment_no")


@pytest.mark.parametrize("record_type", [EligibilityUpsert, EligibilityRevoke])
def test_eligibility_records_have_no_field_for_personal_data(record_type: type) -> None:
    for field in record_type.__struct_fields__:
        assert not any(word in field for word in PERSONAL_WORDS), field


def _raw(record: object) -> list[Any]:
    """A record as it travels: [tag, field, ...]."""
    raw = msgspec.to_builtins(record)
    assert isinstance(raw, list)
    return raw


def _at(record_type: type, field: str) -> int:
    return 1 + record_type.__struct_fields__.index(field)  # position 0 holds the tag


def test_records_travel_as_tagged_arrays_with_fixed_tags_and_field_order() -> None:
    # Changing a tag or the order of fields breaks every released bundle.
    expected = {
        EligibilityUpsert: (1, ("reservation_id", "password", "shipment_no")),
        EligibilityRevoke: (2, ("reservation_id", "reason")),
        ReservationRecord: (
            3,
            (
                "confirmation_code",
                "reservation_id",
                "location_code",
                "start",
                "end",
                "status",
                "email",
                "companion_ids",
                "memo",
                "channel",
                "updated_at",
            ),
        ),
        Receipt: (
            4,
            ("bundle_id", "sequence", "digest", "imported", "updated", "ignored", "failed"),
        ),
    }
    for record_type, (tag, fields) in expected.items():
        config = record_type.__struct_config__
        assert (config.tag, config.array_like, config.forbid_unknown_fields) == (tag, True, False)
        assert record_type.__struct_fields__[: len(fields)] == fields
    assert Receipt.__struct_fields__[-1] == "failures"
    upsert = EligibilityUpsert(reservation_id="ABC123456", password="0229", shipment_no="X1")
    assert msgspec.msgpack.encode(upsert) == b"\x94\x01\xa9ABC123456\xa40229\xa2X1"


def test_eligibility_decoding_drops_personal_fields_a_writer_might_add() -> None:
    sneaky = [1, "ABC123456", "0229", "X1", "山田太郎", "1990-02-29"]
    (record,) = ELIGIBILITY.decode(msgspec.msgpack.encode([sneaky]))
    assert record == EligibilityUpsert(
        reservation_id="ABC123456", password="0229", shipment_no="X1"
    )
    assert _raw(record) == [1, "ABC123456", "0229", "X1"]


class ReservationRecordV1Next(msgspec.Struct, tag=3, array_like=True, frozen=True, kw_only=True):
    """ReservationRecord as a later v1 minor might define it: one field appended."""

    confirmation_code: str
    reservation_id: str
    location_code: str
    start: datetime
    end: datetime
    status: str
    email: str | None = None
    companion_ids: list[str] = []
    memo: str = ""
    channel: str = "web"
    updated_at: datetime
    preferred_language: str = "ja"


def test_an_old_reader_reads_a_newer_record_with_an_extra_trailing_field() -> None:
    fields = msgspec.structs.asdict(reservation(2))
    encoded = msgspec.msgpack.encode([ReservationRecordV1Next(**fields, preferred_language="en")])
    (raw,) = msgspec.msgpack.decode(encoded)
    assert (raw[0], raw[-1], len(raw)) == (3, "en", 2 + len(ReservationRecord.__struct_fields__))
    assert msgspec.msgpack.decode(encoded, type=list[ReservationRecord]) == [reservation(2)]


def test_a_newer_reader_reads_an_old_record_with_the_default_for_the_new_field() -> None:
    encoded = msgspec.msgpack.encode([reservation(2)])
    (newer,) = msgspec.msgpack.decode(encoded, type=list[ReservationRecordV1Next])
    assert newer.preferred_language == "ja"
    assert newer.confirmation_code == reservation(2).confirmation_code


def test_a_record_missing_a_required_field_is_refused() -> None:
    short = _raw(reservation(1))[:-1]  # updated_at (required) missing
    with pytest.raises(msgspec.ValidationError, match="at least length"):
        msgspec.msgpack.decode(msgspec.msgpack.encode(short), type=ReservationRecord)


def test_receipt_round_trips_through_its_array_form() -> None:
    receipt = Receipt(
        bundle_id=uuid.UUID(int=7),
        sequence=2,
        digest="a" * 64,
        imported=1,
        updated=0,
        ignored=0,
        failed=1,
        failures=[("ABC123456", "unknown")],
    )
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(receipt), type=Receipt) == receipt


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reservation_id", "abc123456"),
        ("reservation_id", "ABC12345"),
        ("reservation_id", "ABC--123456"),
        ("password", "1301"),
        ("password", "0001"),
        ("password", "0132"),
        ("password", "229"),
        ("shipment_no", ""),
        ("shipment_no", "A" * 21),
        ("shipment_no", "A-1"),
    ],
)
def test_eligibility_constraints_refuse_bad_values(field: str, value: str) -> None:
    raw = [1, "ABC-123456", "1231", "S1"]
    raw[_at(EligibilityUpsert, field)] = value
    with pytest.raises(msgspec.ValidationError):
        ELIGIBILITY.decode(msgspec.msgpack.encode([raw]))


def test_reservation_times_must_be_timezone_aware() -> None:
    raw = _raw(reservation(1))
    raw[_at(ReservationRecord, "start")] = "2026-04-01T09:00:00"
    with pytest.raises(msgspec.ValidationError, match="timezone"):
        msgspec.convert(raw, ReservationRecord)


def test_unknown_enum_value_is_refused_within_a_major_version() -> None:
    raw = _raw(reservation(1))
    raw[_at(ReservationRecord, "status")] = "no_show"
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(raw, ReservationRecord)


def test_records_ignore_unknown_fields_from_newer_minor_writers() -> None:
    raw = [*_raw(reservation(2)), "ja", {"anything": 1}]
    assert msgspec.convert(raw, ReservationRecord) == reservation(2)


def test_every_kind_lists_its_record_tags() -> None:
    names = {kind: [record_type_name(t) for t in types] for kind, types in RECORD_TYPES.items()}
    assert names == {
        "eligibility": ["eligibility_upsert", "eligibility_revoke"],
        "reservations": ["reservation"],
        "receipt": ["receipt"],
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(upsert_records, revoke_records), max_size=20),
    st.lists(reservation_records, max_size=5),
    st.lists(receipt_records, max_size=3),
)
def test_encode_then_decode_is_identity(
    eligibility: list[EligibilityUpsert | EligibilityRevoke],
    reservations: list[ReservationRecord],
    receipts: list[Receipt],
) -> None:
    assert ELIGIBILITY.decode(msgspec.msgpack.encode(eligibility)) == eligibility
    decoded = msgspec.msgpack.decode(
        msgspec.msgpack.encode(reservations), type=list[ReservationRecord]
    )
    assert decoded == reservations
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(receipts), type=list[Receipt]) == receipts
