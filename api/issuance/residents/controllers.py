"""HTTP API of residents: card list imports, resident search, 外字 substitutions.

Import is two calls. ``POST /api/card-imports`` takes the card list as the raw request
body (``Content-Type: text/csv`` or ``application/octet-stream``; streamed to a file, never
held in memory), validates every row and answers a preview: counts of new, changed and
unchanged rows and every bad row. ``POST /api/card-imports/{id}/apply`` then applies that
stored file (validated again, since residents may have changed in between); it is refused
while any row is bad. The permission each route needs is data in its ``opt``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

import anyio
from advanced_alchemy.exceptions import NotFoundError
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.identity.guards import principal_of
from api.core.settings import ZoneSettings
from api.issuance.residents.importing import CardImportReport, import_card_list
from api.issuance.residents.models import CardImport, GaijiSubstitution
from api.issuance.residents.schemas import (
    CardImportRead,
    GaijiCharacterRead,
    GaijiSubstitutionRead,
    GaijiSubstitutionWrite,
    ResidentHistoryRead,
    ResidentRead,
)
from api.issuance.residents.services import (
    CardImportService,
    GaijiSubstitutionService,
    ResidentSearch,
    ResidentService,
    character_of,
    resident_schema,
    substitution_schema,
)
from sync_format.csv import ProfileError, bundled_profile

MAX_UPLOAD_BYTES = 2 << 30
READ = {"permission": "residents.read"}
IMPORT = {"permission": "residents.import"}
Limit = Annotated[int, QueryParameter(ge=1, le=500, description="page size")]
Offset = Annotated[int, QueryParameter(ge=0, description="rows to skip")]


class ImportNotApplicable(DomainError):
    """The import cannot be applied: already applied, refused, or its file is gone."""

    status_code = 409
    code = "card_import_not_applicable"


class UnknownProfile(DomainError):
    """The named import profile does not exist or is invalid."""

    status_code = 400
    code = "unknown_profile"


async def provide_residents(db_session: NamedDependency[AsyncSession]) -> ResidentService:
    """The resident service on the request's session."""
    return ResidentService(session=db_session)


async def provide_imports(db_session: NamedDependency[AsyncSession]) -> CardImportService:
    """The card import service on the request's session."""
    return CardImportService(session=db_session)


async def provide_substitutions(
    db_session: NamedDependency[AsyncSession],
) -> GaijiSubstitutionService:
    """The 外字 substitution service on the request's session."""
    return GaijiSubstitutionService(session=db_session)


def upload_folder(state: State) -> Path:
    """Where uploaded card lists wait between preview and apply (personal data: 0700)."""
    settings: ZoneSettings = state["settings"]
    folder = settings.zone_dir / "card-imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _staff(request: Request[Any, Any, Any]) -> str | None:
    principal = principal_of(request)
    return principal.name if principal is not None else None


def import_schema(record: CardImport, report: CardImportReport | None = None) -> CardImportRead:
    """The API shape of one import, with the report's problems and warnings when given."""
    return CardImportRead(
        id=record.id,
        file_name=record.file_name,
        sha256=record.sha256,
        size=record.size,
        encoding=record.encoding,
        profile=record.profile,
        status=record.status,
        rows=record.rows,
        new=record.new,
        changed=record.changed,
        unchanged=record.unchanged,
        gaiji=record.gaiji,
        problem_count=record.problem_count,
        warning_count=record.warning_count,
        created_at=record.created_at,
        created_by=record.created_by,
        applied_at=record.applied_at,
        applied_by=record.applied_by,
        problems=report.problems if report else [],
        warnings=report.warnings if report else [],
    )


async def _receive(request: Request[Any, Any, Any], folder: Path) -> tuple[Path, str]:
    """Stream the request body into a private file; return it and its SHA-256."""
    target = folder / f"upload-{secrets.token_hex(8)}.csv"
    digest = hashlib.sha256()
    async with await anyio.open_file(target, "wb") as handle:
        async for chunk in request.stream():
            digest.update(chunk)
            await handle.write(chunk)
    os.chmod(target, 0o600)  # noqa: PTH101 - the path is already a str-able Path
    return target, digest.hexdigest()


class CardImportController(Controller):
    """``/api/card-imports``: upload and preview a card list, apply it, list imports."""

    path = "/api/card-imports"
    tags = ["card imports"]
    dependencies = {"card_imports": Provide(provide_imports)}

    @post(
        "/",
        opt=IMPORT,
        summary="Upload a card list (raw body) and preview it",
        request_max_body_size=MAX_UPLOAD_BYTES,
    )
    async def upload(
        self,
        *,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        state: State,
        file_name: FromQuery[str] = "card-list.csv",
        profile: FromQuery[str] = "default",
    ) -> CardImportRead:
        """Validate every row; answer counts and every bad row. Nothing is applied yet."""
        try:
            chosen = bundled_profile(profile)
        except ProfileError as error:
            raise UnknownProfile(str(error)) from None
        except FileNotFoundError as error:
            raise UnknownProfile(f"import profile {profile!r}: {error}") from None
        folder = upload_folder(state)
        path, _ = await _receive(request, folder)
        try:
            report = await import_card_list(
                db_session,
                path,
                profile=chosen,
                dry_run=True,
                file_name=Path(file_name).name,
                staff=_staff(request),
                refuse=False,
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        record = await db_session.get_one(CardImport, report.card_import_id)
        if record.status == "previewed":
            path.rename(folder / f"{record.id}.csv")
        else:
            path.unlink(missing_ok=True)  # refused: nothing to apply later
        return import_schema(record, report)

    @post("/{import_id:int}/apply", opt=IMPORT, summary="Apply a previewed card list")
    async def apply(
        self,
        *,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        card_imports: NamedDependency[CardImportService],
        state: State,
        import_id: FromPath[int],
    ) -> CardImportRead:
        """Apply the previewed file; refused (422, every bad row) if any row is bad now."""
        record = await _get_import(card_imports, import_id)
        path = upload_folder(state) / f"{record.id}.csv"
        if record.status != "previewed" or not path.exists():
            raise ImportNotApplicable(
                f"card import {import_id} is {record.status}; upload the file again to import it"
            )
        report = await import_card_list(
            db_session,
            path,
            profile=bundled_profile(record.profile),
            staff=_staff(request),
            record=record,
        )
        path.unlink(missing_ok=True)
        return import_schema(record, report)

    @get("/", opt=IMPORT, summary="List card imports (newest first)")
    async def list_imports(
        self,
        *,
        card_imports: NamedDependency[CardImportService],
        status: FromQuery[str | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> OffsetPagination[CardImportRead]:
        """Every card list seen, with counts; filter by status."""
        filters: list[Any] = [LimitOffset(limit=limit, offset=offset)]
        if status:
            filters.append(CardImport.status == status)
        rows, total = await card_imports.get_many_and_count(
            *filters, order_by=(CardImport.id, True)
        )
        return OffsetPagination(
            items=[import_schema(row) for row in rows], limit=limit, offset=offset, total=total
        )

    @get("/{import_id:int}", opt=IMPORT, summary="One card import")
    async def get_import(
        self, *, card_imports: NamedDependency[CardImportService], import_id: FromPath[int]
    ) -> CardImportRead:
        """One import's record."""
        return import_schema(await _get_import(card_imports, import_id))


async def _get_import(card_imports: CardImportService, import_id: int) -> CardImport:
    try:
        return await card_imports.get(import_id)
    except NotFoundError:
        raise NotFoundException(f"no card import {import_id}") from None


class ResidentController(Controller):
    """``/api/residents``: search residents, one resident, their history, 外字 found."""

    path = "/api/residents"
    tags = ["residents"]
    dependencies = {
        "residents": Provide(provide_residents),
        "substitutions": Provide(provide_substitutions),
    }

    @get("/", opt=READ, summary="Search residents")
    async def search(
        self,
        *,
        residents: NamedDependency[ResidentService],
        substitutions: NamedDependency[GaijiSubstitutionService],
        reservation_id: FromQuery[str | None] = None,
        shipment_no: FromQuery[str | None] = None,
        application_id: FromQuery[str | None] = None,
        name: Annotated[
            str | None,
            QueryParameter(description="start of the name or kana; width and spaces ignored"),
        ] = None,
        birth_date: Annotated[
            str | None, QueryParameter(description="1985-02-14, 昭和60年2月14日, S60.02.14, ...")
        ] = None,
        has_gaiji: FromQuery[bool | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> OffsetPagination[ResidentRead]:
        """Residents matching every given filter, by reservation ID."""
        search = ResidentSearch(
            reservation_id=reservation_id,
            shipment_no=shipment_no,
            application_id=application_id,
            name=name,
            birth_date=birth_date,
            has_gaiji=has_gaiji,
        )
        rows, total = await residents.search(search, limit=limit, offset=offset)
        table = await substitutions.table()
        return OffsetPagination(
            items=[resident_schema(row, table) for row in rows],
            limit=limit,
            offset=offset,
            total=total,
        )

    @get("/{resident_id:int}", opt=READ, summary="One resident")
    async def get_resident(
        self,
        *,
        residents: NamedDependency[ResidentService],
        substitutions: NamedDependency[GaijiSubstitutionService],
        resident_id: FromPath[int],
    ) -> ResidentRead:
        """One resident, with 外字 substituted in ``display_name``."""
        try:
            resident = await residents.get(resident_id)
        except NotFoundError:
            raise NotFoundException(f"no resident {resident_id}") from None
        return resident_schema(resident, await substitutions.table())

    @get("/{resident_id:int}/history", opt=READ, summary="A resident's earlier values")
    async def history(
        self, *, residents: NamedDependency[ResidentService], resident_id: FromPath[int]
    ) -> list[ResidentHistoryRead]:
        """What each import changed for this resident, newest first."""
        return await residents.history(resident_id)


class GaijiController(Controller):
    """``/api/gaiji``: the 外字 found in residents' data and the substitution table."""

    path = "/api/gaiji"
    tags = ["gaiji"]
    dependencies = {"substitutions": Provide(provide_substitutions)}

    @get("/characters", opt=READ, summary="外字 found in residents' names and addresses")
    async def characters(
        self, *, substitutions: NamedDependency[GaijiSubstitutionService]
    ) -> list[GaijiCharacterRead]:
        """Each private-use character, how many residents have it, and its substitution."""
        return await substitutions.characters()

    @get("/substitutions", opt=READ, summary="The 外字 substitution table")
    async def list_substitutions(
        self, *, substitutions: NamedDependency[GaijiSubstitutionService]
    ) -> list[GaijiSubstitutionRead]:
        """Every substitution staff have set."""
        return [substitution_schema(row) for row in await substitutions.get_many()]

    @put("/substitutions/{code:str}", opt=IMPORT, summary="Set the substitution of one 外字")
    async def put_substitution(
        self,
        *,
        request: Request[Any, Any, Any],
        substitutions: NamedDependency[GaijiSubstitutionService],
        code: FromPath[str],
        data: JSONBody[GaijiSubstitutionWrite],
    ) -> GaijiSubstitutionRead:
        """``code`` is ``U+E000``, ``E000`` or the character; replaces any earlier value."""
        row = await substitutions.put(
            character_of(code), data.replacement, data.note, _staff(request)
        )
        return substitution_schema(row)

    @delete("/substitutions/{code:str}", opt=IMPORT, summary="Remove the substitution of a 外字")
    async def delete_substitution(
        self, *, substitutions: NamedDependency[GaijiSubstitutionService], code: FromPath[str]
    ) -> None:
        """Forget a substitution; names show the private-use character again."""
        row = await substitutions.get_one_or_none(GaijiSubstitution.character == character_of(code))
        if row is None:
            raise NotFoundException(f"no substitution for {code}")
        await substitutions.delete(row.id)


def residents_route_handlers() -> list[ControllerRouterHandler]:
    """The residents controllers, for the issuance app to register."""
    return [CardImportController, ResidentController, GaijiController]
