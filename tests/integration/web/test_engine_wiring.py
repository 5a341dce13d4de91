"""The resident site on the real booking engine: log, sessions, rules, refusals."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.middleware.session.client_side import ClientSideSessionBackend
from litestar.testing import AsyncTestClient

from api.core.errors import DomainError
from api.core.settings import Zone
from api.reservation.app import create_app
from api.reservation.booking import refusals
from tests.browser.seeding import ENVIRONMENT, PASSWORD, SECRET_KEY, resident_id
from tests.integration.web.test_resident_site import _post, _token, book, login
from tests.support import make_settings
from web.resident.engine import REFUSAL_CODES, refusal_from
from web.resident.plugin import provide_context_for
from web.resident.session import COOKIE, resident_session_config

Client = AsyncTestClient[Litestar]


async def _rows(url: str, query: str, *arguments: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return list(await connection.fetch(query, *arguments))
    finally:
        await connection.close()


async def _outcomes(url: str, actor: str, *, at_least: int) -> list[str]:
    # Successful logins reach the log through its batching writer, moments later.
    for _ in range(50):
        rows = await _rows(
            url, "SELECT outcome FROM access_log WHERE actor = $1 ORDER BY sequence", actor
        )
        if len(rows) >= at_least:
            break
        await asyncio.sleep(0.1)
    return [row["outcome"] for row in rows]


def _session_of(client: Client, tmp_path: Path) -> dict[str, object]:
    settings = make_settings(Zone.RESERVATION, tmp_path, **ENVIRONMENT)
    backend = ClientSideSessionBackend(resident_session_config(provide_context_for(settings)))
    raw = client.cookies.get(COOKIE)
    assert raw
    return backend.load_data([raw.encode()])


def test_every_engine_refusal_has_a_page_code() -> None:
    kinds = {
        value
        for value in vars(refusals).values()
        if isinstance(value, type) and issubclass(value, DomainError) and value is not DomainError
    }
    # SameSlot is a success for the pages (the booking already has that time).
    assert kinds - set(REFUSAL_CODES) == {refusals.SameSlot}
    expected = {
        refusals.LoginFailed: "invalid_credentials",
        refusals.MemberLoginFailed: "invalid_credentials",
        refusals.LockedOut: "locked",
        refusals.MemberLockedOut: "locked",
        refusals.RateLimited: "rate_limited",
        refusals.NotEligible: "not_eligible",
        refusals.MemberRevoked: "not_eligible",
        refusals.AlreadyBooked: "already_booked",
        refusals.SlotFull: "slot_full",
        refusals.SlotNotFound: "slot_unavailable",
        refusals.OutsideHorizon: "slot_unavailable",
        refusals.DeadlinePassed: "slot_unavailable",
        refusals.ChangeDeadlinePassed: "deadline_passed",
        refusals.NoBooking: "not_found",
        refusals.HouseholdTooLarge: "household_too_large",
    }
    for kind, code in expected.items():
        assert refusal_from(kind("no")).code == code
    locked = refusal_from(
        refusals.LockedOut("no", details={"locked_until": "2026-12-03T10:30:00+09:00"})
    )
    assert locked.until is not None
    assert locked.until.hour == 10


async def test_every_login_attempt_reaches_the_access_log_as_the_api_logs_it(
    site_client: Client, zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    url = zone_database_urls[Zone.RESERVATION]
    wrong = await _post(
        site_client, "/login", {"reservation_id": resident_id(20), "password": "1231"}
    )
    assert wrong.status_code == 422
    await login(site_client, 20)
    assert await _outcomes(url, resident_id(20), at_least=2) == [
        "login_failed",
        "login_succeeded",
    ]
    # A household member's password is an attempt of its own, logged as the API logs it.
    page = await site_client.get("/book/location")
    location = re.search(r'name="location" value="(\d+)"', page.text).group(1)
    await _post(site_client, "/book/location", {"location": location})
    assert "token" in _session_of(site_client, tmp_path)
    member = {"action": "add", "member_reservation_id": resident_id(21)}
    refused = await _post(
        site_client, "/book/household", {**member, "member_password": "0101"}, page="/login"
    )
    assert refused.status_code in {200, 422}
    assert await _outcomes(url, resident_id(21), at_least=1) == ["member_login_failed"]


async def test_household_passwords_never_enter_the_session(
    site_client: Client, tmp_path: Path
) -> None:
    await login(site_client, 22)
    page = await site_client.get("/book/location")
    location = re.search(r'name="location" value="(\d+)"', page.text).group(1)
    await _post(site_client, "/book/location", {"location": location})
    await _post(
        site_client,
        "/book/household",
        {"action": "add", "member_reservation_id": resident_id(23), "member_password": PASSWORD},
        page="/login",
    )
    stored = _session_of(site_client, tmp_path)
    members = stored["draft"]["members"]  # type: ignore[index]
    assert [member[0] for member in members] == [resident_id(23)]
    assert PASSWORD not in repr(stored)


async def test_logout_ends_the_session_even_for_a_copied_cookie(site_client: Client) -> None:
    await login(site_client, 24)
    copied = site_client.cookies.get(COOKIE)
    page = await site_client.get("/book/location")
    await site_client.post("/logout", data={"_csrf_token": _token(page.text)})
    site_client.cookies.set(COOKIE, copied, domain="testserver.local", path="/")
    response = await site_client.get("/book/location")
    assert response.url.path == "/login"


async def test_a_session_works_on_another_replica(
    site_client: Client, zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    code = await book(site_client, 25)
    other_app = create_app(
        make_settings(Zone.RESERVATION, tmp_path / "other", **ENVIRONMENT),
        zone_database_urls[Zone.RESERVATION],
    )
    async with AsyncTestClient(app=other_app, base_url="https://testserver.local") as other:
        other.cookies.set(
            COOKIE, site_client.cookies.get(COOKIE), domain="testserver.local", path="/"
        )
        assert code in (await other.get("/booking")).text


async def test_pages_quote_the_engines_rules(
    site_client: Client, zone_database_urls: dict[Zone, str]
) -> None:
    url = zone_database_urls[Zone.RESERVATION]
    await _rows(
        url,
        "UPDATE location_rules SET household_max = 3, change_hours_before = 48, "
        "closes_hours_before = 2",
    )
    await login(site_client, 27)
    page = await site_client.get("/book/location")
    location = re.search(r'name="location" value="(\d+)"', page.text).group(1)
    await _post(site_client, "/book/location", {"location": location})
    calendar = await site_client.get("/book/calendar")
    assert "開始2時間前まで" in calendar.text
    day = re.search(r'href="/book/times\?day=([0-9-]+)"', calendar.text)
    if day is None:
        month = re.search(r'month=([0-9-]+)"', calendar.text).group(1)
        day = re.search(
            r'href="/book/times\?day=([0-9-]+)"',
            (await site_client.get(f"/book/calendar?month={month}")).text,
        )
    times = await site_client.get(f"/book/times?day={day.group(1)}")
    slot = re.search(r'name="slot" value="(\d+)"', times.text).group(1)
    await _post(site_client, "/book/times", {"slot": slot}, page=f"/book/times?day={day.group(1)}")
    household = await site_client.get("/book/household")
    assert "3人まで" in household.text
    for number in (28, 29):
        added = await _post(
            site_client,
            "/book/household",
            {
                "action": "add",
                "member_reservation_id": resident_id(number),
                "member_password": PASSWORD,
            },
        )
        assert resident_id(number) in added.text
    # Three people now: the form to add a fourth is gone.
    assert 'id="member_reservation_id"' not in (await site_client.get("/book/household")).text


async def test_a_wrong_login_quotes_the_lockout_rule(site_client: Client) -> None:
    response = await _post(
        site_client, "/login", {"reservation_id": resident_id(30), "password": "1231"}
    )
    assert "5回間違えると、30分間" in response.text
    assert SECRET_KEY not in response.text
