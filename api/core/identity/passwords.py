"""Staff passwords: argon2id hashes and the city's password rules."""

from __future__ import annotations

import asyncio
import functools
import os
import string
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Final, TypeVar

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.core.settings import ZoneSettings

# argon2-cffi's defaults are argon2id with the RFC 9106 "low memory" parameters.
_HASHER: Final = PasswordHasher()
# Verified when the login ID is unknown, so that an unknown ID takes as long as a wrong password.
_DUMMY_HASH: Final = _HASHER.hash("madoguchi: no such account")
_EDGE_CHARACTERS: Final = string.digits + string.punctuation + " "
# Each argon2 computation takes ~150 ms and 64 MiB: it runs in worker threads, never on the
# event loop (where one login would stall every other request of the worker), and at most
# this many at once per process, which bounds the memory a burst of logins can take.
_ARGON2_THREADS: Final = 4
T = TypeVar("T")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; never the same twice)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the hash; a missing hash costs the same time and fails."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _hashing_threads(process_id: int) -> ThreadPoolExecutor:
    """This process's argon2 threads (keyed by process: a forked child makes its own)."""
    del process_id
    return ThreadPoolExecutor(max_workers=_ARGON2_THREADS, thread_name_prefix="argon2")


async def _off_the_loop(work: Callable[[], T]) -> T:
    """Run argon2 work in the hashing threads; the event loop serves other requests meanwhile."""
    threads = _hashing_threads(os.getpid())
    return await asyncio.get_running_loop().run_in_executor(threads, work)


async def hash_password_off_loop(password: str) -> str:
    """:func:`hash_password` in a worker thread (argon2 takes ~150 ms)."""
    return await _off_the_loop(functools.partial(hash_password, password))


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """:func:`verify_password` in a worker thread; a missing hash still costs the same time."""
    return await _off_the_loop(functools.partial(verify_password, password_hash, password))


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


async def password_problems_off_loop(
    password: str,
    *,
    login_id: str,
    policy: PasswordPolicy,
    earlier_hashes: Iterable[str] = (),
) -> list[str]:
    """:func:`password_problems` in a worker thread (each earlier hash is an argon2 check)."""
    earlier = list(earlier_hashes)
    return await _off_the_loop(
        functools.partial(
            password_problems, password, login_id=login_id, policy=policy, earlier_hashes=earlier
        )
    )
