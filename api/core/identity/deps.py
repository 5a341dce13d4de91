"""Dependency providers of the identity controllers: services bound to the app's zone."""

from __future__ import annotations

from typing import Any

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.identity.passwords import PasswordPolicy
from api.core.identity.services import AccountService, RoleService, TerminalService
from api.core.identity.tokens import TokenService
from api.core.settings import ZoneSettings


async def provide_accounts(
    db_session: NamedDependency[AsyncSession], state: State
) -> AccountService:
    """The account service of the app's zone."""
    return AccountService.for_zone(db_session, state["tables"])


async def provide_roles(db_session: NamedDependency[AsyncSession], state: State) -> RoleService:
    """The role service of the app's zone."""
    return RoleService.for_zone(db_session, state["tables"])


async def provide_tokens(db_session: NamedDependency[AsyncSession], state: State) -> TokenService:
    """The access token service of the app's zone."""
    return TokenService.for_zone(db_session, state["tables"])


async def provide_terminals(
    db_session: NamedDependency[AsyncSession], state: State
) -> TerminalService:
    """The registered terminal service of the app's zone."""
    return TerminalService.for_zone(db_session, state["tables"])


class IdentityContext:
    """The zone's settings, handed to handlers as they are.

    A plain holder: the settings were validated at start-up, and their network types are
    beyond what Litestar's signature model can describe.
    """

    __slots__ = ("settings",)

    def __init__(self, settings: ZoneSettings) -> None:
        self.settings = settings


async def provide_identity_context(state: State) -> IdentityContext:
    """The zone's settings for the identity handlers."""
    return IdentityContext(state["settings"])


async def provide_policy(state: State) -> PasswordPolicy:
    """The password rules of the zone's settings."""
    return PasswordPolicy.from_settings(state["settings"])


IDENTITY_DEPENDENCIES: dict[str, Any] = {
    "staff_accounts": Provide(provide_accounts),
    "staff_roles": Provide(provide_roles),
    "access_tokens": Provide(provide_tokens),
    "registered_terminals": Provide(provide_terminals),
    "identity": Provide(provide_identity_context),
    "password_policy": Provide(provide_policy),
}
