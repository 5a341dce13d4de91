"""The optional second factor of staff: time-based one-time passwords (RFC 6238, pyotp)."""

from __future__ import annotations

import base64
import datetime as dt
import hmac

import pyotp
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.core.secrets import resolve_secret_key
from api.core.settings import ZoneSettings


def new_totp_secret() -> str:
    """A fresh random base32 secret for an authenticator app."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, login_id: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code) to enrol."""
    return pyotp.TOTP(secret).provisioning_uri(name=login_id, issuer_name=issuer)


def totp_matches(secret: str, code: str) -> bool:
    """Whether ``code`` is the current code (one step of clock drift either way allowed)."""
    return matching_step(secret, code) is not None


def matching_step(secret: str, code: str, now: dt.datetime | None = None) -> int | None:
    """The 30-second time step whose code ``code`` is (current one, or one either side).

    The step lets a login refuse a code already used: each step's code counts once.
    """
    digits = code.strip().replace(" ", "")
    if not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    moment = now or dt.datetime.now(dt.UTC)
    current = totp.timecode(moment)
    for offset in (0, -1, 1):
        if hmac.compare_digest(totp.generate_otp(current + offset), digits):
            return current + offset
    return None


def _sealer(settings: ZoneSettings) -> Fernet:
    # A key of its own, derived from the zone's secret key: the database alone (a backup,
    # a dump) never holds a usable second factor.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"madoguchi totp secrets"
    ).derive(resolve_secret_key(settings).encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal_totp_secret(settings: ZoneSettings, secret: str) -> str:
    """The secret encrypted (Fernet) under a key derived from the zone's secret key."""
    return _sealer(settings).encrypt(secret.encode()).decode()


def open_totp_secret(settings: ZoneSettings, sealed: str) -> str:
    """The secret a :func:`seal_totp_secret` token holds; raises if the key has changed."""
    return _sealer(settings).decrypt(sealed.encode()).decode()
