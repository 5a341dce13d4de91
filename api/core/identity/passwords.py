"""Staff passwords: argon2id hashes and the city's password rules."""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable
from importlib import resources
from typing import Final

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.core.settings import ZoneSettings

# argon2-cffi's defaults are argon2id with the RFC 9106 "low memory" parameters.
_HASHER: Final = PasswordHasher()
# Verified when the login ID is unknown, so that an unknown ID takes as long as a wrong password.
_DUMMY_HASH: Final = _HASHER.hash("madoguchi: no such account")
_EDGE_CHARACTERS: Final = string.digits + string.punctuation + " "


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; never the same twice)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the hash; a missing hash costs the same time and fails."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's and should be renewed."""
    return _HASHER.check_needs_rehash(password_hash)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (``common_passwords.txt``), lower-cased."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


class PasswordPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The rules a new staff password must pass (from the settings)."""

    min_length: int = 12
    history: int = 5

    @classmethod
    def from_settings(cls, settings: ZoneSettings) -> PasswordPolicy:
        """The policy the zone's settings describe."""
        return cls(min_length=settings.password_min_length, history=settings.password_history)


def _is_common(password: str) -> bool:
    lowered = password.lower()
    # "Password2026!" is "password" with a year and a sign: strip digits and signs at the ends.
    core = lowered.strip(_EDGE_CHARACTERS)
    listed = common_passwords()
    return lowered in listed or (len(core) >= 4 and core in listed)


def password_problems(
    password: str,
    *,
    login_id: str,
    policy: PasswordPolicy,
    earlier_hashes: Iterable[str] = (),
) -> list[str]:
    """Every rule the password breaks, as messages for the user; empty when it is acceptable.

    ``earlier_hashes`` are the current and previous hashes, newest first; only the last
    ``policy.history`` of them count.
    """
    problems: list[str] = []
    if len(password) < policy.min_length:
        problems.append(f"The password must have at least {policy.min_length} characters.")
    if login_id and login_id.lower() in password.lower():
        problems.append("The password must not contain the login ID.")
    if len(set(password)) < 4:
        problems.append("The password must not repeat one or two characters.")
    if _is_common(password):
        problems.append("The password is on the list of common passwords.")
    recent = list(earlier_hashes)[: policy.history]
    if any(verify_password(earlier, password) for earlier in recent):
        problems.append(f"The password must differ from the last {policy.history} passwords.")
    return problems
