"""Helpers and hypothesis strategies shared by the sync format tests (fixtures: conftest)."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from hypothesis import strategies as st

from sync_format import (
    EligibilityRevoke,
    EligibilityUpsert,
    Receipt,
    ReservationRecord,
    TrustStore,
    ZoneSecretKeys,
    write_bundle,
)
from sync_format.header import FORMAT_MAJOR, MAGIC, PRELUDE, SIGNATURE_CONTEXT
from sync_format.stream import FRAME_PREFIX, StreamEncryptor, sender_payload_key


@dataclass(frozen=True)
class Zones:
    """Both zones' keys and what each trusts, as after a normal key exchange."""

    issuance: ZoneSecretKeys
    reservation: ZoneSecretKeys

    def trusted_by_reservation(self) -> TrustStore:
        return TrustStore([self.issuance.public()])

    def trusted_by_issuance(self) -> TrustStore:
        return TrustStore([self.reservation.public()])


def upserts(count: int, start: int = 0) -> list[EligibilityUpsert]:
    return [
        EligibilityUpsert(
            reservation_id=f"A{index // 1_000_000:02d}{index % 1_000_000:06d}",
            password=f"{index % 12 + 1:02d}{index % 28 + 1:02d}",
            shipment_no=f"S{index:08d}",
        )
        for index in range(start, start + count)
    ]


def reservation(index: int = 0) -> ReservationRecord:
    start = datetime(2026, 4, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=15 * index)
    return ReservationRecord(
        confirmation_code=f"C{index:07d}",
        reservation_id=f"B00{index:06d}",
        location_code="city-hall",
        start=start,
        end=start + timedelta(minutes=15),
        status="booked",
        email="resident@example.jp" if index % 2 else None,
        companion_ids=[f"B01{index:06d}"] if index % 3 == 0 else [],
        memo="車いすを使います" if index % 5 == 0 else "",
        channel="phone" if index % 4 == 0 else "web",
        updated_at=start - timedelta(days=3),
    )


def write_eligibility(
    path: Path,
    zones: Zones,
    records: list[EligibilityUpsert | EligibilityRevoke],
    **options: object,
) -> Path:
    settings: dict[str, object] = {"sequence": 1}
    settings.update(options)
    write_bundle(
        path,
        kind="eligibility",
        records=records,
        sender=zones.issuance,
        recipient=zones.reservation.public(),
        **settings,  # type: ignore[arg-type]
    )
    return path


reservation_ids = st.from_regex(r"^[0-9A-Z]{3}-?[0-9]{6}$", fullmatch=True)
passwords = st.from_regex(r"^(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$", fullmatch=True)
shipment_numbers = st.from_regex(r"^[0-9A-Za-z]{1,20}$", fullmatch=True)
# hypothesis takes naive bounds and attaches the timezone itself.
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
upsert_records = st.builds(
    EligibilityUpsert,
    reservation_id=reservation_ids,
    password=passwords,
    shipment_no=shipment_numbers,
)
revoke_records = st.builds(
    EligibilityRevoke,
    reservation_id=reservation_ids,
    reason=st.sampled_from(["issued", "returned", "cancelled", "expired", "other"]),
)
reservation_records = st.builds(
    ReservationRecord,
    confirmation_code=st.from_regex(r"^[0-9A-Z]{4,16}$", fullmatch=True),
    reservation_id=reservation_ids,
    location_code=st.from_regex(r"^[0-9A-Za-z_-]{1,32}$", fullmatch=True),
    start=aware_datetimes,
    end=aware_datetimes,
    status=st.sampled_from(["booked", "changed", "cancelled"]),
    email=st.none() | st.emails().filter(lambda address: len(address) <= 254),
    companion_ids=st.lists(reservation_ids, max_size=5),
    memo=st.text(max_size=100),
    channel=st.sampled_from(["web", "phone"]),
    updated_at=aware_datetimes,
)
receipt_records = st.builds(
    Receipt,
    bundle_id=st.uuids(),
    sequence=st.integers(min_value=1, max_value=2**40),
    digest=st.from_regex(r"^[0-9a-f]{64}$", fullmatch=True),
    imported=st.integers(min_value=0, max_value=10**7),
    updated=st.integers(min_value=0, max_value=10**7),
    ignored=st.integers(min_value=0, max_value=10**7),
    failed=st.integers(min_value=0, max_value=10**7),
    failures=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=50)), max_size=3),
)


def forge(
    path: Path,
    zones: Zones,
    plaintext: bytes,
    *,
    header_changes: dict[str, object] | None = None,
    counts: dict[str, int] | None = None,
    padding: bytes = b"",
) -> Path:
    """Write a correctly signed and encrypted bundle around arbitrary header and payload.

    Tests use it to show that refusals of authentic-but-wrong content do not depend on a
    broken signature or ciphertext.
    """
    key, ephemeral = sender_payload_key(zones.reservation.public().encryption_public())
    header: dict[str, object] = {
        "kind": "eligibility",
        "schema_version": 1,
        "source_zone": "issuance",
        "target_zone": "reservation",
        "sender_key_id": zones.issuance.public().signing_key_id,
        "recipient_key_id": zones.reservation.public().encryption_key_id,
        "bundle_id": str(uuid.uuid4()),
        "sequence": 1,
        "mode": "full",
        "created_at": datetime.now(UTC),
        "record_counts": counts if counts is not None else {"eligibility_upsert": 1},
        "payload_length": len(plaintext),
        "payload_sha256": hashlib.sha256(plaintext).hexdigest(),
        "ephemeral_key": ephemeral.hex(),
    }
    header.update(header_changes or {})
    header_bytes = msgspec.msgpack.encode(header)
    prelude = PRELUDE.pack(FORMAT_MAJOR, len(header_bytes), len(padding))
    signed = MAGIC + prelude + header_bytes + padding
    signature = zones.issuance.signing.sign(SIGNATURE_CONTEXT + signed)
    sink = io.BytesIO()
    encryptor = StreamEncryptor(key, sink)
    encryptor.write(plaintext)
    encryptor.finish(hashlib.sha256(signed).digest())
    path.write_bytes(signed + signature + sink.getvalue())
    return path


def frames(*batches: list[object]) -> bytes:
    """Return a plaintext payload: each batch (of records or raw arrays) as one frame."""
    out = bytearray()
    for batch in batches:
        body = msgspec.msgpack.encode(batch)
        out += FRAME_PREFIX.pack(len(body)) + body
    return bytes(out)
