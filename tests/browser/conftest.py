"""A real server and Debian's Chromium for the resident site's browser tests.

The server is ``madoguchi reservation serve`` (uvicorn on ``api.reservation.app:create_app``)
against a fresh, migrated database with demo data. Chromium is ``/usr/bin/chromium``
(never a downloaded build); without it these tests are skipped with a message, except
with ``CI=true``, where a missing browser fails the run. Screenshots: ``artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import pytest
from advanced_alchemy.alembic.commands import AlembicCommands
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.database import asyncpg_url, create_sqlalchemy_config, ensure_database
from api.core.settings import Zone
from tests.browser.seeding import ENVIRONMENT, seed_site
from tests.support import free_port, missing_tool, served_zone

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


def _missing(what: str) -> NoReturn:
    missing_tool(f"{what}: the browser tests need it (see .ci/run and `make install`)")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, or a skip (a failure with CI=true)."""
    if not CHROMIUM.is_file():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    if not AXE.is_file():
        _missing(f"no axe-core at {AXE} (npm ci)")
    return CHROMIUM


def _drop_database(admin_url: str, name: str) -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(asyncpg_url(admin_url).replace("+asyncpg", ""))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def _prepare_database(admin_url: str, name: str) -> str:
    async def seed(url: str) -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        async with async_sessionmaker(engine)() as session, session.begin():
            await seed_site(session)
        await engine.dispose()

    _drop_database(admin_url, name)
    url = asyncpg_url(admin_url, name)
    asyncio.run(ensure_database(url))
    AlembicCommands(create_sqlalchemy_config(Zone.RESERVATION, url, null_pool=True)).upgrade("head")
    asyncio.run(seed(url))
    return url


def _in_thread(function: Any, *args: Any) -> Any:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function, *args).result()


@pytest.fixture(scope="session")
def site_database(chromium: Path, postgres_admin_url: str) -> Iterator[str]:
    """A fresh reservation database with demo places, slots and residents."""
    name = f"madoguchi_test_browser_{os.getpid()}"
    url = _in_thread(_prepare_database, postgres_admin_url, name)
    yield url
    _in_thread(_drop_database, postgres_admin_url, name)


@pytest.fixture(scope="session")
def server(site_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reservation zone with the resident site, served by uvicorn; yields its base URL."""
    port = free_port()
    var_dir = tmp_path_factory.mktemp("browser-server")
    log = var_dir / "server.log"
    environment = {
        **os.environ,
        **ENVIRONMENT,
        "RESERVATION_DATABASE_URL": site_database,
        "MADOGUCHI_VAR_DIR": str(var_dir),
        "MADOGUCHI_LOG_FORMAT": "json",
        "MADOGUCHI_LOG_LEVEL": "WARNING",
    }
    with served_zone(Zone.RESERVATION, port, environment, log):
        yield f"http://localhost:{port}"


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    """Headless Debian Chromium through Playwright.

    Module-scoped: Playwright's sync API runs an event loop on the main thread while it is
    open, and the async tests that run after these in the same session need it closed.
    """
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        _missing("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


class Site:
    """One browser context on the running server, with the checks every page gets."""

    def __init__(self, browser: Any, base: str, name: str, *, javascript: bool = True) -> None:
        self.base = base
        self.name = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
        self.context = browser.new_context(
            base_url=base,
            viewport=PHONE,
            java_script_enabled=javascript,
            locale="ja-JP",
            timezone_id="Asia/Tokyo",
        )
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.csp_errors: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.csp_errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        self.javascript = javascript
        self.shots = 0

    def goto(self, path: str) -> Any:
        """Open ``path`` on the site."""
        return self.page.goto(self.base + path)

    def check(self, state: str) -> None:
        """Run axe-core on the page, save phone and desktop screenshots, check the CSP."""
        page = self.page
        self.shots += 1
        stem = f"{self.name}-{self.shots:02d}-{state}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{stem}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(SCREENSHOTS / f"{stem}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        if not self.javascript:
            # axe needs script: check the same page's HTML in a scripted context.
            return
        violations = axe_violations(page)
        assert violations == [], f"{state}: axe-core violations {violations}"
        # 320 px must not need sideways scrolling (WCAG 1.4.10 reflow), nor may a table
        # cell's text spill over its neighbours (a 40 px calendar day).
        assert page.evaluate(SPILLING_CELLS) == [], state
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], state
        assert self.csp_errors == [], self.csp_errors


# The text of every table cell whose content is wider than the cell itself.
SPILLING_CELLS = """
Array.from(document.querySelectorAll("td, th"))
    .filter((cell) => cell.scrollWidth > cell.clientWidth + 1)
    .map((cell) => cell.innerText.trim())
"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page (every rule set: WCAG A/AA and best practices)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("async () => (await window.axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in result
    ]


@pytest.fixture
def site(browser: Any, server: str, request: pytest.FixtureRequest) -> Iterator[Site]:
    """A fresh browser context (no cookies) on the site."""
    made = Site(browser, server, request.node.name)
    yield made
    made.context.close()


@pytest.fixture
def make_site(browser: Any, server: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Make more contexts, e.g. a second resident or JavaScript off."""
    made: list[Site] = []

    def factory(suffix: str, **options: Any) -> Site:
        one = Site(browser, server, f"{request.node.name}-{suffix}", **options)
        made.append(one)
        return one

    yield factory
    for one in made:
        one.context.close()
