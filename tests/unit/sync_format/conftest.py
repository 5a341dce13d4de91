"""Fixtures for the sync format tests: zone keys, small bundles. No database."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_format import EligibilityRevoke, EligibilityUpsert, ZoneSecretKeys
from tests.unit.sync_format.sync_support import Zones, upserts, write_eligibility


@pytest.fixture(scope="session")
def zones() -> Zones:
    return Zones(ZoneSecretKeys.generate("issuance"), ZoneSecretKeys.generate("reservation"))


class BundleBytes(bytes):
    """Bundle bytes with a short repr, so hypothesis failure reports stay readable."""

    def __repr__(self) -> str:
        return f"<bundle of {len(self)} bytes>"


@pytest.fixture(scope="session")
def small_bundle(zones: Zones, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a three-chunk eligibility bundle with several frames."""
    path = tmp_path_factory.mktemp("small") / "small.bundle"
    records: list[EligibilityUpsert | EligibilityRevoke] = [*upserts(6000)]
    records.append(EligibilityRevoke(reservation_id="ABC-123456", reason="returned"))
    write_eligibility(path, zones, records, frame_records=700)
    return BundleBytes(path.read_bytes())


@pytest.fixture
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file path that hypothesis examples may overwrite again and again."""
    return tmp_path_factory.mktemp("scratch") / "bundle"
