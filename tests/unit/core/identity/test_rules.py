"""Pure rules: account state, session timeouts, the guard, terminals, permissions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from api.core.identity.accounts import (
    Principal,
    Refusal,
    password_change_required,
    password_expiry_warning,
    refusal,
    session_expired,
)
from api.core.identity.guards import check_access
from api.core.identity.permissions import (
    ZONE_PERMISSIONS,
    Permission,
    is_administrator,
    unknown_permissions,
)
from api.core.identity.terminals import (
    address_allowed,
    canonical_fingerprint,
    client_address,
    from_proxy,
    presented_fingerprint,
)
from api.core.identity.totp import new_totp_secret, totp_matches
from api.core.settings import Zone, load_settings

NOW = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)  # 12:00 in Tokyo


def settings(**overrides: str) -> Any:
    return load_settings(Zone.ISSUANCE, {"MADOGUCHI_VAR_DIR": str(Path("/tmp")), **overrides})


def account(**values: Any) -> Any:
    defaults: dict[str, Any] = {
        "disabled": False,
        "locked_until": None,
        "valid_from": None,
        "valid_until": None,
        "must_change_password": False,
        "password_changed_at": NOW - dt.timedelta(days=10),
    }
    return SimpleNamespace(**{**defaults, **values})


def principal(*permissions: str, **values: Any) -> Principal:
    base: dict[str, Any] = {
        "kind": "staff",
        "name": "tanaka",
        "terminal": None,
        "account_id": 1,
        "display_name": "Tanaka",
        "permissions": frozenset(permissions),
    }
    return Principal(**{**base, **values})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        ({"disabled": True}, Refusal.DISABLED),
        ({"locked_until": NOW + dt.timedelta(minutes=1)}, Refusal.LOCKED),
        ({"locked_until": NOW - dt.timedelta(minutes=1)}, None),
        ({"valid_from": dt.date(2026, 11, 27)}, Refusal.NOT_YET_VALID),
        ({"valid_from": dt.date(2026, 11, 26)}, None),
        ({"valid_until": dt.date(2026, 11, 26)}, None),
        ({"valid_until": dt.date(2026, 11, 25)}, Refusal.NO_LONGER_VALID),
    ],
)
def test_account_refusal(values: dict[str, Any], expected: Refusal | None) -> None:
    assert refusal(account(**values), now=NOW, settings=settings()) == expected


def test_password_expiry_and_warning() -> None:
    rules = settings(MADOGUCHI_PASSWORD_EXPIRY_DAYS="30", MADOGUCHI_PASSWORD_WARNING_DAYS="7")
    fresh = account(password_changed_at=NOW - dt.timedelta(days=10))
    warned = account(password_changed_at=NOW - dt.timedelta(days=25))
    expired = account(password_changed_at=NOW - dt.timedelta(days=30))

    assert not password_change_required(fresh, now=NOW, settings=rules)
    assert not password_expiry_warning(fresh, now=NOW, settings=rules)
    assert password_expiry_warning(warned, now=NOW, settings=rules)
    assert password_change_required(expired, now=NOW, settings=rules)
    assert password_change_required(account(must_change_password=True), now=NOW, settings=rules)


def test_zero_expiry_days_means_never() -> None:
    ancient = account(password_changed_at=NOW - dt.timedelta(days=9000))

    assert not password_change_required(
        ancient, now=NOW, settings=settings(MADOGUCHI_PASSWORD_EXPIRY_DAYS="0")
    )


def test_session_idle_and_absolute_timeouts() -> None:
    rules = settings(MADOGUCHI_SESSION_IDLE_MINUTES="30", MADOGUCHI_SESSION_ABSOLUTE_HOURS="10")
    moment = NOW.timestamp()

    assert not session_expired(
        {"login_at": moment - 3600, "seen_at": moment - 60}, now=NOW, settings=rules
    )
    assert session_expired(
        {"login_at": moment - 3600, "seen_at": moment - 31 * 60}, now=NOW, settings=rules
    )
    assert session_expired(
        {"login_at": moment - 11 * 3600, "seen_at": moment}, now=NOW, settings=rules
    )
    assert session_expired({}, now=NOW, settings=rules)


def test_guard_public_entry_and_undeclared_routes() -> None:
    check_access({"public": True}, None)
    check_access({"staff_entry": True}, None)
    with pytest.raises(NotAuthorizedException):
        check_access({"permission": "residents.read"}, None)
    with pytest.raises(PermissionDeniedException):
        check_access({}, principal(*Permission))


def test_guard_checks_the_declared_permission() -> None:
    check_access({"permission": "residents.read"}, principal("residents.read"))
    with pytest.raises(PermissionDeniedException):
        check_access({"permission": "residents.read"}, principal("residents.import"))


def test_guard_blocks_everything_but_setup_routes_until_the_password_is_changed() -> None:
    pending = principal("residents.read", password_change_required=True)

    check_access({"authenticated": True, "setup": True}, pending)
    with pytest.raises(PermissionDeniedException):
        check_access({"permission": "residents.read"}, pending)
    with pytest.raises(PermissionDeniedException):
        check_access({"authenticated": True}, pending)


def test_tokens_act_only_through_permissions() -> None:
    token = principal("residents.read", kind="token", token_id=3)

    check_access({"permission": "residents.read"}, token)
    with pytest.raises(PermissionDeniedException):
        check_access({"authenticated": True}, token)


def test_permissions_per_zone() -> None:
    assert Permission.RESIDENTS_READ not in ZONE_PERMISSIONS[Zone.RESERVATION]
    assert Permission.RESERVATIONS_PROXY not in ZONE_PERMISSIONS[Zone.ISSUANCE]
    assert unknown_permissions(Zone.RESERVATION, ["residents.read", "sync.export"]) == [
        "residents.read"
    ]
    assert is_administrator(["users.manage"])
    assert not is_administrator(["audit.read", "residents.read"])


def scope(peer: str, headers: dict[str, str] | None = None) -> Any:
    return {
        "type": "http",
        "client": (peer, 1234),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }


def test_terminal_addresses_and_proxies() -> None:
    rules = settings(ISSUANCE_STAFF_NETWORKS="10.1.0.0/16", ISSUANCE_TRUSTED_PROXIES="10.9.9.9/32")
    assert address_allowed("10.1.2.3", rules.staff_networks)
    assert not address_allowed("192.168.0.1", rules.staff_networks)
    assert not address_allowed(None, rules.staff_networks)
    assert not address_allowed("testclient", rules.staff_networks)
    # Behind the proxy the last X-Forwarded-For entry counts; elsewhere the header is ignored.
    proxied = scope("10.9.9.9", {"x-forwarded-for": "1.2.3.4, 10.1.2.3"})
    assert client_address(proxied, rules.trusted_proxies) == "10.1.2.3"
    forged = scope("192.168.0.1", {"x-forwarded-for": "10.1.2.3"})
    assert client_address(forged, rules.trusted_proxies) == "192.168.0.1"


def test_an_unreadable_proxy_report_is_an_unknown_address_not_the_proxys() -> None:
    rules = settings(ISSUANCE_STAFF_NETWORKS="10.9.0.0/16", ISSUANCE_TRUSTED_PROXIES="10.9.9.9/32")
    garbled = scope("10.9.9.9", {"x-forwarded-for": "203.0.113.9, not-an-address"})
    empty = scope("10.9.9.9", {"x-forwarded-for": ""})
    own = scope("10.9.9.9")

    # The proxy sits inside the staff networks: its address must not stand in for a client.
    assert client_address(garbled, rules.trusted_proxies) is None
    assert client_address(empty, rules.trusted_proxies) is None
    assert not address_allowed(client_address(garbled, rules.trusted_proxies), rules.staff_networks)
    # Without the header the request is the proxy host's own.
    assert client_address(own, rules.trusted_proxies) == "10.9.9.9"


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
def test_by_default_a_loopback_proxy_is_believed_and_its_client_judged(zone: Zone) -> None:
    rules = load_settings(zone, {"MADOGUCHI_VAR_DIR": "/tmp"})
    proxied = client_address(
        scope("127.0.0.1", {"x-forwarded-for": "203.0.113.9"}), rules.trusted_proxies
    )
    proxied_v6 = client_address(
        scope("::1", {"x-forwarded-for": "198.51.100.4, 203.0.113.9"}), rules.trusted_proxies
    )
    direct = client_address(scope("127.0.0.1"), rules.trusted_proxies)

    assert proxied == proxied_v6 == "203.0.113.9"
    assert not address_allowed(proxied, rules.staff_networks)
    # `make run`: a browser on this host, no proxy, no header.
    assert direct == "127.0.0.1"
    assert address_allowed(direct, rules.staff_networks)


def test_fingerprints_are_read_only_from_the_certificate_proxy() -> None:
    raw = "AB:" * 31 + "AB"
    header = "X-Client-Certificate-Fingerprint"
    rules = settings(
        ISSUANCE_TRUSTED_PROXIES="10.9.9.0/24", ISSUANCE_CERTIFICATE_PROXIES="10.9.9.9/32"
    )

    assert canonical_fingerprint(raw) == "ab" * 32
    assert canonical_fingerprint("not-hex" * 10) is None
    assert canonical_fingerprint("abcd") is None
    assert (
        presented_fingerprint(
            scope("10.9.9.9", {header: raw}),
            header=header,
            certificate_proxies=rules.certificate_proxies,
        )
        == "ab" * 32
    )
    # A trusted proxy for X-Forwarded-For is not, for that, believed about terminals.
    for peer in ("10.9.9.8", "10.1.2.3"):
        assert (
            presented_fingerprint(
                scope(peer, {header: raw}),
                header=header,
                certificate_proxies=rules.certificate_proxies,
            )
            is None
        )


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
def test_by_default_no_address_is_believed_about_terminals_not_even_loopback(zone: Zone) -> None:
    # Loopback is a trusted proxy by default (for X-Forwarded-For), but any local process can
    # connect from it, and fingerprints come from public certificates.
    rules = load_settings(zone, {"MADOGUCHI_VAR_DIR": "/tmp"})
    header = rules.terminal_certificate_header

    assert rules.certificate_proxies == ()
    for peer in ("127.0.0.1", "::1"):
        assert from_proxy(scope(peer), rules.trusted_proxies)
        assert (
            presented_fingerprint(
                scope(peer, {header: "ab" * 32}),
                header=header,
                certificate_proxies=rules.certificate_proxies,
            )
            is None
        )


def test_totp_codes() -> None:
    secret = new_totp_secret()

    assert totp_matches(secret, pyotp.TOTP(secret).now())
    assert not totp_matches(secret, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert not totp_matches(secret, "abcdef")
