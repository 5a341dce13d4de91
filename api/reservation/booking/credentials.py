"""Resident credentials: password verifiers, session tokens and confirmation codes.

The password is the birth month-day ``MMDD`` (366 values), so it is stored only as a keyed
verifier and compared in constant time; see DESIGN "Security" for what else guards it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from typing import Final

import msgspec

# 32 symbols without 0/O and 1/I, so a code read aloud on the phone is unambiguous.
CODE_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH: Final = 8
_SESSION_VERSION: Final = "r1"
_SESSION_CONTEXT: Final = b"madoguchi resident session v1"


def password_verifier(key: bytes, reservation_id: str, password: str) -> str:
    """The stored verifier of a password: HMAC-SHA256(key, "reservation_id:MMDD"), in hex.

    The eligibility import stores exactly this; login recomputes and compares it.
    """
    message = f"{reservation_id}:{password}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# Compared against for unknown IDs, so their answer takes as long as a wrong password's.
_UNKNOWN_VERIFIER: Final = "0" * 64


def password_matches(
    key: bytes, reservation_id: str, password: str, stored_verifier: str | None
) -> bool:
    """Whether the password fits the stored verifier, in constant time.

    With no stored verifier (an unknown ID) the HMAC is still computed and compared, so
    the time taken does not tell which IDs exist.
    """
    candidate = password_verifier(key, reservation_id, password)
    expected = stored_verifier if stored_verifier is not None else _UNKNOWN_VERIFIER
    same = hmac.compare_digest(candidate.encode(), expected.encode())
    return same and stored_verifier is not None


def shipment_matches(spoken: str, stored: str) -> bool:
    """Whether the shipment number a caller read out is the stored one (constant time)."""
    return hmac.compare_digest(spoken.strip().upper().encode(), stored.upper().encode())


def new_confirmation_code() -> str:
    """A random confirmation code of 8 symbols from :data:`CODE_ALPHABET` (40 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """The code as shown to people: two groups of four, ``K7QX-M3PA``."""
    return f"{code[:4]}-{code[4:]}" if len(code) == CODE_LENGTH else code


def normalize_code(text: str) -> str:
    """A typed or spoken code as stored: upper case, without hyphens or spaces."""
    return "".join(part for part in text.upper() if part.isalnum())


class ResidentSession(msgspec.Struct, frozen=True, kw_only=True):
    """Who a resident session belongs to, as its signed token says."""

    reservation_id: str
    generation: int
    expires_at: int  # POSIX seconds


@functools.lru_cache(maxsize=4)
def _session_key(secret_key: str) -> bytes:
    # A key of its own, derived from the zone's secret, so a token is never a valid CSRF
    # token or cookie signature, nor the other way round. Derived once per secret (cached),
    # not for every token issued or read.
    return hmac.new(secret_key.encode(), _SESSION_CONTEXT, hashlib.sha256).digest()


def _signature(secret_key: str, payload: str) -> str:
    return hmac.new(_session_key(secret_key), payload.encode(), hashlib.sha256).hexdigest()


def issue_session_token(
    secret_key: str, reservation_id: str, generation: int, lifetime_seconds: int
) -> tuple[str, ResidentSession]:
    """A signed, self-contained session token (no server-side storage is needed).

    Logging out ends every token of the ID by bumping its ``session_generation``.
    """
    session = ResidentSession(
        reservation_id=reservation_id,
        generation=generation,
        expires_at=int(time.time()) + lifetime_seconds,
    )
    payload = f"{_SESSION_VERSION}.{reservation_id}.{generation}.{session.expires_at}"
    return f"{payload}.{_signature(secret_key, payload)}", session


def read_session_token(secret_key: str, token: str) -> ResidentSession | None:
    """The session a token proves, or ``None`` when it is forged, malformed or expired."""
    payload, _, signature = token.strip().rpartition(".")
    if not hmac.compare_digest(_signature(secret_key, payload).encode(), signature.encode()):
        return None
    parts = payload.split(".")
    if len(parts) != 4 or parts[0] != _SESSION_VERSION:
        return None
    _, reservation_id, generation, expires_at = parts
    if not (generation.isdigit() and expires_at.isdigit()) or int(expires_at) <= time.time():
        return None
    return ResidentSession(
        reservation_id=reservation_id, generation=int(generation), expires_at=int(expires_at)
    )
