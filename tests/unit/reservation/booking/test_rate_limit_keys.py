"""Which clients share a login rate-limit count."""

from __future__ import annotations

from api.reservation.booking.rate_limit import client_key


def test_an_ipv6_client_is_counted_by_its_slash_64() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("2001:db8:1:2::1") == "client:2001:db8:1:2::/64"


def test_an_ipv4_client_is_counted_by_its_own_address_however_written() -> None:
    assert client_key("192.0.2.7") == "client:192.0.2.7"
    assert client_key("::ffff:192.0.2.7") == "client:192.0.2.7"
    assert client_key("192.0.2.7") != client_key("192.0.2.8")


def test_a_client_that_is_no_address_keeps_its_own_key() -> None:
    assert client_key("testclient") == "client:testclient"
