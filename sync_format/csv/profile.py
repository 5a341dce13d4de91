"""Import profiles: how one city's card list maps onto the fields of FORMATS.md."""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Final

import msgspec

from sync_format.csv.normalize import to_ascii_width
from sync_format.csv.source import canonical_encoding

# A bundled profile's name: its file's stem, lower-case letters, digits, "-" and "_".
_PROFILE_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]*")
# The fields of カード発行一覧CSV, in the default layout's column order.
CARD_LIST_FIELDS: tuple[str, ...] = (
    "reservation_id",
    "application_id",
    "shipment_no",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "postal_code",
    "address",
    "address_extra",
    "certificate_signature",
    "certificate_authentication",
    "card_expiry",
)
OPTIONAL_FIELDS = frozenset(
    {"address_extra", "certificate_signature", "certificate_authentication", "card_expiry"}
)
REQUIRED_FIELDS = frozenset(CARD_LIST_FIELDS) - OPTIONAL_FIELDS
# Free text (a quoted cell may hold a tab or line break; COPY text escapes them).
TEXT_FIELDS: tuple[str, ...] = ("name", "name_kana", "address", "address_extra")
# Where a 外字 (private-use character) can be: 氏名, 住所, 方書.
GAIJI_FIELDS: tuple[str, ...] = ("name", "address", "address_extra")
BOOLEAN_FIELDS: tuple[str, ...] = ("certificate_signature", "certificate_authentication")
SEXES = ("male", "female")
_SECTIONS = {"profile", "columns", "codes"}
_PROFILE_KEYS = {"name", "description", "encoding", "header", "allow_era_overflow"}
_CODE_TABLES = {"sex": {"male", "female"}, "certificate": {"present", "absent"}}


class ProfileError(ValueError):
    """A profile file is wrong; ``errors`` lists every problem as ``key: what is wrong``."""

    def __init__(self, origin: str, errors: list[str]) -> None:
        super().__init__(f"import profile {origin}: " + "; ".join(errors))
        self.origin = origin
        self.errors = errors


def code_key(cell: str) -> str:
    """Normalise a code cell (sex, certificate) for lookup: trimmed, ASCII-width, upper."""
    return to_ascii_width(cell.strip()).upper()


class CardListProfile(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed import profile for the card list.

    ``columns`` maps each field to its header text (``header = true``) or to its 1-based
    position (``header = false``); optional fields may be left out. ``sex_codes`` and
    ``certificate_codes`` map normalised cell values (see ``code_key``) to their meaning.
    """

    name: str
    description: str = ""
    encoding: str = "auto"
    header: bool = True
    allow_era_overflow: bool = False
    columns: dict[str, str | int]
    sex_codes: dict[str, str]
    certificate_codes: dict[str, bool]

    def header_columns(self) -> dict[str, str]:
        """Return ``{header text: field}`` for a profile with a header row."""
        return {str(where): field for field, where in self.columns.items()}


def _check_codes(
    table: str, raw: Any, errors: list[str]
) -> dict[str, str]:  # returns {normalised code: meaning}
    meanings = _CODE_TABLES[table]
    if not isinstance(raw, dict):
        errors.append(f"[codes.{table}]: expected a table with keys {sorted(meanings)}")
        return {}
    result: dict[str, str] = {}
    for meaning, values in raw.items():
        key = f"[codes.{table}].{meaning}"
        if meaning not in meanings:
            errors.append(f"{key}: unknown meaning; expected one of {sorted(meanings)}")
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(f'{key}: expected a list of strings, e.g. ["1", "男"]')
            continue
        for value in values:
            normalised = code_key(value)
            if normalised in result and result[normalised] != meaning:
                errors.append(f"{key}: code {value!r} also means {result[normalised]!r}")
            result[normalised] = meaning
    for meaning in sorted(meanings - raw.keys()):
        if table == "sex":
            errors.append(f"[codes.{table}].{meaning}: missing; list the codes for {meaning}")
    return result


def _check_columns(raw: Any, header: bool, errors: list[str]) -> dict[str, str | int]:
    if not isinstance(raw, dict):
        errors.append("[columns]: missing; map each field to a header text or a position")
        return {}
    columns: dict[str, str | int] = {}
    seen: dict[str | int, str] = {}
    for field, where in raw.items():
        key = f"[columns].{field}"
        if field not in CARD_LIST_FIELDS:
            errors.append(f"{key}: unknown field; expected one of {', '.join(CARD_LIST_FIELDS)}")
            continue
        if header and not (isinstance(where, str) and where.strip()):
            errors.append(f"{key}: expected the column's header text (the profile has a header)")
            continue
        if not header and not (isinstance(where, int) and not isinstance(where, bool)):
            errors.append(f"{key}: expected a 1-based column number (header = false)")
            continue
        if isinstance(where, int) and where < 1:
            errors.append(f"{key}: column numbers start at 1, got {where}")
            continue
        if where in seen:
            errors.append(f"{key}: {where!r} is already used by {seen[where]}")
            continue
        seen[where] = field
        columns[field] = where
    for field in sorted(REQUIRED_FIELDS - raw.keys(), key=CARD_LIST_FIELDS.index):
        errors.append(f"[columns].{field}: missing; this field is required")
    return columns


def parse_profile(text: str, origin: str = "<string>") -> CardListProfile:
    """Parse a profile from TOML text; raises ProfileError listing every problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(origin, [f"not valid TOML: {error}"]) from None
    errors = [f"[{name}]: unknown section" for name in sorted(document.keys() - _SECTIONS)]
    settings = document.get("profile", {})
    if not isinstance(settings, dict):
        settings = {}
        errors.append("[profile]: expected a table")
    errors.extend(
        f"[profile].{key}: unknown setting" for key in sorted(settings.keys() - _PROFILE_KEYS)
    )
    name = settings.get("name", Path(origin).stem)
    if not isinstance(name, str):
        errors.append("[profile].name: expected a string")
    encoding = settings.get("encoding", "auto")
    try:
        encoding = canonical_encoding(encoding) if isinstance(encoding, str) else None
    except ValueError as error:
        errors.append(f"[profile].encoding: {error}")
    if encoding is None:
        errors.append('[profile].encoding: expected a string such as "auto" or "cp932"')
    flags: dict[str, bool] = {}
    for flag, default in (("header", True), ("allow_era_overflow", False)):
        flags[flag] = settings.get(flag, default)
        if not isinstance(flags[flag], bool):
            errors.append(f"[profile].{flag}: expected true or false")
    columns = _check_columns(document.get("columns"), flags["header"] is not False, errors)
    codes = document.get("codes", {})
    if not isinstance(codes, dict):
        codes = {}
        errors.append("[codes]: expected a table")
    errors.extend(
        f"[codes.{table}]: unknown code table" for table in sorted(codes.keys() - _CODE_TABLES)
    )
    sex = _check_codes(
        "sex", codes.get("sex", {"male": ["1", "男"], "female": ["2", "女"]}), errors
    )
    certificate = _check_codes(
        "certificate", codes.get("certificate", {"present": ["有"], "absent": ["無", ""]}), errors
    )
    if errors:
        raise ProfileError(origin, errors)
    return CardListProfile(
        name=str(name),
        description=str(settings.get("description", "")),
        encoding=str(encoding),
        header=flags["header"],
        allow_era_overflow=flags["allow_era_overflow"],
        columns=columns,
        sex_codes=sex,
        certificate_codes={code: meaning == "present" for code, meaning in certificate.items()},
    )


def load_profile(path: str | os.PathLike[str]) -> CardListProfile:
    """Read a profile file (TOML); raises ProfileError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(str(path), [f"cannot read the file: {error}"]) from None
    return parse_profile(text, str(path))


@functools.cache
def bundled_profile_names() -> tuple[str, ...]:
    """The names of the profiles shipped in ``sync_format/csv/profiles/`` (file stems), sorted."""
    folder = importlib.resources.files("sync_format.csv").joinpath("profiles")
    stems = (entry.name.removesuffix(".toml") for entry in folder.iterdir())
    return tuple(sorted(stem for stem in stems if _PROFILE_NAME.fullmatch(stem)))


def bundled_profile(name: str) -> CardListProfile:
    """Load a profile shipped in ``sync_format/csv/profiles/`` by its file stem.

    The name comes from operators and from the upload route's query: only the names of the
    shipped files are accepted, never a path (``../../pyproject``, ``/etc/x``).
    """
    names = bundled_profile_names()
    if not _PROFILE_NAME.fullmatch(name) or name not in names:
        problem = f"no bundled profile has this name; the bundled profiles are: {', '.join(names)}"
        raise ProfileError(repr(name), [problem])
    resource = (
        importlib.resources.files("sync_format.csv").joinpath("profiles").joinpath(f"{name}.toml")
    )
    return parse_profile(resource.read_text(encoding="utf-8"), f"{name}.toml")


@functools.cache
def default_profile() -> CardListProfile:
    """Return the default profile: the layout FORMATS.md describes."""
    return bundled_profile("default")
