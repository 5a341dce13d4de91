"""The one app-wide guard: every route says, as data in its ``opt``, who may call it.

- ``opt={"public": True}``: anyone, from anywhere (residents' pages, probes);
- ``opt={"staff_entry": True}``: staff terminals without a session (the login itself);
- ``opt={"permission": "sync.export"}``: staff holding that permission;
- ``opt={"authenticated": True}``: any logged-in member of staff (own password, own tokens);
- ``opt={"setup": True}`` in addition: also reachable before the forced password change
  or second-factor enrolment, which otherwise block everything else.

A staff route that declares none of these is refused: forgetting is never an opening.
"""

from __future__ import annotations

from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from api.core.identity.accounts import Principal

PUBLIC: Final = "public"
STAFF_ENTRY: Final = "staff_entry"
PERMISSION: Final = "permission"
AUTHENTICATED: Final = "authenticated"
SETUP: Final = "setup"


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The staff principal the authentication middleware found, if any."""
    principal = connection.scope.get("auth")
    return principal if isinstance(principal, Principal) else None


def check_access(opt: dict[str, Any], principal: Principal | None) -> None:
    """Allow or refuse one principal on a route with ``opt``; raise when refused."""
    if opt.get(PUBLIC):
        return
    if principal is None:
        if opt.get(STAFF_ENTRY):
            return
        message = "Log in first."
        raise NotAuthorizedException(message)
    if opt.get(STAFF_ENTRY):
        return
    if principal.setup_pending and not opt.get(SETUP):
        reason = "password_change_required" if principal.password_change_required else "totp"
        message = (
            "Change your password first."
            if principal.password_change_required
            else "Set up your second factor (TOTP) first."
        )
        raise PermissionDeniedException(message, extra={"reason": reason})
    permission = opt.get(PERMISSION)
    if permission is None:
        # Tokens act only through the permissions they carry, never on the owner's own account.
        if opt.get(AUTHENTICATED) and principal.kind != "token":
            return
        message = "This route is not open to you."
        raise PermissionDeniedException(message)
    if permission not in principal.permissions:
        message = f"This needs the {permission} permission."
        raise PermissionDeniedException(message, extra={"permission": permission})


async def require_declared_access(
    connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler
) -> None:
    """Litestar guard enforcing the route's declared access (installed once, app-wide).

    Async although it awaits nothing: Litestar would run a plain function in a thread.
    """
    check_access(route_handler.opt, principal_of(connection))
