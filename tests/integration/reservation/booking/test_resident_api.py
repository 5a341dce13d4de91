"""The resident API over HTTP: login, booking with household, look up, change, cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.core.settings import Zone
from api.reservation.booking.metrics import LOGIN_FAILURE_ALARM
from tests.integration.reservation.booking.conftest import (
    Places,
    inside_one_rate_window,
    log_in,
    password_of,
    rid,
    slot_time,
    staff_token,
)


async def test_resident_books_for_household_and_looks_up_changes_and_cancels(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    first = await places.add_slot("first", slot_time(3), online=3)
    second = await places.add_slot("second", slot_time(4), online=3)
    await places.add_eligible(1, 2, 3)
    headers = await log_in(client, 1)

    booked = await client.post(
        "/api/resident/booking",
        headers=headers,
        json={
            "slot_id": first,
            "members": [
                {"reservation_id": rid(2), "password": password_of(2)},
                {"reservation_id": rid(3).replace("-", ""), "password": password_of(3)},
            ],
            "email": "a@example.jp",
            "memo": "車椅子",
        },
    )
    assert booked.status_code == 201, booked.text
    body = booked.json()
    code = body["confirmation_code"]
    assert len(code) == 9
    assert code[4] == "-"
    assert not set(code.replace("-", "")) & set("01OI")
    assert body["members"] == [rid(1), rid(2), rid(3)]
    assert (body["party_size"], body["channel"], body["share"]) == (3, "web", "online")

    # Every member sees the same booking.
    member_headers = await log_in(client, 2)
    seen = await client.get("/api/resident/booking", headers=member_headers)
    assert seen.json()["confirmation_code"] == code

    changed = await client.post(
        "/api/resident/booking/change", headers=headers, json={"slot_id": second}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["slot_id"], changed.json()["status"]) == (second, "changed")
    assert (await places.slot("first"))["online_booked"] == 0
    assert (await places.slot("second"))["online_booked"] == 3

    cancelled = await client.post("/api/resident/booking/cancel", headers=headers, json={})
    assert cancelled.json()["status"] == "cancelled"
    assert (await places.slot("second"))["online_booked"] == 0
    missing = await client.get("/api/resident/booking", headers=headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "no_booking")


async def test_unknown_id_and_wrong_password_get_the_same_answer(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    await places.add_eligible(1)
    wrong = await client.post(
        "/api/resident/login", json={"reservation_id": rid(1), "password": "0000"}
    )
    unknown = await client.post(
        "/api/resident/login", json={"reservation_id": rid(999), "password": password_of(1)}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "login_failed"
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


@pytest.mark.parametrize("known", [True, False], ids=["known-id", "unknown-id"])
async def test_five_failures_lock_an_id_until_staff_lift_it(
    client: AsyncTestClient[Litestar], places: Places, known: bool, staff: dict[str, str]
) -> None:
    number = 1 if known else 77
    if known:
        await places.add_eligible(1)
    codes = []
    for _ in range(6):
        response = await client.post(
            "/api/resident/login", json={"reservation_id": rid(number), "password": "0000"}
        )
        codes.append(response.json()["error"]["code"])
    assert codes == ["login_failed"] * 4 + ["locked_out"] * 2
    if known:
        # Even the right password is not compared while locked.
        right = await client.post(
            "/api/resident/login",
            json={"reservation_id": rid(1), "password": password_of(1)},
        )
        assert (right.status_code, right.json()["error"]["code"]) == (423, "locked_out")

    refused = await client.post(f"/api/staff/eligibilities/{rid(number)}/unlock")
    assert refused.status_code in {401, 403}  # no staff credentials
    lifted = await client.post(
        f"/api/staff/eligibilities/{rid(number)}/unlock",
        headers=staff,
    )
    assert lifted.json() == {"reservation_id": rid(number), "unlocked": True}
    if known:
        await log_in(client, 1)
    rows = await places.run(
        "SELECT outcome, actor_kind, actor FROM access_log WHERE actor = $1 ORDER BY sequence",
        rid(number),
    )
    outcomes = [row["outcome"] for row in rows]
    assert outcomes[:6] == ["login_failed"] * 4 + ["locked_out"] * 2
    assert all(row["actor_kind"] == "resident" for row in rows)


async def test_logout_ends_the_session_everywhere_and_forged_tokens_fail(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    await places.add_eligible(1)
    headers = await log_in(client, 1)
    assert (await client.get("/api/resident/booking", headers=headers)).status_code == 404
    forged = {"authorization": headers["authorization"][:-4] + "0000"}
    assert (await client.get("/api/resident/booking", headers=forged)).status_code == 401

    await client.post("/api/resident/logout", headers=headers)
    after = await client.get("/api/resident/booking", headers=headers)
    assert (after.status_code, after.json()["error"]["code"]) == (401, "not_logged_in")


async def test_login_sets_a_strict_http_only_secure_cookie(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    await places.add_eligible(1)
    response = await client.post(
        "/api/resident/login", json={"reservation_id": rid(1), "password": password_of(1)}
    )
    cookie = response.headers["set-cookie"].lower()
    assert "madoguchi_resident=" in cookie
    assert all(part in cookie for part in ("httponly", "secure", "samesite=strict"))


async def test_refusals_are_distinct(client: AsyncTestClient[Litestar], places: Places) -> None:
    full = await places.add_slot("full", slot_time(3), online=1)
    too_far = await places.add_slot("far", slot_time(45))
    too_near = await places.add_slot("near", slot_time(0, hour=23))
    await places.add_eligible(1, 2, 3)
    await places.add_eligible(4, revoked=True)
    one, two = await log_in(client, 1), await log_in(client, 2)

    async def book(headers: dict[str, str], slot: int, *members: int) -> str:
        response = await client.post(
            "/api/resident/booking",
            headers=headers,
            json={
                "slot_id": slot,
                "members": [
                    {"reservation_id": rid(n), "password": password_of(n)} for n in members
                ],
            },
        )
        return "booked" if response.status_code == 201 else response.json()["error"]["code"]

    assert await book(one, too_far) == "outside_horizon"
    assert await book(one, too_near) == "deadline_passed"
    assert await book(one, full, 4) == "member_revoked"
    assert await book(one, full, 2) == "slot_full"
    assert await book(one, full) == "booked"
    assert await book(two, full) == "slot_full"
    other = await places.add_slot("other", slot_time(3, hour=11))
    assert await book(two, other, 1) == "already_booked"
    wrong_member = await client.post(
        "/api/resident/booking",
        headers=two,
        json={"slot_id": other, "members": [{"reservation_id": rid(3), "password": "0000"}]},
    )
    assert wrong_member.json()["error"]["code"] == "member_login_failed"
    assert await book(two, other, 3) == "booked"
    # Household all or nothing: nothing of the refused attempts is left behind.
    counts = await places.run(
        "SELECT (SELECT count(*) FROM bookings) AS bookings, "
        "(SELECT count(*) FROM booking_members) AS members"
    )
    assert (counts[0]["bookings"], counts[0]["members"]) == (2, 3)


@pytest.mark.parametrize("settings_override", [{"login_rate_limit": 3}])
async def test_rate_limit_counts_attempts_per_client(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    await places.add_eligible(1, 2)
    await inside_one_rate_window()
    statuses = []
    for number in (1, 2, 1, 2):
        response = await client.post(
            "/api/resident/login",
            json={"reservation_id": rid(number), "password": password_of(number)},
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("settings_override", [{"login_rate_limit": 2}])
async def test_behind_the_loopback_proxy_each_forwarded_client_is_limited_and_logged_apart(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    # Default settings; the peer is nginx on 127.0.0.1, which appends the resident's address.
    await places.add_eligible(1)
    await inside_one_rate_window()

    async def attempt(address: str, password: str = password_of(1)) -> int:
        response = await client.post(
            "/api/resident/login",
            json={"reservation_id": rid(1), "password": password},
            headers={"x-forwarded-for": address},
        )
        return response.status_code

    first = [await attempt("203.0.113.9") for _ in range(3)]
    second = await attempt("198.51.100.7")
    failed = await attempt("192.0.2.44", "0000")

    assert first == [200, 200, 429]
    assert second == 200
    assert failed == 401
    rows = await places.run(
        "SELECT client_address FROM access_log WHERE outcome = 'login_failed' AND actor = $1",
        rid(1),
    )
    assert [row["client_address"] for row in rows] == ["192.0.2.44"]
    # Successful logins reach the log through the batching writer, moments later.
    for _ in range(100):
        rows = await places.run(
            "SELECT client_address FROM access_log WHERE outcome = 'login_succeeded'"
        )
        if len(rows) >= 3:
            break
        await asyncio.sleep(0.05)
    assert sorted(row["client_address"] for row in rows) == [
        "198.51.100.7",
        "203.0.113.9",
        "203.0.113.9",
    ]


@pytest.mark.parametrize("settings_override", [{"login_rate_limit": 2}])
async def test_attempts_whose_forwarded_address_is_unreadable_share_the_proxys_limit(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    await places.add_eligible(1)
    await inside_one_rate_window()

    async def attempt(forwarded: str) -> int:
        response = await client.post(
            "/api/resident/login",
            json={"reservation_id": rid(1), "password": password_of(1)},
            headers={"x-forwarded-for": forwarded},
        )
        return response.status_code

    # No client address to count them by: they must not escape the limit either.
    statuses = [await attempt(forwarded) for forwarded in ("unknown", "", "203.0.113.9, x")]

    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("settings_override", [{"alarm_failures_per_minute": 4}])
async def test_failures_across_ids_raise_the_alarm(
    client: AsyncTestClient[Litestar], places: Places, caplog: pytest.LogCaptureFixture
) -> None:
    await inside_one_rate_window()
    await asyncio.gather(
        *(
            client.post("/api/resident/login", json={"reservation_id": rid(n), "password": "0000"})
            for n in range(1, 6)
        )
    )
    assert LOGIN_FAILURE_ALARM._value.get() == 1
    alarms = [r for r in caplog.records if "resident_login_failure_alarm" in str(r.msg)]
    assert len(alarms) == 1
    assert alarms[0].levelname == "WARNING"


@pytest.mark.parametrize("settings_override", [{"alarm_failures_per_minute": 3}])
async def test_the_alarm_ends_with_the_attack_at_the_next_scrape(
    client: AsyncTestClient[Litestar],
    places: Places,
    zone_database_urls: dict[Zone, str],
    tmp_path: Path,
) -> None:
    await inside_one_rate_window()
    for number in range(1, 5):
        await client.post(
            "/api/resident/login", json={"reservation_id": rid(number), "password": "0000"}
        )
    scraper = await staff_token(
        zone_database_urls[Zone.RESERVATION], tmp_path, "prometheus", "metrics.read"
    )
    during = await client.get("/metrics", headers=scraper)
    # The minute is over: the shared count of the new window is nothing yet.
    await places.run("DELETE FROM login_throttles WHERE key = 'failures'")
    after = await client.get("/metrics", headers=scraper)

    assert during.status_code == after.status_code == 200
    assert "madoguchi_resident_login_failure_alarm 1.0" in during.text
    assert "madoguchi_resident_login_failures_per_minute 4.0" in during.text
    assert "madoguchi_resident_login_failure_alarm 0.0" in after.text
    assert "madoguchi_resident_login_failures_per_minute 0.0" in after.text


async def test_a_memo_with_a_control_character_is_refused_but_line_breaks_are_kept(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    slot = await places.add_slot("slot", slot_time(3), online=3)
    await places.add_eligible(1)
    headers = await log_in(client, 1)
    refused = await client.post(
        "/api/resident/booking", headers=headers, json={"slot_id": slot, "memo": "車椅子\x08"}
    )
    assert refused.status_code == 400, refused.text
    booked = await client.post(
        "/api/resident/booking", headers=headers, json={"slot_id": slot, "memo": "車椅子\n杖"}
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["memo"] == "車椅子\n杖"
