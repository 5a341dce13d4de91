"""Sync routes of the issuance zone: eligibility exports, receipts, reservation imports.

Files are exchanged as request and response bodies; on the server they live under
``$MADOGUCHI_VAR_DIR/issuance/exports`` and ``.../receipts``. Keys come from
``$MADOGUCHI_VAR_DIR/keys/issuance`` (the operator CLI's default key directory).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.identity.guards import PERMISSION
from api.core.identity.permissions import Permission
from api.core.settings import ZoneSettings
from api.core.uploads import MAX_SYNC_FILE_BYTES, uploaded_file
from api.issuance.exchange.eligibility import (
    ExchangeRefused,
    export_eligibility,
    import_receipt,
    list_exports,
    recipient_keys,
)
from api.issuance.exchange.models import EligibilityExport
from api.issuance.exchange.reservations import (
    import_reservation_bundle,
    import_reservation_csv,
    is_bundle,
)
from api.issuance.exchange.schemas import (
    ExportPage,
    ExportReport,
    ReceiptReport,
    ReservationImportReport,
)
from api.issuance.progress.controllers import actor_of
from sync_format import SyncFormatError, TrustStore, ZoneSecretKeys, load_secret_keys

Limit = Annotated[int, Parameter(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Parameter(ge=0, description="Rows to skip")]
BUNDLE_MEDIA_TYPE = "application/octet-stream"
T = TypeVar("T")


def _settings(state: State) -> ZoneSettings:
    settings: ZoneSettings = state["settings"]
    return settings


def key_dir(state: State) -> Path:
    """The zone's key directory: ``state["key_dir"]`` if set (tests), else under var."""
    configured = state.get("key_dir")
    return Path(configured) if configured else _settings(state).var_dir / "keys" / "issuance"


def _keys(state: State) -> tuple[ZoneSecretKeys, TrustStore]:
    directory = key_dir(state)
    return load_secret_keys(directory), TrustStore.load(directory)


async def _refusing(work: Callable[[], Awaitable[T]]) -> T:
    # A bundle refusal is the operator's problem to see, not a server error.
    try:
        return await work()
    except SyncFormatError as error:
        message = f"{type(error).__name__}: {error}"
        raise ExchangeRefused(message, details={"refusal": type(error).__name__}) from error


async def _upload(data: bytes, suffix: str) -> Path:
    def write() -> Path:
        with tempfile.NamedTemporaryFile(delete=False, suffix=suffix) as handle:
            handle.write(data)
            return Path(handle.name)

    return await asyncio.to_thread(write)


class SyncController(Controller):
    """Exports to, and imports from, the reservation zone."""

    path = "/api/sync"
    tags = ["sync"]

    @get("/exports", opt={PERMISSION: Permission.SYNC_EXPORT.value})
    async def exports(
        self,
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[Offset] = 0,
    ) -> ExportPage:
        """Every eligibility export (sequence, digest, counts) and its receipt, newest first."""
        return await list_exports(db_session, limit=limit, offset=offset)

    @post("/exports", opt={PERMISSION: Permission.SYNC_EXPORT.value})
    async def export(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        state: State,
        full: FromQuery[bool] = False,
    ) -> ExportReport:
        """Write the next eligibility bundle (full the first time, then deltas)."""

        async def work() -> ExportReport:
            keys, trusted = _keys(state)
            return await export_eligibility(
                db_session,
                _settings(state).zone_dir / "exports",
                sender=keys,
                recipient=recipient_keys(trusted),
                actor=actor_of(request),
                full=full,
            )

        return await _refusing(work)

    @get("/exports/{sequence:int}/bundle", opt={PERMISSION: Permission.SYNC_EXPORT.value})
    async def export_file(
        self,
        db_session: NamedDependency[AsyncSession],
        state: State,
        sequence: FromPath[int],
    ) -> Response[bytes]:
        """Download an exported bundle to carry to the reservation zone."""
        name = await db_session.scalar(
            select(EligibilityExport.file_name).where(EligibilityExport.sequence == sequence)
        )
        if name is None:
            message = f"no export with sequence {sequence}"
            raise ExchangeRefused(message)
        path = _settings(state).zone_dir / "exports" / name
        content = await asyncio.to_thread(path.read_bytes)
        return Response(
            content,
            media_type=BUNDLE_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @post(
        "/receipts",
        opt={PERMISSION: Permission.SYNC_IMPORT.value},
        request_max_body_size=MAX_SYNC_FILE_BYTES,
    )
    async def receipt(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        state: State,
    ) -> ReceiptReport:
        """Import a receipt bundle (the body): mark exports applied, show what was refused."""
        path = await _upload(await uploaded_file(request), ".bundle")
        try:
            keys, trusted = _keys(state)
            return await _refusing(
                lambda: import_receipt(db_session, path, keys=keys, trusted=trusted)
            )
        finally:
            await asyncio.to_thread(path.unlink)

    @post(
        "/reservations",
        opt={PERMISSION: Permission.SYNC_IMPORT.value},
        request_max_body_size=MAX_SYNC_FILE_BYTES,
    )
    async def reservations(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        state: State,
        dry_run: FromQuery[bool] = False,
    ) -> ReservationImportReport:
        """Import (or preview) a reservation bundle or a 予約一覧CSV sent as the body."""
        data = await uploaded_file(request)
        actor = actor_of(request)
        if not is_bundle(data):
            return await import_reservation_csv(
                db_session,
                data,
                file_name="upload.csv",
                tz=_settings(state).tz,
                actor=actor,
                dry_run=dry_run,
            )
        path = await _upload(data, ".bundle")
        try:
            keys, trusted = _keys(state)
            return await _refusing(
                lambda: import_reservation_bundle(
                    db_session,
                    path,
                    keys=keys,
                    trusted=trusted,
                    actor=actor,
                    receipt_dir=_settings(state).zone_dir / "receipts",
                    dry_run=dry_run,
                )
            )
        finally:
            await asyncio.to_thread(path.unlink)

    @get("/receipts/{file_name:str}", opt={PERMISSION: Permission.SYNC_IMPORT.value})
    async def receipt_file(
        self,
        state: State,
        file_name: FromPath[Annotated[str, Parameter(pattern=r"^receipt-[0-9a-z-]+\.bundle$")]],
    ) -> Response[bytes]:
        """Download a receipt bundle to carry back to the reservation zone."""
        path = _settings(state).zone_dir / "receipts" / file_name
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            message = f"no receipt {file_name}"
            raise ExchangeRefused(message) from None
        return Response(
            content,
            media_type=BUNDLE_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
        )


def exchange_route_handlers() -> list[type[Controller]]:
    """The controllers the issuance app registers for the sync exchange."""
    return [SyncController]
