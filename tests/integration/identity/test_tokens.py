"""Personal access tokens: a subset of the owner's permissions, never more, never longer."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from sqlalchemy import text

from api.core.identity.totp import open_totp_secret
from api.core.settings import Zone
from tests.integration.identity.conftest import PASSWORD, StaffApp, StaffAppFactory


async def _token(app: StaffApp, permissions: list[str], days: int = 30) -> Any:
    return await app.client.post(
        "/api/staff/tokens/",
        json={"name": "nightly export", "permissions": permissions, "days": days},
        headers=await app.csrf_headers(),
    )


async def test_a_token_is_shown_once_stored_hashed_and_carries_its_permissions(
    staff_app: StaffApp,
) -> None:
    await staff_app.make_account("tanaka", permissions=("sync.export", "sync.import"))
    await staff_app.login("tanaka")

    created = await _token(staff_app, ["sync.export"])

    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("mdg_")
    listed = await staff_app.client.get("/api/staff/tokens/")
    assert "secret" not in listed.json()[0]
    stored = await staff_app.run(
        lambda session: session.scalar(text("SELECT token_hash FROM staff_access_tokens"))
    )
    assert stored != secret
    assert len(stored) == 64
    staff_app.client.cookies.clear()
    bearer = {"authorization": f"Bearer {secret}"}
    assert (
        await staff_app.client.get("/test/probe/sync.export", headers=bearer)
    ).status_code == 200
    assert (
        await staff_app.client.get("/test/probe/sync.import", headers=bearer)
    ).status_code == 403
    # Tokens act only through permissions: not on the owner's account.
    assert (await staff_app.client.get("/api/staff/tokens/", headers=bearer)).status_code == 403


async def test_a_token_cannot_exceed_its_owner(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka", permissions=("sync.export",))
    await issuance_app.login("tanaka")

    refused = await _token(issuance_app, ["sync.export", "users.manage"])

    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"not_held": ["users.manage"]}


async def test_a_token_loses_a_permission_removed_from_its_owner(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka", permissions=("sync.export", "sync.import"))
    await issuance_app.login("tanaka")
    secret = (await _token(issuance_app, ["sync.export", "sync.import"])).json()["secret"]
    issuance_app.client.cookies.clear()

    async def drop_import(session: Any) -> None:
        await session.execute(
            text("DELETE FROM staff_role_permissions WHERE permission = 'sync.import'")
        )

    await issuance_app.run(drop_import)
    bearer = {"authorization": f"Bearer {secret}"}

    assert (
        await issuance_app.client.get("/test/probe/sync.export", headers=bearer)
    ).status_code == 200
    assert (
        await issuance_app.client.get("/test/probe/sync.import", headers=bearer)
    ).status_code == 403


async def test_a_token_dies_with_its_owners_account(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka", permissions=("sync.export",))
    await issuance_app.login("tanaka")
    secret = (await _token(issuance_app, ["sync.export"])).json()["secret"]
    issuance_app.client.cookies.clear()
    bearer = {"authorization": f"Bearer {secret}"}
    assert (
        await issuance_app.client.get("/test/probe/sync.export", headers=bearer)
    ).status_code == 200

    await issuance_app.update_account("tanaka", disabled=True)

    answer = await issuance_app.client.get("/test/probe/sync.export", headers=bearer)
    assert answer.status_code == 401
    assert any(e["outcome"] == "token_refused" for e in await issuance_app.log_entries())


async def test_revoked_tokens_stop_working(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka", permissions=("sync.export",))
    await issuance_app.login("tanaka")
    created = (await _token(issuance_app, ["sync.export"])).json()

    revoked = await issuance_app.client.delete(
        f"/api/staff/tokens/{created['token']['id']}", headers=await issuance_app.csrf_headers()
    )

    assert revoked.status_code == 204
    bearer = {"authorization": f"Bearer {created['secret']}"}
    issuance_app.client.cookies.clear()
    assert (
        await issuance_app.client.get("/test/probe/sync.export", headers=bearer)
    ).status_code == 401


async def test_bearer_requests_need_no_csrf_token(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("admin", permissions=("users.manage",))
    await issuance_app.login("admin")
    secret = (await _token(issuance_app, ["users.manage"])).json()["secret"]
    issuance_app.client.cookies.clear()

    answer = await issuance_app.client.post(
        "/api/staff/roles/",
        json={"name": "counter", "permissions": ["residents.read"]},
        headers={"authorization": f"Bearer {secret}"},
    )

    assert answer.status_code == 201, answer.text


async def test_totp_enrolment_and_login_with_a_second_factor(
    staff_app_factory: StaffAppFactory,
) -> None:
    app = await staff_app_factory(Zone.ISSUANCE, MADOGUCHI_REQUIRE_TOTP_FOR_ADMINISTRATORS="true")
    await app.make_account("admin", permissions=("users.manage",))

    first = await app.login("admin")
    assert first.json()["totp_enrolment_required"] is True
    assert (await app.client.get("/api/staff/users/")).status_code == 403
    headers = await app.csrf_headers()
    secret = (await app.client.post("/api/staff/totp/setup", headers=headers)).json()["secret"]
    confirmed = await app.client.post(
        "/api/staff/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=headers
    )
    assert confirmed.status_code == 204, confirmed.text
    # At rest the secret is sealed under the zone's key: a database dump holds no factor.
    stored = (await app.account("admin")).totp_secret
    assert secret not in stored
    assert open_totp_secret(app.settings, stored) == secret
    app.client.cookies.clear()

    missing = await app.login("admin")
    wrong = await app.login(
        "admin", totp="000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    )
    code = pyotp.TOTP(secret).now()
    right = await app.login("admin", totp=code)
    app.client.cookies.clear()
    replayed = await app.login("admin", totp=code)
    again = await app.login("admin", totp=code)

    assert missing.json()["error"]["code"] == "totp_required"
    assert wrong.status_code == 401
    assert right.status_code == 200
    # A code opens one login: seen on the wire, it is worth nothing a second time.
    assert replayed.status_code == again.status_code == 401
    reasons = [entry["detail"].get("reason") for entry in await app.log_entries()]
    assert reasons.count("totp_reused") == 2
    # The next step's code (one step of drift is allowed) has not been used yet.
    proof = await app.login("admin", totp=pyotp.TOTP(secret).at(time.time() + 30))
    assert proof.status_code == 200
    assert (await app.client.get("/api/staff/users/")).status_code == 200
    assert (await app.account("admin")).failed_attempts == 0
    assert PASSWORD  # the password alone was never enough
