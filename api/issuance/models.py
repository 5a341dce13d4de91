"""Issuance zone tables: the residents of the card list (personal data lives only here)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Final

from advanced_alchemy.base import DefaultBase, IdentityAuditBase
from advanced_alchemy.extensions.litestar.session import SessionModelMixin
from advanced_alchemy.types import BigIntIdentity
from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Enum,
    Identity,
    Index,
    String,
    Text,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.core.audit.models import AccessLogMixin
from api.core.identity.models import (
    AccessTokenMixin,
    AccountRoleMixin,
    PasswordHistoryMixin,
    RegisteredTerminalMixin,
    RoleMixin,
    RolePermissionMixin,
    StaffAccountMixin,
)
from api.core.tables import CoreTables
from sync_format.csv import Sex


class IssuanceBase(IdentityAuditBase):
    """Base of every issuance-zone table: own metadata, own migrations, own database."""

    __abstract__ = True
    __bind_key__ = "issuance"


class IssuancePlainBase(DefaultBase):
    """Base of issuance-zone tables that declare their own key (the access log)."""

    __abstract__ = True
    __bind_key__ = "issuance"


# Search keys, computed by PostgreSQL in the indexes themselves so that every writer
# (import, demo, tests) gets them right. Queries must use the very same expressions (as SQL
# text, not bound parameters) for the planner to match them to the indexes.
SPACELESS_SQL: Final = "translate({column}, ' \u3000', '')"


def _enum_values(enum_type: type[enum.StrEnum]) -> list[str]:
    # Store the readable values ("male"), not the Python member names.
    return [member.value for member in enum_type]


class Resident(IssuanceBase):
    """交付対象者: one card of the card list and the person it is for."""

    __tablename__ = "residents"
    __table_args__ = (
        # The shapes of FORMATS.md, written without bounded repeats ({3}, {23}): PostgreSQL's
        # regex engine expands those into states, which made these three checks cost ~5 s
        # per 1,000,000 inserted rows; these equivalent forms cost ~1.5 s.
        CheckConstraint(
            r"reservation_id ~ '^[0-9A-Z]+-[0-9]+$' AND char_length(reservation_id) = 10"
            r" AND position('-' in reservation_id) = 4",
            name="reservation_id_canonical",
        ),
        CheckConstraint(
            r"application_id ~ '^[0-9]+$' AND char_length(application_id) = 23",
            name="application_id_23_digits",
        ),
        CheckConstraint(r"shipment_no ~ '^[0-9A-Za-z]+$'", name="shipment_no_shape"),
        # Prefix search on names without spaces (pg_trgm is not in the embedded server):
        # expression indexes, not stored columns, so a bulk load computes each key once.
        Index(
            "ix_residents_name_key",
            literal_column(SPACELESS_SQL.format(column="name")).label("name_key"),
            postgresql_ops={"name_key": "text_pattern_ops"},
        ),
        Index(
            "ix_residents_kana_key",
            literal_column(SPACELESS_SQL.format(column="name_kana")).label("kana_key"),
            postgresql_ops={"kana_key": "text_pattern_ops"},
        ),
        Index("ix_residents_birth_date", "birth_date"),
        Index("ix_residents_has_gaiji", "has_gaiji", postgresql_where="has_gaiji"),
    )

    # Rows only ever arrive in bulk (a card list import): the importing session takes its
    # IDs a thousand at a time instead of locking the sequence for each of 1,000,000 rows.
    id: Mapped[int] = mapped_column(
        BigIntIdentity,
        Identity(start=1, increment=1, cache=1000),
        primary_key=True,
        sort_order=-100,
    )
    # 予約用ID = 製造管理番号: one column, one name (the glossary's reservation_id).
    # The IDs are ASCII, so byte order ("C") is their natural order, and B-tree builds and
    # look-ups skip the locale's string comparison (index builds ~2x faster).
    reservation_id: Mapped[str] = mapped_column(String(10, collation="C"), unique=True)
    application_id: Mapped[str] = mapped_column(String(23, collation="C"), unique=True)
    shipment_no: Mapped[str] = mapped_column(String(20, collation="C"), index=True)
    name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str] = mapped_column(Text)
    birth_date: Mapped[dt.date]
    sex: Mapped[Sex] = mapped_column(
        Enum(Sex, name="sex", native_enum=False, length=8, values_callable=_enum_values)
    )
    postal_code: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(Text)
    address_extra: Mapped[str | None] = mapped_column(Text, default=None)
    certificate_signature: Mapped[bool] = mapped_column(default=False)
    certificate_authentication: Mapped[bool] = mapped_column(default=False)
    card_expiry: Mapped[dt.date | None] = mapped_column(default=None)
    # 外字: the name or address holds private-use characters that staff must map.
    has_gaiji: Mapped[bool] = mapped_column(default=False)

    @classmethod
    def name_key(cls) -> ColumnElement[str]:
        """The name without any (half- or full-width) space: what name search matches."""
        return literal_column(SPACELESS_SQL.format(column="residents.name"), Text)

    @classmethod
    def kana_key(cls) -> ColumnElement[str]:
        """The kana name without any space: what kana search matches."""
        return literal_column(SPACELESS_SQL.format(column="residents.name_kana"), Text)


# Shared tables of api/core, bound into this zone's database.


class StaffAccount(StaffAccountMixin, IssuanceBase):
    """A staff account of the issuance zone."""

    __tablename__ = "staff_accounts"


class Role(RoleMixin, IssuanceBase):
    """A role of the issuance zone."""

    __tablename__ = "staff_roles"


class RolePermission(RolePermissionMixin, IssuanceBase):
    """A permission granted by a role of the issuance zone."""

    __tablename__ = "staff_role_permissions"


class AccountRole(AccountRoleMixin, IssuanceBase):
    """A role granted to an account of the issuance zone."""

    __tablename__ = "staff_account_roles"


class PasswordHistory(PasswordHistoryMixin, IssuanceBase):
    """Earlier password hashes of a staff account of the issuance zone."""

    __tablename__ = "staff_password_history"


class AccessToken(AccessTokenMixin, IssuanceBase):
    """A personal access token of the issuance zone."""

    __tablename__ = "staff_access_tokens"


class RegisteredTerminal(RegisteredTerminalMixin, IssuanceBase):
    """A registered office terminal of the issuance zone."""

    __tablename__ = "staff_terminals"


class StaffSession(SessionModelMixin):
    """A server-side staff browser session of the issuance zone."""

    __tablename__ = "staff_sessions"
    __bind_key__ = "issuance"


class AccessLog(AccessLogMixin, IssuancePlainBase):
    """The issuance zone's append-only, hash-chained access log."""

    __tablename__ = "access_log"


CORE_TABLES = CoreTables(
    staff_account=StaffAccount,
    role=Role,
    role_permission=RolePermission,
    account_role=AccountRole,
    password_history=PasswordHistory,
    access_token=AccessToken,
    registered_terminal=RegisteredTerminal,
    staff_session=StaffSession,
    access_log=AccessLog,
)
