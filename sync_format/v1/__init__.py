"""Version 1 of the sync schema."""

from sync_format.v1.records import (
    RECORD_TYPES,
    SCHEMA_VERSION,
    BundleKind,
    EligibilityRecord,
    EligibilityRevoke,
    EligibilityUpsert,
    Receipt,
    Record,
    ReservationRecord,
    record_type_name,
)

__all__ = [
    "RECORD_TYPES",
    "SCHEMA_VERSION",
    "BundleKind",
    "EligibilityRecord",
    "EligibilityRevoke",
    "EligibilityUpsert",
    "Receipt",
    "Record",
    "ReservationRecord",
    "record_type_name",
]
