"""The resident pages over HTTP: security headers, CSRF, sessions, and who sees what."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.browser.seeding import PASSWORD, resident_id

Client = AsyncTestClient[Litestar]


def _token(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def _post(client: Client, path: str, data: dict[str, str], page: str | None = None):
    form = await client.get(page or path)
    return await client.post(path, data={**data, "_csrf_token": _token(form.text)})


async def login(client: Client, number: int) -> None:
    response = await _post(
        client, "/login", {"reservation_id": resident_id(number), "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.url.path in {"/book/location", "/booking"}


async def book(client: Client, number: int) -> str:
    await login(client, number)
    page = await client.get("/book/location")
    location = re.search(r'name="location" value="(\d+)"', page.text).group(1)
    await _post(client, "/book/location", {"location": location})
    calendar = await client.get("/book/calendar")
    day = re.search(r'href="/book/times\?day=([0-9-]+)"', calendar.text)
    if day is None:
        calendar = await client.get(
            "/book/calendar?month=" + re.search(r'month=([0-9-]+)"', calendar.text).group(1)
        )
        day = re.search(r'href="/book/times\?day=([0-9-]+)"', calendar.text)
    times = await client.get(f"/book/times?day={day.group(1)}")
    slot = re.search(r'name="slot" value="(\d+)"', times.text).group(1)
    await _post(client, "/book/times", {"slot": slot}, page=f"/book/times?day={day.group(1)}")
    await _post(client, "/book/household", {"action": "continue"})
    await _post(client, "/book/contact", {"email": ""})
    done = await _post(client, "/book/confirm", {})
    assert done.url.path == "/booking/done", done.text
    return re.search(r'class="code">([A-Z0-9-]+)<', done.text).group(1)


async def test_pages_send_csp_without_inline_script_and_are_never_cached(
    site_client: Client,
) -> None:
    response = await site_client.get("/login")

    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in response.text
    assert " style=" not in response.text
    assert " on" not in re.sub(r"<[^>]*>", lambda m: m.group(0).split("=")[0], "")


async def test_forms_without_a_csrf_token_are_refused(site_client: Client) -> None:
    await site_client.get("/login")
    response = await site_client.post(
        "/login", data={"reservation_id": resident_id(1), "password": PASSWORD}
    )
    assert response.status_code == 403


async def test_login_renews_the_session_id_and_sets_secure_cookies(site_client: Client) -> None:
    await login(site_client, 1)
    first = site_client.cookies.get("madoguchi_resident_session")
    assert first
    await site_client.post(
        "/logout", data={"_csrf_token": _token((await site_client.get("/book/location")).text)}
    )
    form = await site_client.get("/login")
    response = await site_client.post(
        "/login",
        data={
            "reservation_id": resident_id(1),
            "password": PASSWORD,
            "_csrf_token": _token(form.text),
        },
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "madoguchi_resident_session=" in cookie
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=strict" in cookie
    assert site_client.cookies.get("madoguchi_resident_session") != first


async def test_session_fixation_is_impossible(site_client: Client) -> None:
    # A session id planted before login is never the one used after it.
    await site_client.get("/login")
    planted = "planted-session-id"
    site_client.cookies.set(
        "madoguchi_resident_session", planted, domain="testserver.local", path="/"
    )
    await login(site_client, 2)
    assert site_client.cookies.get("madoguchi_resident_session") != planted


async def test_nobody_can_cancel_another_residents_booking(site_client: Client) -> None:
    victim_code = await book(site_client, 3)
    site_client.cookies.clear()
    await book(site_client, 4)
    page = await site_client.get("/booking/cancel")
    response = await site_client.post(
        "/booking/cancel", data={"confirmation_code": victim_code, "_csrf_token": _token(page.text)}
    )
    assert response.status_code == 409
    assert victim_code not in response.text
    # And the victim's booking is still there.
    site_client.cookies.clear()
    await login(site_client, 3)
    assert victim_code in (await site_client.get("/booking")).text


async def test_no_page_shows_a_booking_without_its_session(site_client: Client) -> None:
    code = await book(site_client, 5)
    site_client.cookies.clear()
    for path in ("/booking", "/booking/done", "/booking/calendar.ics", "/book/confirm"):
        response = await site_client.get(path)
        assert response.url.path == "/login", path
        assert code not in response.text
    await login(site_client, 6)
    for path in ("/booking", "/booking/done", "/booking/calendar.ics", "/booking/cancel"):
        assert code not in (await site_client.get(path)).text


async def test_a_chosen_slot_of_another_location_is_refused(site_client: Client) -> None:
    await login(site_client, 7)
    page = await site_client.get("/book/location")
    location = re.search(r'name="location" value="(\d+)"', page.text).group(1)
    await _post(site_client, "/book/location", {"location": location})
    response = await _post(site_client, "/book/times", {"slot": "999999"}, page="/book/location")
    assert response.status_code == 422


async def test_ics_file_holds_the_booking(site_client: Client) -> None:
    code = await book(site_client, 8)
    response = await site_client.get("/booking/calendar.ics")
    assert response.headers["content-type"].startswith("text/calendar")
    body = response.text
    assert body.startswith("BEGIN:VCALENDAR\r\n")
    assert f"UID:{code}@madoguchi" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


async def test_language_link_only_returns_to_local_pages(site_client: Client) -> None:
    response = await site_client.get("/lang/en?next_page=//evil.example/", follow_redirects=False)
    assert response.headers["location"] == "/"
    assert "madoguchi_lang=en" in response.headers["set-cookie"]
    page = await site_client.get("/login")
    assert '<html lang="en">' in page.text


async def test_every_resident_route_is_public_and_outside_the_schema(site_client: Client) -> None:
    app = site_client.app
    paths = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            module = getattr(handler.fn, "__module__", "") if hasattr(handler, "fn") else ""
            if module.startswith("web."):
                paths += 1
                assert handler.opt.get("public") is True, route.path
    assert paths > 10
