"""Committed v1 golden bundles must keep decoding to the committed records."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from sync_format import open_bundle
from tests.unit.sync_format.golden.golden_keys import golden_trust, golden_zone_keys
from tests.unit.sync_format.golden.make_golden import readable

GOLDEN = Path(__file__).parent / "golden"
RECIPIENTS = {"eligibility": "reservation", "reservations": "issuance", "receipt": "reservation"}


@pytest.mark.parametrize("kind", sorted(RECIPIENTS))
def test_v1_golden_bundle_still_decodes_to_the_same_records(kind: str) -> None:
    recipient = RECIPIENTS[kind]
    bundle = open_bundle(
        GOLDEN / f"v1_{kind}.bundle",
        recipient=golden_zone_keys(recipient),
        trusted=golden_trust(recipient),
    )
    assert bundle.header.kind == kind
    assert (bundle.header.sequence, bundle.header.base_sequence) == (3, 2)
    expected = msgspec.json.decode((GOLDEN / f"v1_{kind}.expected.json").read_bytes())
    decoded = msgspec.json.decode(readable(list(bundle.records())))
    assert decoded == expected
