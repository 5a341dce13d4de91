"""Fixtures of the exchange tests: both zones' keys, as after the key exchange."""

from __future__ import annotations

import pytest

from api.reservation.exchange.streams import ExchangeKeys
from sync_format import TrustStore, ZoneSecretKeys


@pytest.fixture(scope="module")
def issuance_keys() -> ZoneSecretKeys:
    """The issuance zone's keys (test-only, in memory)."""
    return ZoneSecretKeys.generate("issuance")


@pytest.fixture(scope="module")
def reservation_keys() -> ZoneSecretKeys:
    """This zone's keys (test-only, in memory)."""
    return ZoneSecretKeys.generate("reservation")


@pytest.fixture
def keys(issuance_keys: ZoneSecretKeys, reservation_keys: ZoneSecretKeys) -> ExchangeKeys:
    """This zone's keys and its pin of the issuance zone."""
    return ExchangeKeys(secret=reservation_keys, trusted=TrustStore([issuance_keys.public()]))
