"""The staff console in a real Chromium on ``madoguchi issuance serve``: axe-core on every page."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from advanced_alchemy.alembic.commands import AlembicCommands
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.database import asyncpg_url, create_sqlalchemy_config, ensure_database
from api.core.settings import Zone
from api.issuance.exchange.models import Booking
from api.issuance.locations.schemas import CounterLocationInput
from api.issuance.locations.services import CounterLocationService
from api.issuance.models import CORE_TABLES
from api.issuance.progress.rules import Action
from tests.browser.conftest import Site, _drop_database, _in_thread
from tests.integration.issuance.progress.factories import add_residents, advance
from tests.staff import STAFF_PASSWORD, create_staff_account
from tests.support import free_port, make_settings, served_zone

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TOKYO = ZoneInfo("Asia/Tokyo")


def _prepare(admin_url: str, name: str, var_dir: Path) -> str:
    async def seed(url: str) -> None:
        settings = make_settings(Zone.ISSUANCE, var_dir)
        await create_staff_account(url, settings, CORE_TABLES, "admin", ["users.manage"])
        await create_staff_account(
            url,
            settings,
            CORE_TABLES,
            "clerk",
            ["residents.read", "reservations.read", "progress.update"],
        )
        engine = create_async_engine(url, poolclass=NullPool)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            residents = await add_residents(session, 3)
            await advance(session, residents, Action.PRESETUP_DONE)
            await CounterLocationService(session=session).add(
                CounterLocationInput(code="city-hall", name="本庁舎"), staff="tester"
            )
            today = dt.datetime.now(TOKYO).date()
            start = dt.datetime.combine(today, dt.time(10, 0), tzinfo=TOKYO)
            session.add(
                Booking(
                    resident_id=residents[0].id,
                    confirmation_code="K7Q2M9XA",
                    location_code="city-hall",
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=15),
                    status="booked",
                    channel="web",
                    companion_ids=[],
                    memo="",
                    source_updated_at=start - dt.timedelta(days=2),
                )
            )
            await session.commit()
        await engine.dispose()

    _drop_database(admin_url, name)
    url = asyncpg_url(admin_url, name)
    asyncio.run(ensure_database(url))
    AlembicCommands(create_sqlalchemy_config(Zone.ISSUANCE, url, null_pool=True)).upgrade("head")
    asyncio.run(seed(url))
    return url


@pytest.fixture(scope="module")
def console_server(
    chromium: Path, postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The issuance zone, served by uvicorn on a fresh database with three residents."""
    name = f"madoguchi_test_console_{os.getpid()}"
    var_dir = tmp_path_factory.mktemp("console-server")
    url = _in_thread(_prepare, postgres_admin_url, name, var_dir)
    port = free_port()
    environment = {
        **os.environ,
        "ISSUANCE_DATABASE_URL": url,
        "MADOGUCHI_VAR_DIR": str(var_dir),
        "MADOGUCHI_LOG_FORMAT": "json",
        "MADOGUCHI_LOG_LEVEL": "WARNING",
    }
    try:
        with served_zone(Zone.ISSUANCE, port, environment, var_dir / "server.log"):
            yield f"http://localhost:{port}"
    finally:
        _in_thread(_drop_database, postgres_admin_url, name)


@pytest.fixture
def console(browser: Any, console_server: str, request: pytest.FixtureRequest) -> Iterator[Site]:
    made = Site(browser, console_server, request.node.name)
    yield made
    made.context.close()


def test_a_clerk_logs_in_finds_a_resident_notes_a_call_and_marks_a_visitor(
    console: Site,
) -> None:
    page = console.page
    console.goto("/console/visitors")
    page.wait_for_url("**/console/login?next_page=%2Fconsole%2Fvisitors")
    console.check("login")
    page.fill("#login_id", "clerk")
    page.fill("#password", STAFF_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/console/visitors")
    console.check("visitors")
    assert "予約者 1 人" in page.inner_text("main")

    page.click("button[value=arrived]")
    page.wait_for_url("**marked=*")
    console.check("marked")
    assert "来庁" in page.inner_text("table")

    page.click("text=交付対象者の検索")
    page.fill("#name", "ミホン タロウ2")
    page.click("main button[type=submit]")
    console.check("search")
    page.click("main table a")
    page.wait_for_url("**/console/residents/T00-000002")
    console.check("resident")
    page.fill("#body", "電話あり、来週来庁予定")
    page.click("text=メモを追加")
    page.wait_for_url("**noted=1*")
    console.check("memo")
    assert "電話あり、来週来庁予定" in page.inner_text("#main")

    page.select_option("#action", "notice_printed")
    page.click("form[action$='/changes'] button[type=submit]")
    page.wait_for_url("**recorded=1*")
    console.check("recorded")

    page.click("text=ダッシュボード")
    console.check("dashboard")
    page.click("main >> text=交付案内送付済")
    page.wait_for_url("**/console/cards?phase=notice_sent")
    console.check("cards")
    assert "T00-000002" in page.inner_text("main table")
