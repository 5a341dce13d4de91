"""Staff login: sessions, generic failures, lockout (also under parallel guessing), logging."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text

from api.core.identity import passwords
from api.core.settings import Zone
from tests.integration.identity.conftest import PASSWORD, StaffApp, StaffAppFactory
from tests.integration.identity.conftest import today as office_today


async def test_login_sets_a_secure_strict_httponly_session_cookie(staff_app: StaffApp) -> None:
    await staff_app.make_account("tanaka", permissions=("reservations.read",))

    response = await staff_app.login("tanaka")

    assert response.status_code == 200, response.text
    assert response.json()["login_id"] == "tanaka"
    cookie = response.headers["set-cookie"].lower()
    assert staff_app.session_cookie in cookie
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=strict" in cookie
    me = await staff_app.client.get("/api/staff/me")
    assert me.status_code == 200
    assert me.json()["permissions"] == ["reservations.read"]


async def test_unknown_login_id_and_wrong_password_get_the_same_answer(
    issuance_app: StaffApp,
) -> None:
    await issuance_app.make_account("tanaka")

    unknown = await issuance_app.login("nobody")
    wrong = await issuance_app.login("tanaka", "not the password at all")

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    assert unknown.json()["error"]["code"] == wrong.json()["error"]["code"] == "login_failed"
    outcomes = [
        (entry["actor"], entry["outcome"], entry["detail"].get("reason"))
        for entry in await issuance_app.log_entries()
    ]
    assert ("nobody", "login_failed", "unknown_login_id") in outcomes
    assert ("tanaka", "login_failed", "wrong_password") in outcomes


async def test_session_id_changes_at_login(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.login("tanaka")
    first = issuance_app.client.cookies.get(issuance_app.session_cookie)

    await issuance_app.login("tanaka", headers=await issuance_app.csrf_headers())
    second = issuance_app.client.cookies.get(issuance_app.session_cookie)

    assert first
    assert second
    assert first != second
    # The old id is worthless now.
    issuance_app.client.cookies.set(issuance_app.session_cookie, first, domain="testserver.local")
    assert (await issuance_app.client.get("/api/staff/me")).status_code == 401


async def test_brute_force_locks_the_account_and_is_logged(
    staff_app_factory: StaffAppFactory,
) -> None:
    app = await staff_app_factory(Zone.ISSUANCE, MADOGUCHI_STAFF_LOCKOUT_THRESHOLD="3")
    await app.make_account("tanaka")

    answers = [await app.login("tanaka", f"guess number {n}") for n in range(5)]
    right_password = await app.login("tanaka")
    unknown = await app.login("nobody", "guess number 0")

    # Locked or not, and known or not, the answer is the same: five guesses cannot tell
    # whether the login ID exists, nor whether the password of a locked account is right.
    assert [answer.status_code for answer in answers] == [401] * 5
    assert right_password.status_code == 401
    bodies = {
        (answer.json()["error"]["code"], answer.json()["error"]["message"])
        for answer in [*answers, right_password, unknown]
    }
    assert len(bodies) == 1
    account = await app.account("tanaka")
    assert account.failed_attempts == 3
    outcomes = [entry["outcome"] for entry in await app.log_entries() if entry["actor"] == "tanaka"]
    assert outcomes.count("login_failed") == 2
    assert outcomes.count("locked_out") == 1
    assert outcomes.count("login_refused") == 3


async def test_parallel_guesses_never_count_past_the_threshold(
    staff_app_factory: StaffAppFactory,
) -> None:
    app = await staff_app_factory(Zone.RESERVATION, MADOGUCHI_STAFF_LOCKOUT_THRESHOLD="4")
    await app.make_account("tanaka")

    answers = await asyncio.gather(*(app.login("tanaka", f"parallel guess {n}") for n in range(16)))

    assert all(answer.status_code in {401, 403} for answer in answers)
    account = await app.account("tanaka")
    assert account.failed_attempts == 4
    assert account.locked_until is not None
    locked_out = [e for e in await app.log_entries() if e["outcome"] == "locked_out"]
    assert len(locked_out) == 1


async def test_lockout_lifts_after_the_set_time(staff_app_factory: StaffAppFactory) -> None:
    app = await staff_app_factory(Zone.ISSUANCE, MADOGUCHI_STAFF_LOCKOUT_THRESHOLD="1")
    await app.make_account("tanaka")
    await app.login("tanaka", "a wrong password")
    assert (await app.login("tanaka")).status_code == 401

    await app.update_account(
        "tanaka", locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )

    assert (await app.login("tanaka")).status_code == 200
    assert (await app.account("tanaka")).failed_attempts == 0


async def test_zero_lockout_minutes_locks_until_an_administrator_unlocks(
    staff_app_factory: StaffAppFactory,
) -> None:
    app = await staff_app_factory(
        Zone.ISSUANCE, MADOGUCHI_STAFF_LOCKOUT_THRESHOLD="1", MADOGUCHI_STAFF_LOCKOUT_MINUTES="0"
    )
    await app.make_account("tanaka")
    await app.make_account("admin", permissions=("users.manage",))
    await app.login("tanaka", "a wrong password")
    assert (await app.account("tanaka")).locked_until.year == 9999

    assert (await app.login("admin")).status_code == 200
    account_id = (await app.account("tanaka")).id
    unlocked = await app.client.post(
        f"/api/staff/users/{account_id}/unlock", headers=await app.csrf_headers()
    )
    assert unlocked.status_code == 204, unlocked.text
    app.client.cookies.clear()

    assert (await app.login("tanaka")).status_code == 200


async def test_disabled_and_out_of_validity_accounts_cannot_log_in(
    issuance_app: StaffApp,
) -> None:
    today = office_today()
    await issuance_app.make_account("retired", valid_until=today - dt.timedelta(days=2))
    await issuance_app.make_account("newcomer", valid_from=today + dt.timedelta(days=2))
    await issuance_app.make_account("disabled", disabled=True)

    for login_id, reason in [
        ("retired", "no_longer_valid"),
        ("newcomer", "not_yet_valid"),
        ("disabled", "disabled"),
    ]:
        answer = await issuance_app.login(login_id)
        assert answer.status_code == 403
        assert answer.json()["error"]["details"] == {"reason": reason}
        # A wrong password still gets the generic answer: nothing about the account leaks.
        assert (await issuance_app.login(login_id, "wrong password!")).status_code == 401
    refused = [
        e["detail"]["reason"]
        for e in await issuance_app.log_entries()
        if e["outcome"] == "login_refused"
    ]
    assert sorted(refused) == ["disabled", "no_longer_valid", "not_yet_valid"]


async def test_logout_ends_the_session(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.login("tanaka")

    answer = await issuance_app.client.post(
        "/api/staff/logout", headers=await issuance_app.csrf_headers()
    )

    assert answer.status_code == 204
    assert (await issuance_app.client.get("/api/staff/me")).status_code == 401


async def test_password_is_checked_only_for_the_right_account(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.make_account("suzuki", password="another good passphrase")

    assert (await issuance_app.login("suzuki", PASSWORD)).status_code == 401
    assert (await issuance_app.login("suzuki", "another good passphrase")).status_code == 200


async def test_login_prunes_expired_sessions(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.run(
        lambda session: session.execute(
            text(
                "INSERT INTO staff_sessions (id, session_id, data, expires_at) "
                "VALUES (gen_random_uuid(), 'stale', '\\x00', now() - interval '1 day')"
            )
        )
    )

    await issuance_app.login("tanaka")

    remaining = await issuance_app.run(
        lambda session: session.scalar(
            text("SELECT count(*) FROM staff_sessions WHERE session_id = 'stale'")
        )
    )
    assert remaining == 0


class HasherSpy:
    """The argon2 hasher, noting for each hash and check whether it ran on an event loop."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[str, str]] = []

    def _note(self, name: str) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.calls.append((name, "worker thread"))
        else:
            self.calls.append((name, "event loop"))

    def hash(self, password: str) -> str:
        self._note("hash")
        return str(self.real.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        self._note("verify")
        return bool(self.real.verify(password_hash, password))

    def check_needs_rehash(self, password_hash: str) -> bool:
        return bool(self.real.check_needs_rehash(password_hash))


async def test_argon2_runs_in_worker_threads_never_on_the_event_loop(
    issuance_app: StaffApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.make_account("chief", permissions=("users.manage",))
    tanaka = await issuance_app.account("tanaka")
    spy = HasherSpy(passwords._HASHER)
    monkeypatch.setattr(passwords, "_HASHER", spy)

    unknown = await issuance_app.login("nobody")
    # An unknown ID still costs one argon2 check (of the dummy hash), like a wrong password.
    assert (unknown.status_code, spy.calls) == (401, [("verify", "worker thread")])
    assert (await issuance_app.login("tanaka", "not the password at all")).status_code == 401
    assert (await issuance_app.login("tanaka")).status_code == 200
    changed = await issuance_app.client.post(
        "/api/staff/password",
        json={"current_password": PASSWORD, "new_password": "a fresh kanji-free passphrase"},
        headers=await issuance_app.csrf_headers(),
    )
    issuance_app.client.cookies.clear()
    assert (await issuance_app.login("chief")).status_code == 200
    headers = await issuance_app.csrf_headers()
    created = await issuance_app.client.post(
        "/api/staff/users/",
        json={
            "login_id": "sato",
            "display_name": "Sato",
            "initial_password": "a quiet river at dawn",
        },
        headers=headers,
    )
    reset = await issuance_app.client.post(
        f"/api/staff/users/{tanaka.id}/password-reset", json={}, headers=headers
    )

    assert (changed.status_code, created.status_code, reset.status_code) == (204, 201, 201)
    assert {name for name, _ in spy.calls} == {"hash", "verify"}
    assert [call for call in spy.calls if call[1] != "worker thread"] == []
