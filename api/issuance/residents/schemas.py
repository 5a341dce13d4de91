"""API shapes of residents, card imports and 外字 substitutions (msgspec Structs)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from sync_format.csv import Problem


class CardImportRead(msgspec.Struct, kw_only=True):
    """One card list the zone has seen: its counts and whether it was applied.

    ``problems`` and ``warnings`` are filled in the answers to upload and apply only.
    """

    id: int
    file_name: str
    sha256: str
    size: int
    encoding: str
    profile: str
    status: str
    rows: int
    new: int
    changed: int
    unchanged: int
    gaiji: int
    problem_count: int
    warning_count: int
    created_at: dt.datetime
    created_by: str | None
    applied_at: dt.datetime | None
    applied_by: str | None
    problems: list[Problem] = msgspec.field(default_factory=list)
    warnings: list[Problem] = msgspec.field(default_factory=list)


class ResidentRead(msgspec.Struct, kw_only=True):
    """A resident as staff see it; ``display_name`` has 外字 substituted, ``name`` is kept."""

    id: int
    reservation_id: str
    application_id: str
    shipment_no: str
    name: str
    display_name: str
    name_kana: str
    birth_date: dt.date
    sex: str
    postal_code: str
    address: str
    display_address: str
    address_extra: str | None
    certificate_signature: bool
    certificate_authentication: bool
    card_expiry: dt.date | None
    has_gaiji: bool
    gaiji_characters: list[str]
    unmapped_gaiji: list[str]
    updated_at: dt.datetime


class ResidentHistoryRead(msgspec.Struct, kw_only=True):
    """A resident's card-list values before one import changed them."""

    id: int
    card_import_id: int
    file_sha256: str
    changed_by: str | None
    changed_fields: list[str]
    previous: dict[str, Any]
    recorded_at: dt.datetime


class GaijiCharacterRead(msgspec.Struct, kw_only=True):
    """A 外字 found in residents' names or addresses, and its substitution if staff set one."""

    character: str
    code_point: str
    residents: int
    replacement: str | None
    note: str | None


class GaijiSubstitutionWrite(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What staff set for one 外字: the text shown and printed instead, and why."""

    replacement: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class GaijiSubstitutionRead(msgspec.Struct, kw_only=True):
    """One row of the 外字 substitution table."""

    character: str
    code_point: str
    replacement: str
    note: str
    updated_by: str | None
    updated_at: dt.datetime
