"""Reading the resident forms: each field's value and the error to show beside it."""

from __future__ import annotations

import re
from typing import Final

import msgspec

from web.i18n import N_, Text

_PASSWORD: Final = re.compile(r"^[0-9]{4}$")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_ID_LENGTH: Final = 20


class FieldError(msgspec.Struct, frozen=True):
    """One field's error: the field's id (for the summary's link) and the message."""

    field: str
    text: Text


def _fold(value: str) -> str:
    """Full-width digits and letters (typed with a Japanese keyboard) to ASCII."""
    return value.translate({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}).strip()


def credentials_errors(
    reservation_id: str, password: str, *, prefix: str = ""
) -> tuple[str, str, list[FieldError]]:
    """Clean a reservation ID and password; list what is missing or malformed."""
    reservation_id, password = _fold(reservation_id), _fold(password)
    errors: list[FieldError] = []
    if not reservation_id:
        errors.append(FieldError(f"{prefix}reservation_id", Text(N_("Enter the reservation ID."))))
    elif len(reservation_id) > MAX_ID_LENGTH:
        errors.append(
            FieldError(
                f"{prefix}reservation_id",
                Text(N_("The reservation ID is too long. Check it against the letter.")),
            )
        )
    if not password:
        errors.append(FieldError(f"{prefix}password", Text(N_("Enter the password."))))
    elif not _PASSWORD.match(password):
        errors.append(
            FieldError(
                f"{prefix}password",
                Text(N_("Enter the password as 4 digits: month and day of birth, e.g. 0315.")),
            )
        )
    return reservation_id, password, errors


def email_error(email: str) -> tuple[str, FieldError | None]:
    """Clean an optional e-mail address."""
    email = _fold(email)
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        return email, FieldError(
            "email",
            Text(N_("Enter the e-mail address in the form name@example.jp, or leave it empty.")),
        )
    return email, None
