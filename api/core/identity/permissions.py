"""The functions a staff member may be granted, one permission each, and where they apply."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

from api.core.settings import Zone


class Permission(enum.StrEnum):
    """One function of the system that a role can grant (名前 = what the route does)."""

    RESIDENTS_READ = "residents.read"
    RESIDENTS_IMPORT = "residents.import"
    PROGRESS_UPDATE = "progress.update"
    NOTICES_PRINT = "notices.print"
    SYNC_EXPORT = "sync.export"
    SYNC_IMPORT = "sync.import"
    RESERVATIONS_READ = "reservations.read"
    RESERVATIONS_PROXY = "reservations.proxy"
    SETTINGS_MANAGE = "settings.manage"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    METRICS_READ = "metrics.read"


# Personal data lives only in the issuance zone, phone bookings only in the reservation zone;
# a permission that names the other zone's function cannot be put in a role.
ZONE_PERMISSIONS: Final[dict[Zone, frozenset[Permission]]] = {
    Zone.ISSUANCE: frozenset(
        {
            Permission.RESIDENTS_READ,
            Permission.RESIDENTS_IMPORT,
            Permission.PROGRESS_UPDATE,
            Permission.NOTICES_PRINT,
            Permission.SYNC_EXPORT,
            Permission.SYNC_IMPORT,
            Permission.RESERVATIONS_READ,
            Permission.SETTINGS_MANAGE,
            Permission.USERS_MANAGE,
            Permission.AUDIT_READ,
            Permission.METRICS_READ,
        }
    ),
    Zone.RESERVATION: frozenset(
        {
            Permission.SYNC_EXPORT,
            Permission.SYNC_IMPORT,
            Permission.RESERVATIONS_READ,
            Permission.RESERVATIONS_PROXY,
            Permission.SETTINGS_MANAGE,
            Permission.USERS_MANAGE,
            Permission.AUDIT_READ,
            Permission.METRICS_READ,
        }
    ),
}

# Administrator rights: who holds one of these can change accounts or the system's rules.
ADMINISTRATOR_PERMISSIONS: Final = frozenset({Permission.USERS_MANAGE, Permission.SETTINGS_MANAGE})


def zone_permissions(zone: Zone) -> frozenset[Permission]:
    """The permissions that exist in a zone."""
    return ZONE_PERMISSIONS[zone]


def is_administrator(permissions: Iterable[str]) -> bool:
    """Whether a set of permissions includes administrator rights."""
    return any(permission in ADMINISTRATOR_PERMISSIONS for permission in permissions)


def unknown_permissions(zone: Zone, permissions: Iterable[str]) -> list[str]:
    """The names among ``permissions`` that are not permissions of the zone, sorted."""
    known = {permission.value for permission in ZONE_PERMISSIONS[zone]}
    return sorted(set(permissions) - known)
