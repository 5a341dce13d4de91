"""Per-field-type normalisation of cell text (FORMATS.md, "Normalise before validating").

NFKC is deliberately *not* applied to whole cells: it would also rewrite CJK compatibility
ideographs in names (U+FA19 神 → U+795E 神), circled digits, ㈱ and similar, which changes
what a resident's name looks like. Each helper here changes only what its field type needs.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import msgspec

from sync_format.csv.problems import CellError, ProblemCode
from sync_format.v1.records import LocationCode

# C0 control characters no cell may hold, as the body of a regular-expression class that
# Python's re and Rust's regex (the polars path) read alike. PostgreSQL text cannot store
# NUL at all, and the others are never part of a name, an address or a code: they come
# from a broken export or a binary file. TAB, CR and LF are left out: a quoted cell may
# hold a line break or a tab where its format allows one (an address, a memo).
CONTROL_CHARACTERS: Final = r"\x00-\x08\x0b\x0c\x0e-\x1f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")

# Hyphen look-alikes that people (and IMEs) type into IDs and postal codes.
HYPHEN_VARIANTS = (
    "\u002d\u00ad\u02d7\u058a\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u207b\u208b"
    "\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d\u30fc\uff70\u2500\u2501"
)

# Full-width ASCII (U+FF01 to U+FF5E) → ASCII, and the ideographic space → a plain space.
_WIDE_TO_ASCII: dict[int, int] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_WIDE_TO_ASCII[0x3000] = 0x20
_ID_TABLE: dict[int, int] = dict(_WIDE_TO_ASCII)
_ID_TABLE.update({ord(hyphen): ord("-") for hyphen in HYPHEN_VARIANTS})

_HALF_WIDTH_KANA_RUN = re.compile("[\uff61-\uff9f]+")
PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
# Full-width katakana (incl. ー ・ ヽ ヾ) and spaces between family and given name.
_KATAKANA = re.compile("[\u30a1-\u30fa\u30fb\u30fc\u30fd\u30fe\u3000 ]+")

_MISSING = "required value is missing"
_ASCII_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def has_control_character(text: str) -> bool:
    """Return whether ``text`` holds a character of ``CONTROL_CHARACTERS``."""
    return _CONTROL.search(text) is not None


def without_control_characters(text: str) -> str:
    """``text`` with each character of ``CONTROL_CHARACTERS`` replaced by a space.

    For writers of free text typed by people (a memo): a reader refuses such a cell, so
    one stray backspace would otherwise block a whole file.
    """
    return _CONTROL.sub(" ", text)


def control_character_error(text: str) -> CellError | None:
    """The CellError (``value.control_character``) of a cell holding a control character."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    return CellError(
        f"holds the control character U+{ord(found[0]):04X}, which no cell may hold",
        ProblemCode.CONTROL_CHARACTER,
    )


def refuse_control_characters(text: str) -> str:
    """Return ``text`` unchanged, or raise CellError if it holds a control character.

    Readers call this before a cell's own parser, so such a cell is always reported with
    ``ProblemCode.CONTROL_CHARACTER``, whatever else is wrong with it.
    """
    error = control_character_error(text)
    if error is not None:
        raise error
    return text


def to_ascii_width(text: str) -> str:
    """Turn full-width digits, letters and symbols into ASCII; leave everything else."""
    if text.isascii():
        return text
    return text.translate(_WIDE_TO_ASCII)


def normalize_id(text: str) -> str:
    """Trim, make ASCII-width, unify hyphen variants to ``-`` and upper-case an identifier."""
    text = text.strip()
    if not text.isascii():
        text = text.translate(_ID_TABLE).strip()
    return text.upper()


def normalize_reservation_id(text: str) -> str:
    """Return the canonical ``A1B-123456`` form of a reservation ID, or raise CellError."""
    value = normalize_id(text)
    if not value:
        raise CellError(_MISSING, ProblemCode.REQUIRED)
    if len(value) == 9:
        value = f"{value[:3]}-{value[3:]}"
    if (
        len(value) != 10
        or value[3] != "-"
        or not value.isascii()
        or not value[:3].isalnum()
        or not value[4:].isdigit()
    ):
        raise CellError("expected 3 letters or digits, a hyphen and 6 digits (A1B-123456)")
    return value


def is_reservation_id(text: str) -> bool:
    """Return whether ``text`` is already a canonical reservation ID."""
    return (
        len(text) == 10
        and text.isascii()
        and text[3] == "-"
        and text[:3].isalnum()
        and text[:3] == text[:3].upper()
        and text[4:].isdigit()
    )


def normalize_location_code(text: str) -> str:
    """Return a 交付場所コード in the form the v1 schema carries it, or raise CellError.

    Trimmed, full-width letters and digits made ASCII, hyphen variants made ``-``; the case
    is kept: the reservation zone defines the codes, so ``city-hall`` stays ``city-hall``.
    Every reader of a location code uses this, so a code means one location whatever the
    file it came from; a code already valid in a bundle comes out unchanged.
    """
    value = text.strip()
    if not value.isascii():
        value = value.translate(_ID_TABLE).strip()
    if not value:
        raise CellError(_MISSING, ProblemCode.REQUIRED)
    try:
        return msgspec.convert(value, LocationCode)
    except msgspec.ValidationError:
        raise CellError("not a location code: 1 to 32 letters, digits, '_' or '-'") from None


def normalize_digits(text: str, length: int, what: str) -> str:
    """Normalise a fixed-length digit string (kept as text: leading zeros matter)."""
    value = normalize_id(text)
    if not value:
        raise CellError(_MISSING, ProblemCode.REQUIRED)
    if len(value) != length or not value.isdigit() or not value.isascii():
        raise CellError(f"{what} must be exactly {length} digits")
    return value


def normalize_alphanumeric(text: str, max_length: int, what: str) -> str:
    """Normalise an upper-case ASCII alphanumeric code of 1..max_length characters."""
    value = normalize_id(text)
    if not value:
        raise CellError(_MISSING, ProblemCode.REQUIRED)
    if not 1 <= len(value) <= max_length or not _ASCII_ALNUM.issuperset(value):
        raise CellError(f"{what} must be 1 to {max_length} letters or digits")
    return value


def normalize_postal_code(text: str) -> str:
    """Return a postal code as ``NNN-NNNN``; accepts ``NNNNNNN`` and hyphen variants."""
    value = normalize_id(text)
    if not value:
        raise CellError(_MISSING, ProblemCode.REQUIRED)
    if len(value) == 8 and value[3] == "-":
        value = value[:3] + value[4:]
    if len(value) != 7 or not value.isdigit() or not value.isascii():
        raise CellError("postal code must be 7 digits (251-8601 or 2518601)")
    return f"{value[:3]}-{value[3:]}"


def to_full_width_katakana(text: str) -> str:
    """Turn half-width katakana runs into full-width (ｶﾞ → ガ); leave other characters."""
    # Half-width katakana sort above U+FF60: one C-level max() skips the regex for most text.
    if not text or max(text) < "\uff61" or not _HALF_WIDTH_KANA_RUN.search(text):
        return text
    return _HALF_WIDTH_KANA_RUN.sub(lambda run: unicodedata.normalize("NFKC", run[0]), text)


def normalize_text(text: str) -> str:
    """Normalise a free-text field such as a name or address: trim, widen half-width kana."""
    return to_full_width_katakana(text.strip())


def normalize_katakana(text: str) -> str:
    """Normalise a kana name to full-width katakana, or raise CellError."""
    value = normalize_text(text)
    if not value:
        raise CellError(_MISSING, ProblemCode.REQUIRED)
    if not _KATAKANA.fullmatch(value):
        raise CellError("must be written in katakana")
    return value


def has_private_use(text: str) -> bool:
    """Return whether ``text`` holds a Unicode private-use character (外字)."""
    # Every private-use code point sorts at or above U+E000: skip the regex for plain text.
    return bool(text) and max(text) >= "\ue000" and PRIVATE_USE.search(text) is not None
