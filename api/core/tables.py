"""Each zone's concrete classes of the shared tables, handed to the shared services.

The shared code in api/core (staff identity, access log) works on whichever zone's
database it is given; a zone's ``models.py`` builds one :class:`CoreTables` of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class CoreTables:
    """The concrete ORM classes of the shared tables in one zone's database."""

    staff_account: type[StaffAccountMixin]
    role: type[RoleMixin]
    role_permission: type[RolePermissionMixin]
    account_role: type[AccountRoleMixin]
    password_history: type[PasswordHistoryMixin]
    access_token: type[AccessTokenMixin]
    registered_terminal: type[RegisteredTerminalMixin]
    staff_session: type[Any]
    access_log: type[AccessLogMixin]
