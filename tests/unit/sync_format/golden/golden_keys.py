"""TEST-ONLY zone keys for the golden bundles. Never use them for anything real.

They are derived from fixed, public seeds so the committed golden files stay
openable forever; anyone can recompute them, which is exactly why they are test keys.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync_format import TrustStore, ZoneSecretKeys


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"madoguchi golden TEST-ONLY key: {label}".encode()).digest()


def golden_zone_keys(zone: str) -> ZoneSecretKeys:
    """Return the fixed TEST-ONLY keys of a zone."""
    return ZoneSecretKeys(
        zone,
        Ed25519PrivateKey.from_private_bytes(_seed(f"{zone} signing")),
        X25519PrivateKey.from_private_bytes(_seed(f"{zone} encryption")),
    )


def golden_trust(zone: str) -> TrustStore:
    """Return a trust store pinning the other zone's TEST-ONLY keys."""
    other = "reservation" if zone == "issuance" else "issuance"
    return TrustStore([golden_zone_keys(other).public()])
