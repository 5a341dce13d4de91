"""What the staff identity API reads and answers (msgspec Structs)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

LoginId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")]
Secret = Annotated[str, Meta(min_length=1, max_length=1024)]
Name = Annotated[str, Meta(min_length=1, max_length=100)]
TotpCode = Annotated[str, Meta(min_length=6, max_length=8, pattern=r"^[0-9]+$")]


class LoginInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A login attempt."""

    login_id: Annotated[str, Meta(min_length=1, max_length=256)]
    password: Secret
    totp: str | None = None


class PasswordChangeInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A user's change of their own password."""

    current_password: Secret
    new_password: Secret


class TotpConfirmInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The first code from the authenticator app, proving the enrolment worked."""

    code: TotpCode


class TotpEnrolment(msgspec.Struct, frozen=True):
    """A pending second-factor enrolment: the secret to put into an authenticator app."""

    secret: str
    provisioning_uri: str


class Me(msgspec.Struct, frozen=True):
    """Who is logged in, and what they must do first."""

    login_id: str
    display_name: str
    permissions: list[str]
    password_change_required: bool
    totp_enrolment_required: bool
    password_expires_at: dt.datetime | None
    password_expiry_warning: bool
    totp_enabled: bool
    via_token: bool


class AccountCreateInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new staff account; without ``initial_password`` one is generated and shown once."""

    login_id: LoginId
    display_name: Annotated[str, Meta(max_length=200)] = ""
    initial_password: Secret | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    role_ids: list[int] = msgspec.field(default_factory=list)


class AccountUpdateInput(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True
):
    """A change to an account (only the fields given change; ``null`` clears a date)."""

    display_name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    valid_from: dt.date | UnsetType | None = UNSET
    valid_until: dt.date | UnsetType | None = UNSET


class RoleGrantInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Exactly the roles an account holds from now on."""

    role_ids: list[int]


class PasswordResetInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An administrator's reset; without ``password`` one is generated and shown once."""

    password: Secret | None = None


class Account(msgspec.Struct, frozen=True):
    """A staff account as administrators see it (never its hashes or second-factor secret)."""

    id: int
    login_id: str
    display_name: str
    disabled: bool
    locked: bool
    locked_until: dt.datetime | None
    failed_attempts: int
    must_change_password: bool
    password_changed_at: dt.datetime
    valid_from: dt.date | None
    valid_until: dt.date | None
    last_login_at: dt.datetime | None
    totp_enabled: bool
    role_ids: list[int]
    permissions: list[str]
    administrator: bool


class AccountCreated(msgspec.Struct, frozen=True, omit_defaults=True):
    """A created (or reset) account; a generated password appears here once, never again."""

    account: Account
    initial_password: str | None = None


class RoleInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new role."""

    name: Annotated[str, Meta(min_length=1, max_length=64)]
    description: str = ""
    permissions: list[str] = msgspec.field(default_factory=list)


class RoleUpdateInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A change to a role (only the fields given change)."""

    name: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    description: str | UnsetType = UNSET
    permissions: list[str] | UnsetType = UNSET


class Role(msgspec.Struct, frozen=True):
    """A role and what it grants."""

    id: int
    name: str
    description: str
    permissions: list[str]
    administrator: bool


class PermissionInfo(msgspec.Struct, frozen=True):
    """One permission of the zone."""

    name: str
    administrator: bool


class TokenInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new personal access token."""

    name: Name
    permissions: list[str]
    days: Annotated[int, Meta(ge=1, le=366)] = 90


class Token(msgspec.Struct, frozen=True):
    """A personal access token as listed (never its secret)."""

    id: int
    name: str
    permissions: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(msgspec.Struct, frozen=True):
    """A new token, with its secret shown this once."""

    token: Token
    secret: str


class TerminalInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A terminal to register, by its client certificate's fingerprint."""

    name: Name
    fingerprint: Annotated[str, Meta(min_length=40, max_length=200)]
    active: bool = True


class TerminalUpdateInput(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True
):
    """A change to a registered terminal."""

    name: Name | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class Terminal(msgspec.Struct, frozen=True):
    """A registered terminal."""

    id: int
    name: str
    fingerprint: str
    active: bool
    created_at: dt.datetime


class ReviewEntry(msgspec.Struct, frozen=True):
    """One account that needs a look at the personnel-change review, and why."""

    login_id: str
    display_name: str
    reasons: list[str]
    disabled: bool
    last_login_at: dt.datetime | None
    valid_from: dt.date | None
    valid_until: dt.date | None
    password_changed_at: dt.datetime
    permissions: list[str]


class ReviewReport(msgspec.Struct, frozen=True):
    """The account review report (人事異動の棚卸し)."""

    generated_at: dt.datetime
    dormant_days: int
    expiring_within_days: int
    entries: list[ReviewEntry]
