"""The lockout under parallel guesses, and revoked IDs at login and in sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.reservation.booking import rate_limit
from api.reservation.booking.driver import DriverDb
from api.reservation.booking.login import Outcome, PasswordCheck, check_password
from tests.integration.reservation.booking.conftest import (
    Places,
    booking_settings,
    log_in,
    password_of,
    rid,
)

GUESSES = 40


def wrong_passwords(number: int, count: int) -> list[str]:
    """``count`` well-formed MMDD passwords, none of them resident ``number``'s."""
    candidates = (f"{month:02d}{day:02d}" for month in range(1, 13) for day in range(1, 29))
    return [password for password in candidates if password != password_of(number)][:count]


async def test_parallel_guesses_get_no_more_comparisons_than_the_lockout_allows(
    places: Places,
) -> None:
    await places.add_eligible(1)
    settings = booking_settings()
    # Wrong passwords all at once, each from its own client address (so the per-client
    # rate limit does not intervene): every compared guess is counted, so the count says
    # how many were compared.
    guesses = wrong_passwords(1, GUESSES)
    connections = [await asyncpg.connect(places.dsn) for _ in guesses]
    start = asyncio.Event()

    async def guess(connection: asyncpg.Connection, password: str, n: int) -> PasswordCheck:
        await start.wait()
        return await check_password(
            DriverDb(connection),
            settings,
            reservation_id=rid(1),
            password=password,
            client_address=f"198.51.100.{n}",
            now=dt.datetime.now(dt.UTC),
        )

    try:
        tasks = [
            asyncio.create_task(guess(connection, password, n))
            for n, (connection, password) in enumerate(zip(connections, guesses, strict=True))
        ]
        await asyncio.sleep(0.1)
        start.set()
        checks = await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))

    rows = await places.run(
        "SELECT failed_logins, locked_until > now() AS locked FROM eligibilities "
        "WHERE reservation_id = $1",
        rid(1),
    )
    assert (rows[0]["failed_logins"], rows[0]["locked"]) == (settings.lockout_threshold, True)
    # Every locked-out answer says until when, though most were decided in parallel.
    locked = [check for check in checks if check.outcome is Outcome.LOCKED_OUT]
    assert all(check.locked_until is not None for check in locked)
    outcomes = Counter(check.outcome for check in checks)
    assert outcomes == {
        Outcome.FAILED: settings.lockout_threshold - 1,
        Outcome.LOCKED_OUT: GUESSES - settings.lockout_threshold + 1,
    }


async def test_a_right_password_after_failures_clears_the_count(places: Places) -> None:
    await places.add_eligible(1)
    settings = booking_settings()
    connection = await asyncpg.connect(places.dsn)
    try:
        for password in [*wrong_passwords(1, 3), password_of(1)]:
            check = await check_password(
                DriverDb(connection),
                settings,
                reservation_id=rid(1),
                password=password,
                client_address="198.51.100.1",
                now=dt.datetime.now(dt.UTC),
            )
    finally:
        await connection.close()
    assert check.succeeded
    rows = await places.run(
        "SELECT failed_logins, locked_until FROM eligibilities WHERE reservation_id = $1", rid(1)
    )
    assert (rows[0]["failed_logins"], rows[0]["locked_until"]) == (0, None)


async def test_a_revoked_id_cannot_log_in_but_a_wrong_password_still_gets_the_generic_answer(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    await places.add_eligible(1, revoked=True)
    wrong = await client.post(
        "/api/resident/login", json={"reservation_id": rid(1), "password": "0000"}
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "login_failed")
    right = await client.post(
        "/api/resident/login", json={"reservation_id": rid(1), "password": password_of(1)}
    )
    assert (right.status_code, right.json()["error"]["code"]) == (403, "revoked")
    rows = await places.run(
        "SELECT outcome FROM access_log WHERE actor = $1 ORDER BY sequence", rid(1)
    )
    assert [row["outcome"] for row in rows] == ["login_failed", "login_revoked"]


async def test_revoking_an_id_ends_its_sessions(
    client: AsyncTestClient[Litestar], places: Places
) -> None:
    await places.add_eligible(1)
    headers = await log_in(client, 1)
    assert (await client.get("/api/resident/booking", headers=headers)).status_code in {200, 404}
    await places.run(
        "UPDATE eligibilities SET revoked_at = now() WHERE reservation_id = $1", rid(1)
    )
    ended = await client.get("/api/resident/booking", headers=headers)
    assert (ended.status_code, ended.json()["error"]["code"]) == (401, "not_logged_in")


async def test_pruning_forgets_unknown_ids_a_day_after_their_last_failure(
    places: Places,
) -> None:
    await places.run(
        "INSERT INTO unknown_id_lockouts (reservation_id, failed_logins, locked_until, "
        "last_failed_at) VALUES "
        "('STALE', 2, NULL, now() - interval '25 hours'), "
        "('RECENT', 2, NULL, now() - interval '1 hour'), "
        "('STILL-LOCKED', 5, now() + interval '10 minutes', now() - interval '25 hours')"
    )
    connection = await asyncpg.connect(places.dsn)
    try:
        await rate_limit.prune(DriverDb(connection))
    finally:
        await connection.close()
    rows = await places.run("SELECT reservation_id FROM unknown_id_lockouts ORDER BY 1")
    assert [row["reservation_id"] for row in rows] == ["RECENT", "STILL-LOCKED"]
