"""v1 records: privacy of the eligibility record, constraints, forward compatibility."""

from __future__ import annotations

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


def test_eligibility_decoding_drops_personal_fields_a_writer_might_add() -> None:
    sneaky = {
        "type": "eligibility_upsert",
        "reservation_id": "ABC123456",
        "password": "0229",
        "shipment_no": "X1",
        "name": "山田太郎",
        "birth_date": "1990-02-29",
    }
    (record,) = ELIGIBILITY.decode(msgspec.msgpack.encode([sneaky]))
    assert msgspec.to_builtins(record) == {
        "type": "eligibility_upsert",
        "reservation_id": "ABC123456",
        "password": "0229",
        "shipment_no": "X1",
    }


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
    raw = {"type": "eligibility_upsert", "reservation_id": "ABC-123456", "password": "1231"}
    raw["shipment_no"] = "S1"
    raw[field] = value
    with pytest.raises(msgspec.ValidationError):
        ELIGIBILITY.decode(msgspec.msgpack.encode([raw]))


def test_reservation_times_must_be_timezone_aware() -> None:
    raw = msgspec.to_builtins(reservation(1))
    raw["start"] = "2026-04-01T09:00:00"
    with pytest.raises(msgspec.ValidationError, match="timezone"):
        msgspec.convert(raw, ReservationRecord)


def test_unknown_enum_value_is_refused_within_a_major_version() -> None:
    raw = msgspec.to_builtins(reservation(1))
    raw["status"] = "no_show"
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(raw, ReservationRecord)


def test_records_ignore_unknown_fields_from_newer_minor_writers() -> None:
    raw = msgspec.to_builtins(reservation(2))
    raw["preferred_language"] = "ja"
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
