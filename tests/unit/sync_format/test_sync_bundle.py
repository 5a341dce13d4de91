"""Bundle files: round trips, and one refusal test per reason."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_format import (
    BadMagic,
    BadSignature,
    BundleHeader,
    DigestMismatch,
    EligibilityRevoke,
    EligibilityUpsert,
    KeyFileError,
    MalformedHeader,
    MalformedRecord,
    Receipt,
    RotationRefused,
    SizeCapExceeded,
    SyncFormatError,
    Tampered,
    Truncated,
    TrustStore,
    UnknownSigner,
    UnsupportedVersion,
    WrongRecipient,
    ZoneSecretKeys,
    inspect_bundle,
    open_bundle,
    write_bundle,
)
from sync_format.header import MAGIC, MAX_HEADER_BYTES, MAX_PADDING_BYTES, PRELUDE
from sync_format.stream import (
    CHUNK_SIZE,
    MAX_FRAME_BYTES,
    StreamEncryptor,
    ciphertext_length,
    decrypt_stream,
)
from tests.unit.sync_format.sync_support import (
    Zones,
    forge,
    frames,
    reservation,
    upserts,
    write_eligibility,
)

# A raw eligibility_upsert record as it travels: [tag, reservation_id, password, shipment_no].
UPSERT = [1, "ABC123456", "0101", "S1"]


def _open(path: Path, zones: Zones) -> list[object]:
    bundle = open_bundle(path, recipient=zones.reservation, trusted=zones.trusted_by_reservation())
    return list(bundle.records())


def test_eligibility_bundle_round_trips_records_and_header(zones: Zones, tmp_path: Path) -> None:
    records = [*upserts(6000), EligibilityRevoke(reservation_id="XYZ-000001", reason="issued")]
    path = tmp_path / "e.bundle"
    header = write_bundle(
        path,
        kind="eligibility",
        records=iter(records),
        sender=zones.issuance,
        recipient=zones.reservation.public(),
        sequence=7,
        mode="delta",
        base_sequence=6,
        frame_records=2000,
    )
    bundle = open_bundle(path, recipient=zones.reservation, trusted=zones.trusted_by_reservation())
    assert bundle.header == header
    assert header.record_counts == {"eligibility_upsert": 6000, "eligibility_revoke": 1}
    assert (header.source_zone, header.target_zone) == ("issuance", "reservation")
    assert (header.sequence, header.mode, header.base_sequence) == (7, "delta", 6)
    assert header.payload_length > 2 * CHUNK_SIZE
    assert list(bundle.records()) == records
    assert [len(batch) for batch in bundle.batches()] == [2000, 2000, 2000, 1]
    assert len(bundle.digest) == 64


@pytest.mark.parametrize("kind", ["reservations", "receipt"])
def test_reservation_and_receipt_bundles_round_trip(
    zones: Zones, tmp_path: Path, kind: str
) -> None:
    records: list[object]
    if kind == "reservations":
        records = [reservation(index) for index in range(50)]
    else:
        failures = [("ABC123456", "unknown reservation_id")]
        records = [
            Receipt(
                bundle_id=uuid.uuid4(),
                sequence=3,
                digest="0" * 64,
                imported=1,
                updated=2,
                ignored=0,
                failed=1,
                failures=failures,
            )
        ]
    path = tmp_path / "r.bundle"
    write_bundle(
        path,
        kind=kind,
        records=records,
        sender=zones.reservation,  # type: ignore[arg-type]
        recipient=zones.issuance.public(),
        sequence=1,
    )
    bundle = open_bundle(path, recipient=zones.issuance, trusted=zones.trusted_by_issuance())
    assert list(bundle.records()) == records


def test_empty_bundle_round_trips(zones: Zones, tmp_path: Path) -> None:
    path = write_eligibility(tmp_path / "empty.bundle", zones, [])
    assert _open(path, zones) == []


def test_writer_refuses_records_of_another_kind(zones: Zones, tmp_path: Path) -> None:
    path = tmp_path / "mixed.bundle"
    with pytest.raises(TypeError, match="cannot hold"):
        write_eligibility(path, zones, [reservation(1)])  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_writer_stopped_after_several_frames_leaves_nothing(zones: Zones, tmp_path: Path) -> None:
    # The refusal comes while the helper thread is hashing and writing earlier frames.
    records: list[object] = [*upserts(5000), reservation(1)]
    with pytest.raises(TypeError, match="ReservationRecord"):
        write_eligibility(tmp_path / "late.bundle", zones, records, frame_records=1000)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=40, deadline=None)
@given(pieces=st.lists(st.integers(0, 3 * CHUNK_SIZE), max_size=6))
def test_stream_round_trips_however_the_plaintext_is_split(pieces: list[int]) -> None:
    key = bytes(range(32))
    plaintext = bytes(index % 251 for index in range(sum(pieces)))
    sink = io.BytesIO()
    encryptor = StreamEncryptor(key, sink)
    offset = 0
    for size in pieces:
        encryptor.write(bytearray(plaintext[offset : offset + size]))
        offset += size
    encryptor.finish(b"header hash")
    sealed = sink.getvalue()
    assert len(sealed) == ciphertext_length(len(plaintext))
    digest = hashlib.sha256(plaintext).hexdigest()
    chunks = decrypt_stream(io.BytesIO(sealed), key, len(plaintext), digest, b"header hash")
    assert b"".join(chunks) == plaintext


def test_envelope_is_written_into_reserved_space_with_zero_padding(
    zones: Zones, small_bundle: bytes
) -> None:
    _major, header_length, padding = PRELUDE.unpack_from(small_bundle, len(MAGIC))
    start = len(MAGIC) + PRELUDE.size + header_length
    assert 0 < padding <= MAX_PADDING_BYTES
    assert small_bundle[start : start + padding] == bytes(padding)


def test_writer_leaves_only_the_bundle_and_no_plaintext_on_disk(
    zones: Zones, tmp_path: Path
) -> None:
    path = write_eligibility(tmp_path / "e.bundle", zones, upserts(500))
    assert list(tmp_path.iterdir()) == [path]
    data = path.read_bytes()
    assert b"S00000123" not in data
    assert b"A00000123" not in data


def test_writer_refuses_to_overwrite(zones: Zones, tmp_path: Path) -> None:
    path = write_eligibility(tmp_path / "e.bundle", zones, upserts(1))
    with pytest.raises(FileExistsError):
        write_eligibility(path, zones, upserts(1))


def test_not_a_bundle_is_bad_magic(zones: Zones, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"reservation_id,password\nABC123456,0101\n")
    with pytest.raises(BadMagic):
        _open(path, zones)


def test_unknown_major_version_is_refused(
    zones: Zones, tmp_path: Path, small_bundle: bytes
) -> None:
    data = bytearray(small_bundle)
    data[len(MAGIC) : len(MAGIC) + 2] = (2).to_bytes(2, "big")
    (path := tmp_path / "v2.bundle").write_bytes(data)
    with pytest.raises(UnsupportedVersion, match="major version 2"):
        _open(path, zones)


def test_unknown_required_capability_is_refused_even_when_signed(
    zones: Zones, tmp_path: Path
) -> None:
    path = forge(
        tmp_path / "c.bundle",
        zones,
        frames([UPSERT]),
        header_changes={"required_capabilities": ["zstd-payload"]},
    )
    with pytest.raises(UnsupportedVersion, match="zstd-payload"):
        _open(path, zones)


def test_unknown_schema_version_is_refused(zones: Zones, tmp_path: Path) -> None:
    path = forge(
        tmp_path / "s.bundle", zones, frames([UPSERT]), header_changes={"schema_version": 2}
    )
    with pytest.raises(UnsupportedVersion, match="schema version 2"):
        _open(path, zones)


def test_unknown_header_field_is_refused(zones: Zones, tmp_path: Path) -> None:
    path = forge(tmp_path / "h.bundle", zones, frames([UPSERT]), header_changes={"extra": 1})
    with pytest.raises(MalformedHeader):
        _open(path, zones)


def test_delta_without_base_is_refused(zones: Zones, tmp_path: Path) -> None:
    path = forge(tmp_path / "d.bundle", zones, frames([UPSERT]), header_changes={"mode": "delta"})
    with pytest.raises(MalformedHeader, match="base sequence"):
        _open(path, zones)


@pytest.mark.parametrize("cut", [0, 5, len(MAGIC) + 3, 200, -1, -CHUNK_SIZE - 20])
def test_truncated_file_is_refused(
    zones: Zones, tmp_path: Path, small_bundle: bytes, cut: int
) -> None:
    (path := tmp_path / "t.bundle").write_bytes(small_bundle[:cut])
    with pytest.raises(Truncated):
        _open(path, zones)


def test_changed_payload_byte_is_tampered(
    zones: Zones, tmp_path: Path, small_bundle: bytes
) -> None:
    data = bytearray(small_bundle)
    data[-100] ^= 0x01
    (path := tmp_path / "p.bundle").write_bytes(data)
    with pytest.raises(Tampered):
        _open(path, zones)


def test_reordered_chunks_are_tampered(zones: Zones, tmp_path: Path, small_bundle: bytes) -> None:
    sealed = CHUNK_SIZE + 16
    end = len(small_bundle)
    start = end - sealed * 2 - 200  # well inside the payload: swap two whole-chunk spans
    data = small_bundle[:start] + small_bundle[start + sealed : start + 2 * sealed]
    data += small_bundle[start : start + sealed] + small_bundle[start + 2 * sealed :]
    assert len(data) == end
    (path := tmp_path / "o.bundle").write_bytes(data)
    with pytest.raises(Tampered):
        _open(path, zones)


def test_appended_bytes_are_tampered(zones: Zones, tmp_path: Path, small_bundle: bytes) -> None:
    (path := tmp_path / "a.bundle").write_bytes(small_bundle + b"\x00")
    with pytest.raises(Tampered):
        _open(path, zones)


def test_signed_digest_that_does_not_match_is_refused(zones: Zones, tmp_path: Path) -> None:
    path = forge(
        tmp_path / "g.bundle", zones, frames([UPSERT]), header_changes={"payload_sha256": "0" * 64}
    )
    with pytest.raises(DigestMismatch):
        _open(path, zones)


def test_bundle_signed_by_an_unpinned_key_is_refused(
    zones: Zones, small_bundle: bytes, tmp_path: Path
) -> None:
    (path := tmp_path / "u.bundle").write_bytes(small_bundle)
    stranger = TrustStore([ZoneSecretKeys.generate("issuance").public()])
    with pytest.raises(UnknownSigner):
        open_bundle(path, recipient=zones.reservation, trusted=stranger)


def test_changed_signature_is_bad_signature(
    zones: Zones, tmp_path: Path, small_bundle: bytes
) -> None:
    _major, header_length, padding = PRELUDE.unpack_from(small_bundle, len(MAGIC))
    data = bytearray(small_bundle)
    data[len(MAGIC) + PRELUDE.size + header_length + padding + 10] ^= 0x80
    (path := tmp_path / "b.bundle").write_bytes(data)
    with pytest.raises(BadSignature):
        _open(path, zones)


def test_bundle_for_another_zone_or_key_is_wrong_recipient(
    zones: Zones, tmp_path: Path, small_bundle: bytes
) -> None:
    (path := tmp_path / "w.bundle").write_bytes(small_bundle)
    other = ZoneSecretKeys.generate("reservation")
    with pytest.raises(WrongRecipient):
        open_bundle(path, recipient=other, trusted=zones.trusted_by_reservation())
    with pytest.raises(WrongRecipient):
        open_bundle(path, recipient=zones.issuance, trusted=zones.trusted_by_reservation())


def test_header_over_the_cap_is_refused_before_reading_it(zones: Zones, tmp_path: Path) -> None:
    (path := tmp_path / "big.bundle").write_bytes(MAGIC + PRELUDE.pack(1, MAX_HEADER_BYTES + 1, 0))
    with pytest.raises(SizeCapExceeded):
        _open(path, zones)


def test_padding_over_the_cap_is_refused_before_reading_it(zones: Zones, tmp_path: Path) -> None:
    prelude = PRELUDE.pack(1, 10, MAX_PADDING_BYTES + 1)
    (path := tmp_path / "pad.bundle").write_bytes(MAGIC + prelude)
    with pytest.raises(SizeCapExceeded, match="padding"):
        _open(path, zones)


def test_signed_padding_that_is_not_zeros_is_refused(zones: Zones, tmp_path: Path) -> None:
    path = forge(tmp_path / "z.bundle", zones, frames([UPSERT]), padding=b"\x00\x07")
    with pytest.raises(MalformedHeader, match="padding"):
        _open(path, zones)


def test_frame_over_the_cap_is_refused(zones: Zones, tmp_path: Path) -> None:
    plaintext = (MAX_FRAME_BYTES + 1).to_bytes(4, "big") + b"\x90"
    path = forge(tmp_path / "f.bundle", zones, plaintext)
    with pytest.raises(SizeCapExceeded):
        _open(path, zones)


def test_payload_length_over_the_cap_is_refused(zones: Zones, tmp_path: Path) -> None:
    path = forge(
        tmp_path / "l.bundle", zones, frames([UPSERT]), header_changes={"payload_length": 2**40}
    )
    with pytest.raises(SizeCapExceeded):
        _open(path, zones)


def test_invalid_record_in_an_authentic_payload_is_malformed(zones: Zones, tmp_path: Path) -> None:
    bad = [1, "ABC123456", "1399", "S1"]
    path = forge(
        tmp_path / "m.bundle", zones, frames([UPSERT, bad]), counts={"eligibility_upsert": 2}
    )
    bundle = open_bundle(path, recipient=zones.reservation, trusted=zones.trusted_by_reservation())
    with pytest.raises(MalformedRecord, match="password"):
        list(bundle.records())


def test_record_count_differing_from_the_header_is_malformed(zones: Zones, tmp_path: Path) -> None:
    path = forge(tmp_path / "n.bundle", zones, frames([UPSERT]), counts={"eligibility_upsert": 2})
    with pytest.raises(MalformedRecord, match="records"):
        _open(path, zones)


def test_partial_frame_at_the_end_is_malformed(zones: Zones, tmp_path: Path) -> None:
    path = forge(tmp_path / "q.bundle", zones, frames([UPSERT]) + b"\x00\x00")
    with pytest.raises(MalformedRecord):
        _open(path, zones)


def test_file_replaced_after_verification_is_refused_while_reading(
    zones: Zones, tmp_path: Path
) -> None:
    path = write_eligibility(tmp_path / "e.bundle", zones, upserts(10))
    bundle = open_bundle(path, recipient=zones.reservation, trusted=zones.trusted_by_reservation())
    path.unlink()
    write_eligibility(path, zones, upserts(10, start=100))
    with pytest.raises(Tampered, match="changed"):
        list(bundle.records())


def test_inspect_reports_header_and_verification_without_applying(
    zones: Zones, tmp_path: Path, small_bundle: bytes
) -> None:
    (path := tmp_path / "i.bundle").write_bytes(small_bundle)
    unverified = inspect_bundle(path)
    assert unverified.header is not None
    assert unverified.header.record_counts["eligibility_upsert"] == 6000
    assert not unverified.signature_verified
    assert (
        unverified.sender_fingerprint
        == zones.issuance.public().signing_key_id[:4].upper()
        + (unverified.sender_fingerprint or "")[4:]
    )
    full = inspect_bundle(path, zones.trusted_by_reservation(), zones.reservation)
    assert (full.signature_verified, full.payload_verified, full.exit_code) == (True, True, 0)
    assert full.signer_zone == "issuance"
    refused = inspect_bundle(path, TrustStore(), zones.reservation)
    assert refused.error is UnknownSigner
    assert refused.exit_code == UnknownSigner.exit_code


def test_every_refusal_has_its_own_exit_code() -> None:
    classes = [
        BadMagic,
        UnsupportedVersion,
        Truncated,
        Tampered,
        DigestMismatch,
        UnknownSigner,
        BadSignature,
        WrongRecipient,
        SizeCapExceeded,
        MalformedHeader,
        MalformedRecord,
        KeyFileError,
        RotationRefused,
        SyncFormatError,
    ]
    codes = [error.exit_code for error in classes]
    assert len(set(codes)) == len(codes)
    assert all(issubclass(error, SyncFormatError) for error in classes)
    assert all(code not in {0, 1, 2} for code in codes)  # 1 and 2 are click's own


def test_header_validation_matches_msgspec_types(zones: Zones) -> None:
    # The header type is strict: its JSON schema forbids additional properties.
    schema = msgspec.json.schema(BundleHeader)
    assert schema["$defs"]["BundleHeader"]["additionalProperties"] is False
    assert EligibilityUpsert.__struct_config__.forbid_unknown_fields is False
    assert EligibilityUpsert.__struct_config__.array_like is True
