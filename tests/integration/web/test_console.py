"""The staff console: forms over the API's own login, guard, CSRF and services."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.settings import Zone
from api.issuance.app import create_app
from api.issuance.exchange.models import Booking
from api.issuance.locations.schemas import CounterLocationInput
from api.issuance.locations.services import CounterLocationService
from api.issuance.models import CORE_TABLES, Resident
from api.issuance.progress.rules import Action
from tests.conftest import truncate_all
from tests.integration.issuance.progress.factories import add_residents, advance
from tests.staff import BASE_URL, STAFF_PASSWORD, create_staff_account, loopback_peer
from tests.support import make_settings

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = dt.date(2026, 5, 11)
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
async def console(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of the real issuance app, not logged in (tables emptied afterwards)."""
    url = zone_database_urls[Zone.ISSUANCE]
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    app = create_app(settings, url)
    app.on_startup.append(loopback_peer)
    # Some account must hold users.manage before any other is made.
    await create_staff_account(url, settings, CORE_TABLES, "admin", ["users.manage"])
    await create_staff_account(
        url,
        settings,
        CORE_TABLES,
        "clerk",
        ["residents.read", "reservations.read", "progress.update"],
    )
    await create_staff_account(url, settings, CORE_TABLES, "reader", ["residents.read"])
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        yield client
    await truncate_all(url)


@pytest.fixture
async def desk(zone_database_urls: dict[Zone, str]) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(zone_database_urls[Zone.ISSUANCE], poolclass=NullPool)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await engine.dispose()


def _token(page: httpx.Response) -> str:
    found = _TOKEN.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def _log_in(client: AsyncTestClient[Litestar], login_id: str) -> httpx.Response:
    form = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={
            "login_id": login_id,
            "password": STAFF_PASSWORD,
            "next_page": "/console/",
            "_csrf_token": _token(form),
        },
    )


async def _booked_household(session: AsyncSession) -> list[Resident]:
    residents = await add_residents(session, 2)
    await advance(session, residents[:1], Action.PRESETUP_DONE)
    await CounterLocationService(session=session).add(
        CounterLocationInput(code="city-hall", name="本庁舎"), staff="tester"
    )
    start = dt.datetime.combine(DAY, dt.time(10, 0), tzinfo=TOKYO)
    # One booking row per member of the household, under one confirmation code.
    session.add_all(
        Booking(
            resident_id=member.id,
            confirmation_code="K7Q2M9XA",
            location_code="city-hall",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=15),
            status="booked",
            channel="web",
            companion_ids=[other.reservation_id for other in residents if other is not member],
            memo="",
            source_updated_at=start - dt.timedelta(days=2),
        )
        for member in residents
    )
    await session.commit()
    return residents


async def test_a_visit_before_login_leads_to_the_login_form_and_back(
    console: AsyncTestClient[Litestar],
) -> None:
    first = await console.get("/console/residents", follow_redirects=False)
    wrong_form = await console.get("/console/login")
    wrong = await console.post(
        "/console/login",
        data={"login_id": "clerk", "password": "a wrong one", "_csrf_token": _token(wrong_form)},
    )
    forged = await console.post(
        "/console/login", data={"login_id": "clerk", "password": STAFF_PASSWORD}
    )
    logged_in = await _log_in(console, "clerk")

    assert first.status_code in {302, 303}
    assert first.headers["location"] == "/console/login?next_page=%2Fconsole%2Fresidents"
    # The one answer for every failure, in Japanese by default.
    assert wrong.status_code == 401
    assert "ログインIDまたはパスワードが違う" in wrong.text
    assert forged.status_code == 403  # no CSRF token: refused before the password is read
    assert logged_in.status_code == 200
    assert "状態別のカード枚数" in logged_in.text
    assert str(logged_in.url).endswith("/console/")


async def test_staff_find_a_resident_read_the_page_and_add_a_memo(
    console: AsyncTestClient[Litestar], desk: AsyncSession
) -> None:
    residents = await _booked_household(desk)
    await _log_in(console, "clerk")

    by_kana = await console.get("/console/residents", params={"name": "ﾐﾎﾝ ﾀﾛｳ1"})
    bad_day = await console.get("/console/residents", params={"birth_date": "someday"})
    rid = residents[0].reservation_id
    page = await console.get(f"/console/residents/{rid}")
    noted = await console.post(
        f"/console/residents/{rid}/memos",
        data={"body": "電話あり 来週来庁", "_csrf_token": _token(page)},
    )
    empty = await console.post(
        f"/console/residents/{rid}/memos", data={"body": " ", "_csrf_token": _token(page)}
    )
    unknown = await console.get("/console/residents/ZZZ-999999")

    assert by_kana.status_code == 200
    assert f"/console/residents/{rid}" in by_kana.text
    assert bad_day.status_code == 200
    assert "1985-02-14" in bad_day.text
    assert "交付前設定済" in page.text  # the phase, in words
    assert noted.status_code == 200
    assert "電話あり 来週来庁" in noted.text
    assert "メモを追加しました" in noted.text
    assert empty.status_code == 422
    assert unknown.status_code == 404


async def test_the_visitor_list_shows_the_household_and_records_marks_with_their_refusals(
    console: AsyncTestClient[Litestar], desk: AsyncSession
) -> None:
    ready, companion = await _booked_household(desk)
    await _log_in(console, "clerk")
    day = {"location_code": "city-hall", "day": DAY.isoformat()}

    listed = await console.get("/console/visitors", params=day)
    token = _token(listed)

    def mark(resident: Resident, value: str) -> dict[str, str]:
        return {
            **day,
            "confirmation_code": "K7Q2M9XA",
            "reservation_id": resident.reservation_id,
            "mark": value,
            "_csrf_token": token,
        }

    issued = await console.post("/console/visitors/attendance", data=mark(ready, "issued"))
    not_ready = await console.post("/console/visitors/attendance", data=mark(companion, "issued"))
    arrived = await console.post("/console/visitors/attendance", data=mark(companion, "arrived"))
    page = await console.get(f"/console/residents/{ready.reservation_id}")

    assert listed.status_code == 200
    assert "世帯 2 人" in listed.text
    assert listed.text.count("準備済") == 1
    assert issued.status_code == 200
    assert "記録しました" in issued.text
    assert ready.reservation_id in issued.text
    # A card without 交付前設定 cannot be handed over: the card's own reason is shown.
    assert not_ready.status_code == 409
    assert "記録しませんでした" in not_ready.text
    assert arrived.status_code == 200
    assert "交付済" in page.text


async def test_a_page_beyond_the_accounts_permissions_says_so_and_changes_nothing(
    console: AsyncTestClient[Litestar], desk: AsyncSession
) -> None:
    residents = await _booked_household(desk)
    await _log_in(console, "reader")
    rid = residents[0].reservation_id

    visitors = await console.get("/console/visitors")
    page = await console.get(f"/console/residents/{rid}")
    memo = await console.post(
        f"/console/residents/{rid}/memos", data={"body": "試し", "_csrf_token": _token(page)}
    )
    again = await console.get(f"/console/residents/{rid}")

    assert visitors.status_code == 403
    assert "reservations.read" in visitors.text
    assert memo.status_code == 403
    assert "試し" not in again.text


async def test_a_first_login_leads_to_the_password_form_before_anything_else(
    console: AsyncTestClient[Litestar], desk: AsyncSession
) -> None:
    await desk.execute(
        text("UPDATE staff_accounts SET must_change_password = true WHERE login_id = 'clerk'")
    )
    await desk.commit()

    logged_in = await _log_in(console, "clerk")
    elsewhere = await console.get("/console/residents")
    token = _token(elsewhere)
    differing = await console.post(
        "/console/password",
        data={
            "current_password": STAFF_PASSWORD,
            "new_password": "a new and long passphrase",
            "new_password_again": "another long passphrase",
            "_csrf_token": token,
        },
    )
    short = await console.post(
        "/console/password",
        data={
            "current_password": STAFF_PASSWORD,
            "new_password": "short",
            "new_password_again": "short",
            "_csrf_token": token,
        },
    )
    changed = await console.post(
        "/console/password",
        data={
            "current_password": STAFF_PASSWORD,
            "new_password": "a new and long passphrase",
            "new_password_again": "a new and long passphrase",
            "_csrf_token": token,
        },
    )
    then = await console.get("/console/residents")

    assert str(logged_in.url).endswith("/console/password")
    assert str(elsewhere.url).endswith("/console/password")
    assert differing.status_code == 422
    assert "一致しません" in differing.text
    assert short.status_code == 422
    assert "パスワードは変更されていません" in short.text
    assert changed.status_code == 200
    assert "パスワードを変更しました" in changed.text
    assert then.status_code == 200
    assert "交付対象者の検索" in then.text


async def test_a_dated_step_is_listed_on_its_day_and_an_illegal_step_is_refused_in_words(
    console: AsyncTestClient[Litestar], desk: AsyncSession
) -> None:
    ready, waiting = await _booked_household(desk)
    await _log_in(console, "clerk")
    page = await console.get(f"/console/residents/{waiting.reservation_id}")
    token = _token(page)

    recorded = await console.post(
        f"/console/residents/{waiting.reservation_id}/changes",
        data={"action": "presetup_done", "occurred_on": "2026-04-01", "_csrf_token": token},
    )
    illegal = await console.post(
        f"/console/residents/{waiting.reservation_id}/changes",
        data={"action": "presetup_done", "_csrf_token": token},
    )
    unknown_action = await console.post(
        f"/console/residents/{waiting.reservation_id}/changes",
        data={"action": "reserved", "_csrf_token": token},
    )
    that_day = await console.get(
        "/console/cards",
        params={
            "phase": "presetup_done",
            "reached_from": "2026-04-01",
            "reached_until": "2026-04-01",
        },
    )
    backwards = await console.get(
        "/console/cards", params={"reached_from": "2026-04-02", "reached_until": "2026-04-01"}
    )

    assert recorded.status_code == 200
    assert "状態を記録しました" in recorded.text
    assert illegal.status_code == 409
    assert "交付前設定は記録済み" in illegal.text
    assert unknown_action.status_code == 422  # the phone-booking step is not staff's to record
    assert that_day.status_code == 200
    assert waiting.reservation_id in that_day.text
    assert ready.reservation_id not in that_day.text  # set up today, not on 2026-04-01
    assert "2026年4月1日" in that_day.text
    assert "/api/progress/cards.csv?phase=presetup_done" in that_day.text
    assert backwards.status_code == 400
    assert "reached_from" in backwards.text
