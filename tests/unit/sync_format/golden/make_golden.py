"""Generate the golden v1 bundles ONCE; the committed files must keep decoding forever.

Run from the repository root: ``.venv/bin/python -m tests.unit.sync_format.golden.make_golden``.
Never regenerate them to make a failing test pass: a failure means a breaking change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec

from sync_format import (
    EligibilityRevoke,
    EligibilityUpsert,
    Receipt,
    Record,
    ReservationRecord,
    write_bundle,
)
from tests.unit.sync_format.golden.golden_keys import golden_zone_keys

HERE = Path(__file__).parent
JST = timezone(timedelta(hours=9))


def readable(records: list[Record]) -> bytes:
    """Return records as indented JSON objects (type name and fields), for the expectations.

    Records travel as arrays; the expectation files name every field so a reviewer can
    read them.
    """
    plain = [{"type": r.type_name, **msgspec.structs.asdict(r)} for r in records]
    return msgspec.json.format(msgspec.json.encode(plain)) + b"\n"


def golden_records() -> dict[str, tuple[str, str, list[Record]]]:
    """Return, per kind, (sender zone, recipient zone, records)."""
    start = datetime(2026, 4, 6, 9, 30, tzinfo=JST)
    return {
        "eligibility": (
            "issuance",
            "reservation",
            [
                EligibilityUpsert(
                    reservation_id="A1B000123", password="0229", shipment_no="S12345"
                ),
                EligibilityUpsert(reservation_id="9ZZ-999999", password="1231", shipment_no="x9"),
                EligibilityRevoke(reservation_id="A1B000124", reason="returned"),
            ],
        ),
        "reservations": (
            "reservation",
            "issuance",
            [
                ReservationRecord(
                    confirmation_code="K7Q2M9XA",
                    reservation_id="A1B000123",
                    location_code="city-hall",
                    start=start,
                    end=start + timedelta(minutes=15),
                    status="booked",
                    email="resident@example.jp",
                    companion_ids=["A1B000125"],
                    memo="車いすで伺います",
                    channel="web",
                    updated_at=datetime(2026, 3, 30, 12, 0, tzinfo=UTC),
                ),
                ReservationRecord(
                    confirmation_code="P4W8",
                    reservation_id="9ZZ-999999",
                    location_code="branch_2",
                    start=start,
                    end=start + timedelta(minutes=30),
                    status="cancelled",
                    channel="phone",
                    updated_at=datetime(2026, 3, 31, 8, 15, tzinfo=UTC),
                ),
            ],
        ),
        "receipt": (
            "issuance",
            "reservation",
            [
                Receipt(
                    bundle_id=uuid.UUID("0b6f2f4e-2a53-4c71-9a3b-5d1f0c9e7a11"),
                    sequence=12,
                    digest="5" * 64,
                    imported=2,
                    updated=1,
                    ignored=0,
                    failed=1,
                    failures=[("A1B000126", "unknown reservation_id")],
                )
            ],
        ),
    }


def main() -> None:
    for kind, (sender, recipient, records) in golden_records().items():
        path = HERE / f"v1_{kind}.bundle"
        expected = HERE / f"v1_{kind}.expected.json"
        if path.exists() or expected.exists():
            msg = f"{path.name} exists: golden files are never regenerated"
            raise SystemExit(msg)
        write_bundle(
            path,
            kind=kind,  # type: ignore[arg-type]
            records=records,
            sender=golden_zone_keys(sender),
            recipient=golden_zone_keys(recipient).public(),
            sequence=3,
            mode="delta",
            base_sequence=2,
            bundle_id=uuid.UUID(int=len(kind)),
            created_at=datetime(2026, 4, 1, 0, 0, tzinfo=UTC),
        )
        # MessagePack carries instants as UTC timestamps: the expectation is what decodes.
        decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(records), type=list[Record])
        expected.write_bytes(readable(decoded))


if __name__ == "__main__":
    main()
