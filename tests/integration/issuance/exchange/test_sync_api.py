from __future__ import annotations

import codecs
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.exchange.controllers import MAX_SYNC_FILE_BYTES
from api.issuance.progress.rules import Action
from sync_format import TrustStore, ZoneSecretKeys, init_keys, load_secret_keys, open_bundle
from sync_format.csv import Channel, ReservationListRow, ReservationStatus, write_reservation_list
from sync_format.header import MAGIC
from tests.integration.issuance.progress.factories import add_residents, advance


async def test_export_over_http_then_download_the_bundle(
    progress_client: AsyncTestClient[Litestar], committed_session: AsyncSession, tmp_path: Path
) -> None:
    residents = await add_residents(committed_session, 2)
    await advance(committed_session, residents[:1], Action.PRESETUP_DONE)
    await committed_session.commit()
    key_dir = tmp_path / "keys" / "issuance"
    init_keys(key_dir, "issuance")
    reservation = ZoneSecretKeys.generate("reservation")
    TrustStore([reservation.public()]).save(key_dir)

    exported = await progress_client.post("/api/sync/exports")
    history = await progress_client.get("/api/sync/exports")
    download = await progress_client.get("/api/sync/exports/1/bundle")

    assert exported.status_code == 201, exported.text
    assert (exported.json()["sequence"], exported.json()["upserts"]) == (1, 1)
    assert history.json()["items"][0]["digest"] == exported.json()["digest"]
    path = tmp_path / "carried.bundle"
    path.write_bytes(download.content)
    bundle = open_bundle(
        path, recipient=reservation, trusted=TrustStore([load_secret_keys(key_dir).public()])
    )
    assert [r.reservation_id for r in bundle.records()] == [residents[0].reservation_id]


async def test_export_without_pinned_keys_is_refused_cleanly(
    progress_client: AsyncTestClient[Litestar],
) -> None:
    answer = await progress_client.post("/api/sync/exports")

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "exchange_refused"


async def test_reservation_list_upload_previews_then_imports(
    progress_client: AsyncTestClient[Litestar], committed_session: AsyncSession
) -> None:
    residents = await add_residents(committed_session, 1)
    await advance(committed_session, residents, Action.PRESETUP_DONE)
    await committed_session.commit()
    buffer = io.BytesIO()
    write_reservation_list(
        buffer,
        [
            ReservationListRow(
                confirmation_code="K0000001",
                reservation_id=residents[0].reservation_id,
                location_code="north",
                location_name="北支所",
                date=dt.date(2026, 5, 11),
                start_time=dt.time(9, 30),
                end_time=dt.time(9, 45),
                status=ReservationStatus.BOOKED,
                channel=Channel.PHONE,
                updated_at=dt.datetime(2026, 5, 1, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
            )
        ],
    )

    preview = await progress_client.post(
        "/api/sync/reservations", content=buffer.getvalue(), params={"dry_run": "true"}
    )
    applied = await progress_client.post("/api/sync/reservations", content=buffer.getvalue())
    again = await progress_client.post("/api/sync/reservations", content=buffer.getvalue())
    page = await progress_client.get(f"/api/resident-pages/{residents[0].reservation_id}")

    assert (preview.json()["outcome"], preview.json()["reserved"]) == ("preview", 1)
    assert (applied.json()["outcome"], applied.json()["imported"]) == ("applied", 1)
    assert again.json()["outcome"] == "already_applied"
    assert page.json()["phase"] == "reserved"
    assert page.json()["bookings"][0]["location_name"] == "北支所"


def _pin_keys(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys" / "issuance"
    init_keys(key_dir, "issuance")
    TrustStore([ZoneSecretKeys.generate("reservation").public()]).save(key_dir)


async def test_reservation_and_receipt_uploads_over_litestars_default_10_mb_are_read(
    progress_client: AsyncTestClient[Litestar], tmp_path: Path
) -> None:
    _pin_keys(tmp_path)
    eleven_mib = bytes(11 << 20)

    # Refused for what they hold, which means they were read, not for their size.
    csv = await progress_client.post(
        "/api/sync/reservations", content=codecs.BOM_UTF16_LE + eleven_mib
    )
    bundle = await progress_client.post("/api/sync/reservations", content=MAGIC + eleven_mib)
    receipt = await progress_client.post("/api/sync/receipts", content=MAGIC + eleven_mib)

    for answer in (csv, bundle, receipt):
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "exchange_refused"
    assert csv.json()["error"]["details"]["problems"][0]["code"] == "file.unsupported_encoding"


async def test_sync_uploads_over_the_limit_are_refused_with_the_limit_named(
    progress_client: AsyncTestClient[Litestar],
) -> None:
    for path in ("/api/sync/reservations", "/api/sync/receipts"):
        # The announced size is enough: the route refuses before reading the body.
        answer = await progress_client.post(
            path, content=b"x", headers={"Content-Length": str(MAX_SYNC_FILE_BYTES + 1)}
        )

        assert answer.status_code == 413
        error = answer.json()["error"]
        assert error["code"] == "too_large"
        assert error["message"] == (
            f"the uploaded file is larger than 256 MiB, the most {path} accepts"
        )
