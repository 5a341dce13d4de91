"""Routes of the exchange: reservation lists (reservations.read) and USB sync (sync.*)."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, Parameter
from litestar.response import File
from litestar.status_codes import HTTP_200_OK
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.settings import ZoneSettings
from api.core.uploads import MAX_SYNC_FILE_BYTES, TOO_LARGE_HANDLERS
from api.reservation.booking.config import cached_booking_settings
from api.reservation.exchange.eligibility import EligibilityReport, import_eligibility
from api.reservation.exchange.export import (
    ExportReport,
    begin_consistent_export,
    export_reservations,
)
from api.reservation.exchange.receipts import (
    ReceiptReport,
    import_receipt,
    logged_counts,
    plan_receipt,
    write_receipt,
)
from api.reservation.exchange.reservations import (
    ReservationView,
    list_reservations,
    list_row,
    search_parameters,
)
from api.reservation.exchange.streams import key_dir, load_exchange_keys
from api.reservation.places.schemas import Page
from sync_format import Outcome, SyncFormatError
from sync_format.csv.reservation_list import write_reservation_list

Limit = Annotated[int, Parameter(ge=1, le=500)]
Offset = Annotated[int, Parameter(ge=0)]
Upload = Annotated[UploadFile, Body(media_type=RequestEncodingType.MULTI_PART)]
OUTBOX: Final = "outbox"
_CHUNK: Final = 1 << 20


class BundleFileRefused(DomainError):
    """The file is not an authentic, intact bundle for this zone (sync_format's reason)."""

    status_code = 422
    code = "bundle_file_refused"


class OutboxFileNotFound(DomainError):
    """No such file in the outbox."""

    status_code = 404
    code = "not_found"


class EligibilityImported(EligibilityReport, kw_only=True):
    """An eligibility import's report and, once applied, the receipt to carry back."""

    receipt_file: str | None = None


def _settings(state: State) -> ZoneSettings:
    settings: ZoneSettings = state["settings"]
    return settings


def outbox(settings: ZoneSettings) -> Path:
    """Where the staff console leaves files to carry to the issuance zone."""
    return settings.zone_dir / OUTBOX


async def _saved(upload: UploadFile, directory: Path) -> Path:
    # The bundle reader needs a file it can read twice; the upload is ciphertext. Copied in
    # chunks: a bundle may be hundreds of megabytes.
    handle = tempfile.NamedTemporaryFile(dir=directory, suffix=".bundle", delete=False)  # noqa: SIM115
    with handle:
        while chunk := await upload.read(_CHUNK):
            handle.write(chunk)
    return Path(handle.name)


class ReservationListController(Controller):
    """Reservations by location and day, search, and the day's 予約一覧CSV."""

    path = "/api/staff/reservations"
    tags = ["reservations"]

    @get("/", opt={"permission": "reservations.read"})
    async def search(
        self,
        *,
        db_session: NamedDependency[AsyncSession],
        state: State,
        location: FromQuery[str | None] = None,
        date: FromQuery[dt.date | None] = None,
        q: FromQuery[str | None] = None,
        limit: FromQuery[Limit] = 100,
        offset: FromQuery[Offset] = 0,
    ) -> Page[ReservationView]:
        """Reservations at a location on a day, or found by reservation ID or code (``q``)."""
        parameters = search_parameters(
            location_code=location, day=date, search=q, tz=_settings(state).tz
        )
        items, total = await list_reservations(db_session, parameters, limit=limit, offset=offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/list.csv", opt={"permission": "reservations.read"})
    async def csv(
        self,
        db_session: NamedDependency[AsyncSession],
        state: State,
        location: FromQuery[str],
        date: FromQuery[dt.date],
        encoding: FromQuery[Annotated[str, Parameter(pattern="^(utf-8-sig|cp932)$")]] = "utf-8-sig",
    ) -> Response[bytes]:
        """予約一覧CSV of one location and day (UTF-8 with BOM, or CP932)."""
        tz = _settings(state).tz
        parameters = search_parameters(location_code=location, day=date, search=None, tz=tz)
        views, _ = await list_reservations(db_session, parameters, limit=100_000, offset=0)
        buffer = io.BytesIO()
        write_reservation_list(buffer, (list_row(view, tz) for view in views), encoding=encoding)
        name = f"reservations-{location}-{date.isoformat()}.csv"
        return Response(
            buffer.getvalue(),
            media_type=f"text/csv; charset={'shift_jis' if encoding == 'cp932' else 'utf-8'}",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


class SyncController(Controller):
    """Eligibility and receipt imports from the issuance zone, reservations exports to it."""

    path = "/api/staff/sync"
    tags = ["sync"]

    @post(
        "/eligibility",
        opt={"permission": "sync.import"},
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_SYNC_FILE_BYTES,
        exception_handlers=TOO_LARGE_HANDLERS,
    )
    async def eligibility(
        self,
        db_session: NamedDependency[AsyncSession],
        state: State,
        data: Upload,
        dry_run: FromQuery[bool] = True,
        force_gap: FromQuery[bool] = False,
    ) -> EligibilityImported:
        """Preview (``dry_run``, the default) or apply an eligibility bundle.

        Once applied, the receipt for the issuance zone is left in the outbox.
        """
        settings = _settings(state)
        directory = outbox(settings)
        directory.mkdir(parents=True, exist_ok=True)
        path = await _saved(data, directory)
        try:
            keys = load_exchange_keys(key_dir(settings))
            report, bundle = await import_eligibility(
                db_session,
                path,
                keys,
                password_key=cached_booking_settings(settings).password_key,
                now=dt.datetime.now(settings.tz),
                dry_run=dry_run,
                force_gap=force_gap,
            )
            result = EligibilityImported(
                **{f: getattr(report, f) for f in report.__struct_fields__}
            )
            if dry_run:
                return result
            counts = (
                report.receipt_counts
                if report.outcome != Outcome.ALREADY_APPLIED
                else await logged_counts(db_session, bundle)
            )
            plan = await plan_receipt(db_session, bundle, counts)
            await db_session.commit()
            result.receipt_file = write_receipt(plan, keys, directory).name
            return result
        except SyncFormatError as error:
            raise BundleFileRefused(str(error), details={"reason": type(error).__name__}) from error
        finally:
            path.unlink(missing_ok=True)

    @post("/receipts", opt={"permission": "sync.import"}, status_code=HTTP_200_OK)
    async def receipt(
        self, db_session: NamedDependency[AsyncSession], state: State, data: Upload
    ) -> ReceiptReport:
        """Import the issuance zone's receipt for reservations bundles."""
        settings = _settings(state)
        directory = outbox(settings)
        directory.mkdir(parents=True, exist_ok=True)
        path = await _saved(data, directory)
        try:
            keys = load_exchange_keys(key_dir(settings))
            return await import_receipt(db_session, path, keys, now=dt.datetime.now(settings.tz))
        except SyncFormatError as error:
            raise BundleFileRefused(str(error), details={"reason": type(error).__name__}) from error
        finally:
            path.unlink(missing_ok=True)

    @post("/reservations", opt={"permission": "sync.export"}, status_code=HTTP_200_OK)
    async def export(
        self, db_session: NamedDependency[AsyncSession], state: State, full: FromQuery[bool] = False
    ) -> ExportReport:
        """Write the next reservations bundle (and its 予約一覧CSV) into the outbox."""
        settings = _settings(state)
        directory = outbox(settings)
        try:
            keys = load_exchange_keys(key_dir(settings))
            await begin_consistent_export(db_session)
            report = await export_reservations(
                db_session,
                keys,
                directory,
                full=full,
                now=dt.datetime.now(settings.tz),
                tz=settings.tz,
            )
            # The files take their names with the commit (a rollback deletes them).
            await db_session.commit()
        except SyncFormatError as error:
            await db_session.rollback()
            raise BundleFileRefused(str(error), details={"reason": type(error).__name__}) from error
        return file_names_only(report)

    @get("/outbox/{name:str}", opt={"permission": "sync.export"})
    async def download(self, state: State, name: FromPath[str]) -> File:
        """Download a file from the outbox (a receipt, a reservations bundle or its CSV)."""
        directory = outbox(_settings(state)).resolve()
        path = (directory / name).resolve()
        if path.parent != directory or not path.is_file() or name.startswith("."):
            message = f"There is no file {name!r} in the outbox."
            raise OutboxFileNotFound(message)
        return File(path=path, filename=name)


def file_names_only(report: ExportReport) -> ExportReport:
    """Show only file names (not server paths) to the console."""
    return msgspec.structs.replace(
        report,
        bundle=Path(report.bundle).name,
        csv=Path(report.csv).name if report.csv else None,
    )


def exchange_route_handlers() -> list[ControllerRouterHandler]:
    """The exchange routes, for the reservation app to register."""
    handlers: list[Any] = [ReservationListController, SyncController]
    return handlers
