"""Madoguchi sync format: records, signed and encrypted bundles, keys, sequence rules.

Pure library: no web framework or database imports. The CSV codecs live in
``sync_format.csv`` and are imported on demand.
"""

from sync_format.bundle import (
    Inspection,
    VerifiedBundle,
    inspect_bundle,
    open_bundle,
    write_bundle,
)
from sync_format.errors import (
    BadMagic,
    BadSignature,
    DigestMismatch,
    KeyFileError,
    MalformedHeader,
    MalformedRecord,
    RotationRefused,
    SizeCapExceeded,
    SyncFormatError,
    Tampered,
    Truncated,
    UnknownSigner,
    UnsupportedVersion,
    WrongRecipient,
)
from sync_format.header import BundleHeader
from sync_format.keys import (
    RotationStatement,
    TrustStore,
    ZonePublicKeys,
    ZoneSecretKeys,
    fingerprint,
    init_keys,
    key_id,
    load_secret_keys,
    read_public_keys,
    read_rotation,
    rotate_keys,
)
from sync_format.sequence import AppliedMark, Decision, Incoming, Outcome, decide
from sync_format.v1 import (
    EligibilityRevoke,
    EligibilityUpsert,
    Receipt,
    Record,
    ReservationRecord,
)

__all__ = [
    "AppliedMark",
    "BadMagic",
    "BadSignature",
    "BundleHeader",
    "Decision",
    "DigestMismatch",
    "EligibilityRevoke",
    "EligibilityUpsert",
    "Incoming",
    "Inspection",
    "KeyFileError",
    "MalformedHeader",
    "MalformedRecord",
    "Outcome",
    "Receipt",
    "Record",
    "ReservationRecord",
    "RotationRefused",
    "RotationStatement",
    "SizeCapExceeded",
    "SyncFormatError",
    "Tampered",
    "Truncated",
    "TrustStore",
    "UnknownSigner",
    "UnsupportedVersion",
    "VerifiedBundle",
    "WrongRecipient",
    "ZonePublicKeys",
    "ZoneSecretKeys",
    "decide",
    "fingerprint",
    "init_keys",
    "inspect_bundle",
    "key_id",
    "load_secret_keys",
    "open_bundle",
    "read_public_keys",
    "read_rotation",
    "rotate_keys",
    "write_bundle",
]
