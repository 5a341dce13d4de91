"""Password hashing and the password rules."""

from __future__ import annotations

import pytest

from api.core.identity.passwords import (
    PasswordPolicy,
    common_passwords,
    hash_password,
    password_problems,
    verify_password,
)

POLICY = PasswordPolicy(min_length=12, history=5)


def test_hashes_are_argon2id_salted_and_verify() -> None:
    first, second = hash_password("a long passphrase"), hash_password("a long passphrase")

    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "a long passphrase")
    assert not verify_password(first, "another passphrase")


def test_a_missing_or_broken_hash_never_verifies() -> None:
    assert not verify_password(None, "madoguchi: no such account")
    assert not verify_password("not a hash", "anything")


def test_a_good_password_passes() -> None:
    assert password_problems("kumo-no-ue 7 sakana", login_id="tanaka", policy=POLICY) == []


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short1!", "at least 12"),
        ("my-tanaka-passphrase", "login ID"),
        ("TANAKA is my passphrase", "login ID"),
        ("aaaaaaaaaaaaaaaa", "repeat"),
        ("password1234", "common"),
        ("Password2026!!", "common"),
        ("qwertyuiop12", "common"),
    ],
)
def test_rules_are_enforced(password: str, fragment: str) -> None:
    problems = password_problems(password, login_id="tanaka", policy=POLICY)

    assert any(fragment in problem for problem in problems), problems


def test_the_last_passwords_may_not_be_reused_but_older_ones_may() -> None:
    earlier = [hash_password(f"earlier passphrase {n}") for n in range(7)]

    assert password_problems(
        "earlier passphrase 4", login_id="x", policy=POLICY, earlier_hashes=earlier
    )
    assert not password_problems(
        "earlier passphrase 6", login_id="x", policy=POLICY, earlier_hashes=earlier
    )


def test_the_common_password_list_ships_with_the_project() -> None:
    listed = common_passwords()

    assert len(listed) > 300
    assert "password" in listed
    assert all(entry == entry.lower() for entry in listed)
