"""Staff identity tables, declared once as mixins and bound into each zone's own database.

Each zone's ``models.py`` subclasses these with its own base (its own metadata and
migrations): the two zones share code, never a database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class StaffAccountMixin:
    """One member of staff: an individual login, never shared."""

    # The database, not Python, keeps the counters and dates sane (lockout is one UPDATE).
    __table_args__ = (
        CheckConstraint("failed_attempts >= 0", name="failed_attempts_not_negative"),
        CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until",
            name="validity_in_order",
        ),
    )

    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str] = mapped_column(Text)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # 人事異動: an account is valid only between these dates (inclusive), when set.
    valid_from: Mapped[dt.date | None] = mapped_column(Date, default=None)
    valid_until: Mapped[dt.date | None] = mapped_column(Date, default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    totp_secret: Mapped[str | None] = mapped_column(Text, default=None)
    # The time step of the last TOTP code accepted: a code opens one login, never two.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)


class RoleMixin:
    """A named group of permissions that administrators edit."""

    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class RolePermissionMixin:
    """One permission granted by a role."""

    __table_args__ = (UniqueConstraint("role_id", "permission"),)

    @declared_attr
    def role_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy's declared_attr idiom
        """The role."""
        return mapped_column(BigInteger, ForeignKey("staff_roles.id", ondelete="CASCADE"))

    permission: Mapped[str] = mapped_column(String(64))


class AccountRoleMixin:
    """A role granted to one account."""

    __table_args__ = (UniqueConstraint("account_id", "role_id"),)

    @declared_attr
    def account_id(cls) -> Mapped[int]:  # noqa: N805
        """The account."""
        return mapped_column(BigInteger, ForeignKey("staff_accounts.id", ondelete="CASCADE"))

    @declared_attr
    def role_id(cls) -> Mapped[int]:  # noqa: N805
        """The role."""
        return mapped_column(BigInteger, ForeignKey("staff_roles.id", ondelete="CASCADE"))


class PasswordHistoryMixin:
    """Earlier password hashes of an account, so the last ones are not reused."""

    @declared_attr
    def account_id(cls) -> Mapped[int]:  # noqa: N805
        """The account."""
        return mapped_column(
            BigInteger, ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
        )

    password_hash: Mapped[str] = mapped_column(Text)


class AccessTokenMixin:
    """A personal access token for API clients: a subset of its owner's permissions."""

    @declared_attr
    def account_id(cls) -> Mapped[int]:  # noqa: N805
        """The owner."""
        return mapped_column(
            BigInteger, ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
        )

    name: Mapped[str] = mapped_column(String(100))
    # Only a hash is stored; the token itself is shown once, when made.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class RegisteredTerminalMixin:
    """An office terminal allowed to reach staff routes, by its client-certificate fingerprint."""

    # Stored in one canonical form (lower-case hex, no colons) so that lookups are exact.
    __table_args__ = (
        CheckConstraint("fingerprint ~ '^[0-9a-f]{40,128}$'", name="fingerprint_canonical"),
    )

    name: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
