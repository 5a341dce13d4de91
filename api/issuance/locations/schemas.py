"""API shapes of the counter locations staff manage (msgspec Structs)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from sync_format.v1.records import LocationCode

LocationName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Address = Annotated[str, msgspec.Meta(max_length=200)]


class CounterLocationInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new counter location; listed on letters unless ``active`` is false."""

    code: LocationCode  # the v1 schema's: the 交付場所コード bookings carry, case kept
    name: LocationName
    address: Address = ""
    active: bool = True


class CounterLocationPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Changes to a counter location; fields left out stay as they are (the code never changes)."""

    name: LocationName | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class CounterLocationRead(msgspec.Struct, kw_only=True):
    """A counter location; ``updated_by`` is None while only reservation imports wrote it."""

    code: str
    name: str
    address: str
    active: bool
    updated_by: str | None
    updated_at: dt.datetime
