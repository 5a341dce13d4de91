"""Administrators' API: accounts, roles, validity, the review report; the CLI bootstrap."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import pytest

from api.core.identity.cli import users_commands
from api.core.settings import Zone
from tests.integration.identity.conftest import (
    PASSWORD,
    StaffApp,
    days_ago,
    invoke_zone_cli,
    today,
)


async def _admin(app: StaffApp) -> dict[str, str]:
    await app.make_account("admin", permissions=("users.manage",))
    await app.login("admin")
    return await app.csrf_headers()


async def test_create_an_account_with_a_generated_password_that_must_change(
    staff_app: StaffApp,
) -> None:
    headers = await _admin(staff_app)
    role = await staff_app.client.post(
        "/api/staff/roles/",
        json={"name": "counter", "description": "窓口", "permissions": ["reservations.read"]},
        headers=headers,
    )
    assert role.status_code == 201, role.text

    created = await staff_app.client.post(
        "/api/staff/users/",
        json={"login_id": "sato", "display_name": "佐藤", "role_ids": [role.json()["id"]]},
        headers=headers,
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["account"]["permissions"] == ["reservations.read"]
    assert body["account"]["must_change_password"] is True
    staff_app.client.cookies.clear()
    login = await staff_app.login("sato", body["initial_password"])
    assert login.json()["password_change_required"] is True


async def test_roles_reject_permissions_of_the_other_zone(staff_app: StaffApp) -> None:
    headers = await _admin(staff_app)
    foreign = "reservations.proxy" if staff_app.zone is Zone.ISSUANCE else "residents.read"

    answer = await staff_app.client.post(
        "/api/staff/roles/", json={"name": "odd", "permissions": [foreign]}, headers=headers
    )

    assert answer.status_code == 409
    assert answer.json()["error"]["details"] == {"unknown_permissions": [foreign]}


async def test_the_last_user_manager_cannot_be_disabled(issuance_app: StaffApp) -> None:
    headers = await _admin(issuance_app)
    admin = await issuance_app.account("admin")

    answer = await issuance_app.client.post(f"/api/staff/users/{admin.id}/disable", headers=headers)

    assert answer.status_code == 409
    assert not (await issuance_app.account("admin")).disabled


async def test_disable_enable_and_validity_dates(issuance_app: StaffApp) -> None:
    headers = await _admin(issuance_app)
    await issuance_app.make_account("tanaka")
    tanaka = await issuance_app.account("tanaka")

    disabled = await issuance_app.client.post(
        f"/api/staff/users/{tanaka.id}/disable", headers=headers
    )
    assert disabled.status_code == 204
    assert (await issuance_app.login("tanaka")).status_code == 403
    await issuance_app.login("admin")
    headers = await issuance_app.csrf_headers()
    assert (
        await issuance_app.client.post(f"/api/staff/users/{tanaka.id}/enable", headers=headers)
    ).status_code == 204
    moved = await issuance_app.client.patch(
        f"/api/staff/users/{tanaka.id}",
        json={"valid_until": (today() - dt.timedelta(days=1)).isoformat()},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    assert (await issuance_app.login("tanaka")).status_code == 403
    backwards = await issuance_app.client.patch(
        f"/api/staff/users/{tanaka.id}",
        json={"valid_from": "2030-01-01", "valid_until": "2029-01-01"},
        headers=headers,
    )
    assert backwards.status_code == 409


async def test_review_report_lists_accounts_that_need_a_look(issuance_app: StaffApp) -> None:
    headers = await _admin(issuance_app)
    await issuance_app.make_account("dormant")
    await issuance_app.update_account("dormant", last_login_at=days_ago(200))
    await issuance_app.make_account("leaving", valid_until=today() + dt.timedelta(days=5))
    await issuance_app.make_account("fresh")
    await issuance_app.update_account("fresh", last_login_at=days_ago(1))
    await issuance_app.make_account("=cmd", permissions=())
    await issuance_app.update_account("=cmd", password_changed_at=days_ago(400))
    del headers

    report = await issuance_app.client.get("/api/staff/review/")
    as_csv = await issuance_app.client.get("/api/staff/review/csv")

    reasons = {entry["login_id"]: entry["reasons"] for entry in report.json()["entries"]}
    assert reasons["dormant"] == ["dormant"]
    assert reasons["leaving"] == ["validity_ending"]
    assert reasons["admin"] == ["administrator"]
    assert "password_old" in reasons["=cmd"]
    assert "fresh" not in reasons
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("login_id,display_name,reasons")
    assert any(line.startswith("'=cmd") for line in lines)


async def test_a_password_reset_ends_the_accounts_sessions(issuance_app: StaffApp) -> None:
    headers = await _admin(issuance_app)
    admin = await issuance_app.account("admin")
    await issuance_app.make_account("tanaka", permissions=("users.manage",))
    tanaka = await issuance_app.account("tanaka")

    reset = await issuance_app.client.post(
        f"/api/staff/users/{tanaka.id}/password-reset", json={}, headers=headers
    )

    assert reset.status_code == 201, reset.text
    assert (await issuance_app.account("tanaka")).must_change_password
    assert admin.id != tanaka.id


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
async def test_create_admin_bootstraps_an_administrator_with_a_chosen_password(
    staff_app_factory: Any, zone_database_urls: dict[Zone, str], tmp_path: Any, zone: Zone
) -> None:
    app = await staff_app_factory(zone)
    url = zone_database_urls[zone]

    def invoke(args: list[str], stdin: str) -> Any:
        return invoke_zone_cli(users_commands(zone), zone, url, tmp_path, args, stdin)

    weak = await asyncio.to_thread(
        invoke, ["create-admin", "--login-id", "chief", "--password-stdin"], "short\n"
    )
    good = await asyncio.to_thread(
        invoke, ["create-admin", "--login-id", "chief", "--password-stdin"], PASSWORD + "\n"
    )
    again = await asyncio.to_thread(
        invoke, ["create-admin", "--login-id", "chief", "--password-stdin"], PASSWORD + "\n"
    )

    assert weak.exit_code == 1
    assert "at least 12" in weak.output
    assert good.exit_code == 0, good.output
    assert again.exit_code == 1
    assert "taken" in again.output
    login = await app.login("chief")
    assert login.status_code == 200
    assert login.json()["password_change_required"] is False
    assert set(login.json()["permissions"]) == {"settings.manage", "users.manage"}
    # Each run of the command is in the zone's access log, with how it ended.
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT outcome, actor_kind, resource_ids FROM access_log "
            "WHERE route = $1 ORDER BY sequence",
            f"madoguchi {zone.value} users create-admin",
        )
    finally:
        await connection.close()
    assert [row["outcome"] for row in rows] == ["refused", "success", "refused"]
    assert {row["actor_kind"] for row in rows} == {"cli"}
    assert all("chief" in row["resource_ids"] for row in rows)
