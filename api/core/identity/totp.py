"""The optional second factor of staff: time-based one-time passwords (RFC 6238, pyotp)."""

from __future__ import annotations

import pyotp


def new_totp_secret() -> str:
    """A fresh random base32 secret for an authenticator app."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, login_id: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code) to enrol."""
    return pyotp.TOTP(secret).provisioning_uri(name=login_id, issuer_name=issuer)


def totp_matches(secret: str, code: str) -> bool:
    """Whether ``code`` is the current code (one step of clock drift either way allowed)."""
    digits = code.strip().replace(" ", "")
    return digits.isdigit() and pyotp.TOTP(secret).verify(digits, valid_window=1)
