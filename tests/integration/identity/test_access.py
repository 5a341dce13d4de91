"""The app-wide guard, terminal restriction, CSRF, session timeouts, forced password change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import text

from api.core.identity.guards import AUTHENTICATED, PERMISSION, PUBLIC, STAFF_ENTRY
from api.core.identity.permissions import ZONE_PERMISSIONS, Permission
from api.core.settings import Zone
from tests.integration.identity.conftest import (
    PASSWORD,
    StaffApp,
    StaffAppFactory,
    build_app,
    days_ago,
)
from tests.support import make_settings

# Every route that may answer without a permission, by design. Anything else needs one.
PUBLIC_ALLOWLIST = {
    ("/healthz", "GET"),
    ("/readyz", "GET"),
    ("/api/staff/login", "POST"),
    ("/test/public", "GET"),
}
FRAMEWORK_HEAD_OPTIONS = {"HEAD", "OPTIONS"}


def _declared_routes(app: Litestar) -> list[tuple[str, str, dict[str, Any]]]:
    routes = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(getattr(handler, "http_methods", set()) - FRAMEWORK_HEAD_OPTIONS):
                routes.append((route.path, method, handler.opt))
    return routes


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
def test_every_route_declares_a_permission_or_is_allowlisted(
    zone: Zone, zone_database_urls: dict[Zone, str], tmp_path: Any
) -> None:
    app = build_app(
        zone, make_settings(zone, tmp_path), zone_database_urls[zone], extra_routes=False
    )
    unguarded = []
    for path, method, opt in _declared_routes(app):
        if (path, method) in PUBLIC_ALLOWLIST or path.startswith("/test/"):
            continue
        if opt.get(PERMISSION) is not None or opt.get(AUTHENTICATED):
            continue
        unguarded.append((path, method, opt))
    assert unguarded == []
    # And nothing but the allowlist is public or open before login.
    opened = {
        (path, method)
        for path, method, opt in _declared_routes(app)
        if opt.get(PUBLIC) or opt.get(STAFF_ENTRY)
    }
    assert opened <= PUBLIC_ALLOWLIST
    # Declared permissions exist in the zone.
    declared = {opt[PERMISSION] for _, _, opt in _declared_routes(app) if opt.get(PERMISSION)}
    assert declared <= {permission.value for permission in ZONE_PERMISSIONS[zone]}


CASES = [(zone, permission) for zone in Zone for permission in sorted(ZONE_PERMISSIONS[zone])]


@pytest.mark.parametrize(
    ("zone", "permission"), CASES, ids=[f"{zone.value}-{p.value}" for zone, p in CASES]
)
async def test_each_permission_allows_its_holder_and_denies_others(
    staff_app_factory: StaffAppFactory, zone: Zone, permission: Permission
) -> None:
    app = await staff_app_factory(zone)
    others = tuple(p.value for p in ZONE_PERMISSIONS[zone] if p is not permission)
    await app.make_account("holder", permissions=(permission.value,))
    await app.make_account("others", permissions=others)
    route = f"/test/probe/{permission.value}"

    assert (await app.client.get(route)).status_code == 401
    await app.login("others")
    denied = await app.client.get(route)
    assert denied.status_code == 403
    assert denied.json()["error"]["details"] == {"permission": permission.value}
    app.client.cookies.clear()
    await app.login("holder")
    assert (await app.client.get(route)).status_code == 200


async def test_undeclared_routes_are_refused_even_to_administrators(issuance_app: StaffApp) -> None:
    await issuance_app.make_account(
        "admin", permissions=tuple(p.value for p in ZONE_PERMISSIONS[Zone.ISSUANCE])
    )
    await issuance_app.login("admin")

    assert (await issuance_app.client.get("/test/undeclared")).status_code == 403
    assert (await issuance_app.client.get("/test/public")).status_code == 200


async def test_outside_the_staff_networks_is_refused_even_with_a_valid_session(
    staff_app_factory: StaffAppFactory,
) -> None:
    app = await staff_app_factory(Zone.ISSUANCE, ISSUANCE_STAFF_NETWORKS="10.1.0.0/16")
    await app.make_account("tanaka", permissions=("residents.read",))
    inside = {"x-test-peer": "10.1.2.3"}
    assert (await app.login("tanaka", headers=inside)).status_code == 200
    assert (await app.client.get("/test/probe/residents.read", headers=inside)).status_code == 200

    outside = await app.client.get(
        "/test/probe/residents.read", headers={"x-test-peer": "192.168.7.7"}
    )
    refused_login = await app.login("tanaka", headers={"x-test-peer": "192.168.7.7"})

    assert outside.status_code == 403
    assert refused_login.status_code == 403
    # Public routes stay open from anywhere.
    assert (
        await app.client.get("/test/public", headers={"x-test-peer": "192.168.7.7"})
    ).status_code == 200
    refusals = [e for e in await app.log_entries() if e["outcome"] == "refused_network"]
    assert len(refusals) == 2
    assert refusals[0]["detail"]["client_address"] == "192.168.7.7"


async def test_behind_the_loopback_proxy_the_forwarded_client_is_judged_by_default(
    staff_app: StaffApp,
) -> None:
    await staff_app.make_account("tanaka", permissions=("audit.read",))
    assert (await staff_app.login("tanaka")).status_code == 200
    route = "/test/probe/audit.read"
    # nginx on this host: the peer is 127.0.0.1, the client the address nginx appended.
    proxied = {"x-test-peer": "127.0.0.1", "x-forwarded-for": "203.0.113.9"}

    garbled = {"x-test-peer": "127.0.0.1", "x-forwarded-for": "127.0.0.1, unknown"}

    refused = await staff_app.client.get(route, headers=proxied)
    direct = await staff_app.client.get(route, headers={"x-test-peer": "127.0.0.1"})
    # An entry of the proxy's that is no address is an unknown client, not the proxy.
    unreadable = await staff_app.client.get(route, headers=garbled)

    assert refused.status_code == 403
    assert "office's networks" in refused.json()["error"]["message"]
    assert direct.status_code == 200
    assert unreadable.status_code == 403
    refusals = [e for e in await staff_app.log_entries() if e["outcome"] == "refused_network"]
    assert [e["detail"]["client_address"] for e in refusals] == ["203.0.113.9", "unknown"]


FINGERPRINT = "ab" * 32
HEADER = "x-client-certificate-fingerprint"


async def _register_terminal(session: Any) -> None:
    await session.execute(
        text(
            "INSERT INTO staff_terminals (name, fingerprint, active, created_at, updated_at) "
            "VALUES ('counter-1', :fingerprint, true, now(), now())"
        ),
        {"fingerprint": FINGERPRINT},
    )


async def test_unregistered_terminals_are_refused_and_the_header_counts_only_from_the_proxy(
    staff_app_factory: StaffAppFactory,
) -> None:
    app = await staff_app_factory(
        Zone.RESERVATION,
        RESERVATION_REQUIRE_REGISTERED_TERMINAL="true",
        RESERVATION_TRUSTED_PROXIES="127.0.0.1/32,10.2.3.4/32",
        RESERVATION_CERTIFICATE_PROXIES="127.0.0.1/32",
        RESERVATION_STAFF_NETWORKS="127.0.0.0/8,10.0.0.0/8",
    )
    await app.make_account("admin", permissions=("users.manage",))
    await app.run(_register_terminal)
    via_proxy = {HEADER: ":".join(["AB"] * 32)}

    unregistered = await app.login("admin", headers={HEADER: "cd" * 32})
    no_header = await app.login("admin")
    # The same (registered) fingerprint from a machine that is not the certificate proxy:
    # ignored, even though it is trusted for X-Forwarded-For.
    spoofed = await app.login("admin", headers={**via_proxy, "x-test-peer": "10.2.3.4"})
    registered = await app.login("admin", headers=via_proxy)

    assert unregistered.status_code == no_header.status_code == spoofed.status_code == 403
    assert registered.status_code == 200, registered.text
    terminals = await app.client.get("/api/staff/terminals", headers=via_proxy)
    assert [t["name"] for t in terminals.json()] == ["counter-1"]
    entries = await app.log_entries()
    assert sum(e["outcome"] == "refused_terminal" for e in entries) == 3
    assert any(e["outcome"] == "login_succeeded" and e["terminal"] == "counter-1" for e in entries)


async def test_by_default_a_local_process_cannot_claim_a_registered_terminal(
    staff_app: StaffApp,
) -> None:
    # Loopback is a trusted proxy by default (nginx on this host), so the header below comes
    # from an address whose X-Forwarded-For is believed: its fingerprint is not, until the
    # zone's CERTIFICATE_PROXIES say so.
    await staff_app.make_account("tanaka", permissions=("audit.read",))
    await staff_app.run(_register_terminal)
    claimed = {HEADER: FINGERPRINT, "x-test-peer": "127.0.0.1"}

    login = await staff_app.login("tanaka", headers=claimed)
    probe = await staff_app.client.get("/test/probe/audit.read", headers=claimed)

    assert login.status_code == 200, login.text
    assert probe.status_code == 200, probe.text
    entries = await staff_app.log_entries()
    assert entries
    assert [e["terminal"] for e in entries] == [None] * len(entries), entries


async def test_csrf_is_required_for_cookie_authenticated_posts(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.login("tanaka")

    without = await issuance_app.client.post("/api/staff/logout")
    forged = await issuance_app.client.post("/api/staff/logout", headers={"x-csrftoken": "0" * 128})
    with_token = await issuance_app.client.post(
        "/api/staff/logout", headers=await issuance_app.csrf_headers()
    )

    assert without.status_code == 403
    assert forged.status_code == 403
    assert with_token.status_code == 204


async def test_a_form_post_without_cookies_still_needs_csrf(issuance_app: StaffApp) -> None:
    # A cross-site form cannot send JSON, but it can send this.
    answer = await issuance_app.client.post(
        "/api/staff/login", data={"login_id": "tanaka", "password": PASSWORD}
    )

    assert answer.status_code == 403


async def test_idle_timeout_ends_a_session(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.login("tanaka")
    assert (await issuance_app.client.get("/api/staff/me")).status_code == 200

    async def idle(session: Any) -> None:
        await session.execute(
            text("UPDATE staff_sessions SET expires_at = now() - interval '1 second'")
        )

    await issuance_app.run(idle)

    assert (await issuance_app.client.get("/api/staff/me")).status_code == 401


async def test_an_expired_password_forces_a_change_before_anything_else(
    staff_app_factory: StaffAppFactory,
) -> None:
    app = await staff_app_factory(Zone.ISSUANCE, MADOGUCHI_PASSWORD_EXPIRY_DAYS="90")
    await app.make_account("tanaka", permissions=("residents.read",))
    await app.update_account("tanaka", password_changed_at=days_ago(91))

    login = await app.login("tanaka")
    assert login.status_code == 200
    assert login.json()["password_change_required"] is True
    blocked = await app.client.get("/test/probe/residents.read")
    assert blocked.status_code == 403
    assert blocked.json()["error"]["details"] == {"reason": "password_change_required"}
    assert (await app.client.get("/api/staff/me")).status_code == 200

    changed = await app.client.post(
        "/api/staff/password",
        json={"current_password": PASSWORD, "new_password": "a fresh kanji-free passphrase"},
        headers=await app.csrf_headers(),
    )

    assert changed.status_code == 204, changed.text
    assert (await app.client.get("/test/probe/residents.read")).status_code == 200


async def test_first_login_forces_the_change_and_refuses_reuse(issuance_app: StaffApp) -> None:
    await issuance_app.make_account(
        "tanaka", permissions=("residents.read",), must_change_password=True
    )
    await issuance_app.login("tanaka")
    assert (await issuance_app.client.get("/test/probe/residents.read")).status_code == 403
    headers = await issuance_app.csrf_headers()

    same = await issuance_app.client.post(
        "/api/staff/password",
        json={"current_password": PASSWORD, "new_password": PASSWORD},
        headers=headers,
    )
    weak = await issuance_app.client.post(
        "/api/staff/password",
        json={"current_password": PASSWORD, "new_password": "password1234"},
        headers=headers,
    )

    assert same.status_code == weak.status_code == 422
    assert same.json()["error"]["code"] == "password_rejected"
    assert (await issuance_app.client.get("/test/probe/residents.read")).status_code == 403


async def test_another_sessions_password_change_ends_this_session(issuance_app: StaffApp) -> None:
    await issuance_app.make_account("tanaka")
    await issuance_app.login("tanaka")

    await issuance_app.update_account("tanaka", password_changed_at=dt.datetime.now(dt.UTC))

    assert (await issuance_app.client.get("/api/staff/me")).status_code == 401


async def test_openapi_docs_need_a_login(issuance_app: StaffApp) -> None:
    assert (await issuance_app.client.get("/api/docs/openapi.json")).status_code == 401
