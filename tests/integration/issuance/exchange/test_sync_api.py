from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.progress.rules import Action
from sync_format import TrustStore, ZoneSecretKeys, init_keys, load_secret_keys, open_bundle
from sync_format.csv import Channel, ReservationListRow, ReservationStatus, write_reservation_list
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
