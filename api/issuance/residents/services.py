"""Residents services: the card list import, resident search, 外字 substitutions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import ColumnElement, false, or_, select, text

from api.core.errors import DomainError
from api.issuance.models import Resident
from api.issuance.residents.importing import (
    CardImportRefused,
    CardImportReport,
    file_digest,
    import_card_list,
)
from api.issuance.residents.models import CardImport, GaijiSubstitution, ResidentHistory
from api.issuance.residents.schemas import (
    GaijiCharacterRead,
    GaijiSubstitutionRead,
    ResidentHistoryRead,
    ResidentRead,
)
from sync_format.csv.dates import parse_date
from sync_format.csv.normalize import normalize_id, to_full_width_katakana
from sync_format.csv.problems import CellError

__all__ = [
    "CardImportRefused",
    "CardImportReport",
    "CardImportService",
    "GaijiSubstitutionService",
    "ResidentSearch",
    "ResidentService",
    "file_digest",
    "import_card_list",
]

_PRIVATE_USE: Final = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_SPACES: Final = str.maketrans("", "", " \u3000\t")
# Hiragana (ぁ..ゖ, ゝゞ) → katakana: staff may type a kana query in hiragana.
_HIRAGANA_TO_KATAKANA: Final = {
    code: code + 0x60 for code in (*range(0x3041, 0x3097), 0x309D, 0x309E)
}


class InvalidSearch(DomainError):
    """A search filter cannot be understood (e.g. an impossible birth date)."""

    status_code = 400
    code = "invalid_search"


# Every private-use character in residents' names and addresses, with how many have it.
_GAIJI_COUNTS: Final = text("""
SELECT found.character, count(DISTINCT r.id) AS residents
FROM residents r
CROSS JOIN LATERAL regexp_split_to_table(
    r.name || r.address || coalesce(r.address_extra, ''), ''
) AS found(character)
WHERE r.has_gaiji
  AND (ascii(found.character) BETWEEN 57344 AND 63743
       OR ascii(found.character) BETWEEN 983040 AND 1114109)
GROUP BY found.character
ORDER BY found.character
""")


class ResidentSearch(msgspec.Struct, kw_only=True):
    """Resident search filters; every given filter must match (AND)."""

    reservation_id: str | None = None
    shipment_no: str | None = None
    application_id: str | None = None
    name: str | None = None  # prefix of the name or the kana, spacing and width insensitive
    birth_date: str | None = None  # any form the card list accepts (1985-02-14, 昭和60年2月14日)
    has_gaiji: bool | None = None


def name_key(text: str) -> str:
    """Normalise a name query like stored names: half-width kana widened, spaces removed."""
    return to_full_width_katakana(text.strip()).translate(_SPACES)


def kana_key(text: str) -> str:
    """Normalise a kana query: as ``name_key``, and hiragana read as katakana."""
    return name_key(text).translate(_HIRAGANA_TO_KATAKANA)


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _reservation_id(text: str) -> str:
    value = normalize_id(text)
    return f"{value[:3]}-{value[3:]}" if len(value) == 9 and "-" not in value else value


def search_conditions(search: ResidentSearch) -> list[ColumnElement[bool]]:
    """SQL conditions for a search; each uses an index (exact IDs, name prefixes, date)."""
    conditions: list[ColumnElement[bool]] = []
    if search.reservation_id:
        conditions.append(Resident.reservation_id == _reservation_id(search.reservation_id))
    if search.shipment_no:
        conditions.append(Resident.shipment_no == normalize_id(search.shipment_no))
    if search.application_id:
        conditions.append(Resident.application_id == normalize_id(search.application_id))
    if search.name and search.name.strip():
        name, kana = name_key(search.name), kana_key(search.name)
        conditions.append(
            or_(
                Resident.name_key().like(_like_prefix(name), escape="\\"),
                Resident.kana_key().like(_like_prefix(kana), escape="\\"),
            )
            if name and kana
            else false()
        )
    if search.birth_date:
        try:
            conditions.append(Resident.birth_date == parse_date(search.birth_date))
        except CellError as error:
            raise InvalidSearch(f"birth_date: {error.reason}") from None
    if search.has_gaiji is not None:
        conditions.append(Resident.has_gaiji.is_(search.has_gaiji))
    return conditions


def gaiji_in(*texts: str | None) -> list[str]:
    """The distinct private-use characters (外字) in the texts, in order of appearance."""
    found: dict[str, None] = {}
    for value in texts:
        if value:
            found.update(dict.fromkeys(_PRIVATE_USE.findall(value)))
    return list(found)


def code_point(character: str) -> str:
    """``U+E000`` for a character."""
    return f"U+{ord(character):04X}"


def character_of(code: str) -> str:
    """The private-use character a path names as ``E000``, ``U+E000`` or the character itself."""
    text = code.strip()
    if len(text) == 1:
        character = text
    else:
        digits = text.upper().removeprefix("U+")
        try:
            character = chr(int(digits, 16))
        except (ValueError, OverflowError):
            raise InvalidSearch(f"{code!r} is not a code point such as U+E000") from None
    if not _PRIVATE_USE.fullmatch(character):
        raise InvalidSearch(f"{code_point(character)} is not a private-use character (外字)")
    return character


class ResidentService(SQLAlchemyAsyncRepositoryService[Resident]):
    """Residents: search, and the read-side view with 外字 substituted."""

    class Repo(SQLAlchemyAsyncRepository[Resident]):
        """Resident repository."""

        model_type = Resident

    repository_type = Repo

    async def search(
        self, search: ResidentSearch, *, limit: int, offset: int
    ) -> tuple[Sequence[Resident], int]:
        """Residents matching every filter, ordered by reservation ID, and their total."""
        return await self.get_many_and_count(
            *search_conditions(search),
            LimitOffset(limit=limit, offset=offset),
            order_by=(Resident.reservation_id, False),
        )

    async def history(self, resident_id: int) -> list[ResidentHistoryRead]:
        """Earlier card-list values of one resident, newest first."""
        rows = await self.repository.session.scalars(
            select(ResidentHistory)
            .where(ResidentHistory.resident_id == resident_id)
            .order_by(ResidentHistory.id.desc())
        )
        return [
            ResidentHistoryRead(
                id=row.id,
                card_import_id=row.card_import_id,
                file_sha256=row.file_sha256,
                changed_by=row.changed_by,
                changed_fields=list(row.changed_fields),
                previous=dict(row.previous),
                recorded_at=row.created_at,
            )
            for row in rows
        ]


class GaijiSubstitutionService(SQLAlchemyAsyncRepositoryService[GaijiSubstitution]):
    """The 外字 substitution table staff edit (residents.import)."""

    class Repo(SQLAlchemyAsyncRepository[GaijiSubstitution]):
        """Substitution repository."""

        model_type = GaijiSubstitution

    repository_type = Repo

    async def table(self) -> dict[int, str]:
        """``str.translate`` table: private-use code point → replacement text."""
        rows = await self.get_many()
        return {ord(row.character): row.replacement for row in rows}

    async def put(self, character: str, replacement: str, note: str, staff: str | None) -> Any:
        """Create or change the substitution of one character."""
        existing = await self.get_one_or_none(GaijiSubstitution.character == character)
        if existing is None:
            return await self.create(
                GaijiSubstitution(
                    character=character, replacement=replacement, note=note, updated_by=staff
                ),
                auto_commit=False,
            )
        existing.replacement, existing.note, existing.updated_by = replacement, note, staff
        return await self.update(existing, auto_commit=False)

    async def characters(self) -> list[GaijiCharacterRead]:
        """Every 外字 in residents' names and addresses, with its count and substitution."""
        session = self.repository.session
        counts = (await session.execute(_GAIJI_COUNTS)).all()
        mapped = {row.character: row for row in await self.get_many()}
        return [
            GaijiCharacterRead(
                character=found,
                code_point=code_point(found),
                residents=count,
                replacement=mapped[found].replacement if found in mapped else None,
                note=mapped[found].note if found in mapped else None,
            )
            for found, count in counts
        ]


def substitution_schema(row: GaijiSubstitution) -> GaijiSubstitutionRead:
    """The API shape of one substitution."""
    return GaijiSubstitutionRead(
        character=row.character,
        code_point=code_point(row.character),
        replacement=row.replacement,
        note=row.note,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def resident_schema(resident: Resident, substitutions: dict[int, str]) -> ResidentRead:
    """The API shape of a resident, with 外字 substituted in the display name and address."""
    found = gaiji_in(resident.name, resident.address, resident.address_extra)
    return ResidentRead(
        id=resident.id,
        reservation_id=resident.reservation_id,
        application_id=resident.application_id,
        shipment_no=resident.shipment_no,
        name=resident.name,
        display_name=resident.name.translate(substitutions),
        name_kana=resident.name_kana,
        birth_date=resident.birth_date,
        sex=str(resident.sex),
        postal_code=resident.postal_code,
        address=resident.address,
        display_address=resident.address.translate(substitutions),
        address_extra=resident.address_extra,
        certificate_signature=resident.certificate_signature,
        certificate_authentication=resident.certificate_authentication,
        card_expiry=resident.card_expiry,
        has_gaiji=resident.has_gaiji,
        gaiji_characters=found,
        unmapped_gaiji=[character for character in found if ord(character) not in substitutions],
        updated_at=resident.updated_at,
    )


class CardImportService(SQLAlchemyAsyncRepositoryService[CardImport]):
    """The record of card lists seen: previews, refusals and applied imports."""

    class Repo(SQLAlchemyAsyncRepository[CardImport]):
        """Card import repository."""

        model_type = CardImport

    repository_type = Repo

    async def latest_applied(self, sha256: str) -> CardImport | None:
        """The most recent applied import of a file with this digest, if any."""
        rows = await self.get_many(
            CardImport.sha256 == sha256,
            CardImport.status == "applied",
            order_by=(CardImport.id, True),
        )
        return rows[0] if rows else None
