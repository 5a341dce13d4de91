"""Which machine a staff request comes from: its address, and its terminal certificate.

Pure functions over the ASGI scope; the middleware decides what to refuse.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from litestar.types import Scope

from api.core.settings import Network

_NOT_HEX: Final = re.compile(r"[^0-9a-f]")
_FORWARDED_FOR: Final = b"x-forwarded-for"


def canonical_fingerprint(raw: str) -> str | None:
    """A certificate fingerprint as stored: lower-case hex without separators, or ``None``.

    Proxies write it as ``AB:CD:...``, ``abcd...`` or ``sha256//...``-like forms; only the
    hex digits count, and anything shorter than SHA-1 (40 digits) is no fingerprint.
    """
    text = raw.strip().lower().removeprefix("sha256:").removeprefix("sha1:")
    digits = _NOT_HEX.sub("", text.replace(":", ""))
    if len(digits) < 40 or len(digits) > 128 or len(digits) != len(text.replace(":", "")):
        return None
    return digits


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _within(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, networks: tuple[Network, ...]
) -> bool:
    return address is not None and any(address in network for network in networks)


def peer_address(scope: Scope) -> str | None:
    """The address of the machine that opened the connection (the proxy, behind one)."""
    client = scope.get("client")
    return client[0] if client else None


def from_proxy(scope: Scope, proxies: tuple[Network, ...]) -> bool:
    """Whether the connection comes from one of ``proxies`` (judged by the peer's address)."""
    peer = peer_address(scope)
    return peer is not None and _within(_address(peer), proxies)


def client_address(scope: Scope, trusted_proxies: tuple[Network, ...]) -> str | None:
    """The terminal's address: the peer, or behind a trusted proxy the address it reports.

    Only the last ``X-Forwarded-For`` entry is used: it is the one our proxy appended;
    earlier entries come from the client and could be forged. ``None`` when the proxy's
    entry is no address: the request is not the proxy's own, so taking the proxy's
    address (often inside the staff networks) would let it in.
    """
    peer = peer_address(scope)
    if not from_proxy(scope, trusted_proxies):
        return peer
    forwarded = dict(scope["headers"]).get(_FORWARDED_FOR)
    if forwarded is None:
        return peer  # the proxy's host itself (a health check), with no client behind it
    last = forwarded.decode("latin-1").rsplit(",", maxsplit=1)[-1].strip()
    return last if _address(last) is not None else None


def address_allowed(address: str | None, staff_networks: tuple[Network, ...]) -> bool:
    """Whether an address lies in the staff networks (an unknown address never does)."""
    return _within(_address(address) if address else None, staff_networks)


def presented_fingerprint(
    scope: Scope, *, header: str, certificate_proxies: tuple[Network, ...]
) -> str | None:
    """The terminal certificate's fingerprint, read only from requests of a certificate proxy.

    ``certificate_proxies`` is the zone's ``CERTIFICATE_PROXIES``, not its
    ``TRUSTED_PROXIES``: being believed about the client's address is not being believed
    about which terminal it is. From any other address the header is ignored: anyone can
    send it, and fingerprints are no secret (they come from public certificates).
    """
    if not header or not from_proxy(scope, certificate_proxies):
        return None
    raw = dict(scope["headers"]).get(header.lower().encode("latin-1"))
    return canonical_fingerprint(raw.decode("latin-1")) if raw else None
