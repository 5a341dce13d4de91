"""Who is calling a staff route, and from where: terminal restriction, sessions, tokens, CSRF.

Runs on every route that is not public, before the app-wide guard. It refuses (and logs)
requests from outside the staff networks or, when required, from unregistered terminals;
then it finds the principal from a bearer token or the session cookie and leaves it in
``scope["auth"]`` (and the access log's ``Actor`` in ``scope["user"]``).
"""

from __future__ import annotations

from typing import Any, Final

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Empty, Receive, Scope, Send

from api.core.audit.events import Actor
from api.core.identity.accounts import (
    Principal,
    password_change_required,
    refusal,
    session_expired,
    utc_now,
)
from api.core.identity.events import record
from api.core.identity.guards import PUBLIC
from api.core.identity.permissions import ADMINISTRATOR_PERMISSIONS, is_administrator
from api.core.identity.services import AccountService, TerminalService
from api.core.identity.terminals import (
    address_allowed,
    client_address,
    presented_fingerprint,
)
from api.core.identity.tokens import TokenService
from api.core.settings import ZoneSettings
from api.core.tables import CoreTables

ANONYMOUS: Final = Actor(kind="anonymous")
_BEARER: Final = "bearer "


class StaffAuthenticationMiddleware(ASGIMiddleware):
    """Terminal restriction and authentication of every non-public route."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = PUBLIC

    def __init__(
        self, *, settings: ZoneSettings, tables: CoreTables, database: SQLAlchemyAsyncConfig
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.database = database

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Refuse foreign terminals, then authenticate and hand on."""
        request: Request[Any, Any, Any] = Request(scope, receive)
        db_session = self.database.provide_session(request.app.state, scope)
        terminal = await self._terminal(request, TerminalService.for_zone(db_session, self.tables))
        accounts = AccountService.for_zone(db_session, self.tables)
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith(_BEARER):
            tokens = TokenService.for_zone(db_session, self.tables)
            secret = authorization[len(_BEARER) :].strip()
            principal: Principal | None = await self._from_token(
                request, secret, accounts, tokens, terminal
            )
        else:
            principal = await self._from_session(scope, accounts, terminal)
        scope["auth"] = principal
        scope["user"] = (
            Actor(kind=principal.kind, name=principal.name, terminal=terminal)
            if principal is not None
            else Actor(kind="anonymous", terminal=terminal)
        )
        await next_app(scope, receive, send)

    async def _terminal(
        self, request: Request[Any, Any, Any], terminals: TerminalService
    ) -> str | None:
        """The registered terminal's name (or ``None``); refuse foreign machines."""
        settings = self.settings
        address = client_address(request.scope, settings.trusted_proxies)
        if not address_allowed(address, settings.staff_networks):
            await record(
                request,
                "refused_network",
                actor=ANONYMOUS,
                detail={"client_address": address or "unknown"},
            )
            message = "Staff routes are open only from the office's networks."
            raise PermissionDeniedException(message)
        fingerprint = presented_fingerprint(
            request.scope,
            header=settings.terminal_certificate_header,
            certificate_proxies=settings.certificate_proxies,
        )
        terminal = await terminals.active_by_fingerprint(fingerprint) if fingerprint else None
        if terminal is None and settings.require_registered_terminal:
            await record(
                request,
                "refused_terminal",
                actor=ANONYMOUS,
                detail={
                    "client_address": address or "unknown",
                    "fingerprint": fingerprint or "none",
                },
            )
            message = "Staff routes are open only from registered terminals."
            raise PermissionDeniedException(message)
        return str(terminal.name) if terminal is not None else None

    async def _from_session(
        self, scope: Scope, accounts: AccountService, terminal: str | None
    ) -> Principal | None:
        data = scope.get("session")
        if not isinstance(data, dict) or "account_id" not in data:
            return None
        now = utc_now()
        account = await accounts.get_one_or_none(id=data["account_id"])
        if (
            account is None
            or session_expired(data, now=now, settings=self.settings)
            or refusal(account, now=now, settings=self.settings) is not None
            # A password changed elsewhere (a reset, another session) ends this session.
            or data.get("password_stamp") != account.password_changed_at.timestamp()
        ):
            scope["session"] = Empty
            return None
        data["seen_at"] = now.timestamp()
        permissions = await accounts.permissions_of(account.id)
        return Principal(
            kind="staff",
            name=account.login_id,
            terminal=terminal,
            account_id=account.id,
            display_name=account.display_name,
            permissions=permissions,
            password_change_required=password_change_required(
                account, now=now, settings=self.settings
            ),
            totp_enrolment_required=self._totp_missing(account, permissions),
        )

    async def _from_token(
        self,
        request: Request[Any, Any, Any],
        secret: str,
        accounts: AccountService,
        tokens: TokenService,
        terminal: str | None,
    ) -> Principal:
        now = utc_now()
        found = await tokens.usable(secret)
        owner: Any = found[1] if found is not None else None
        if (
            found is None
            or refusal(owner, now=now, settings=self.settings) is not None
            or password_change_required(owner, now=now, settings=self.settings)
        ):
            await record(
                request,
                "token_refused",
                actor=Actor(
                    kind="token", name=owner.login_id if owner else None, terminal=terminal
                ),
            )
            message = "The access token is unknown, revoked, expired, or its owner cannot act."
            raise NotAuthorizedException(message)
        token, owner = found
        held = await accounts.permissions_of(owner.id)
        # Never more than the owner holds now; administrator rights need the owner's TOTP.
        permissions = frozenset(token.permissions) & held
        if self._totp_missing(owner, held):
            permissions -= ADMINISTRATOR_PERMISSIONS
        return Principal(
            kind="token",
            name=owner.login_id,
            terminal=terminal,
            account_id=owner.id,
            display_name=owner.display_name,
            permissions=permissions,
            token_id=token.id,
        )

    def _totp_missing(self, account: Any, permissions: frozenset[str]) -> bool:
        return (
            self.settings.require_totp_for_administrators
            and is_administrator(permissions)
            and not account.totp_secret
        )


def _needs_csrf(request: Request[Any, Any, Any], csrf_cookie: str) -> bool:
    """Whether an unsafe request must show a CSRF token.

    Bearer-token requests carry no ambient credential a foreign site could use. Without
    any cookie besides the CSRF one, only a cross-site *form* could still arrive, and forms
    cannot send JSON: so cookie-less JSON requests (API clients' login) are exempt too.
    """
    if request.headers.get("authorization", "").lower().startswith(_BEARER):
        return False
    if any(name != csrf_cookie for name in request.cookies):
        return True
    media_type, _ = request.content_type
    return media_type != "application/json"


class StaffCSRFMiddleware(ASGIMiddleware):
    """Litestar's CSRF middleware, for requests that a cookie authenticates."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, config: CSRFConfig) -> None:
        self.config = config
        self.exclude_opt_key = config.exclude_from_csrf_key

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Check the token on unsafe cookie-authenticated requests; set the cookie on safe ones."""
        safe = scope.get("method") in self.config.safe_methods
        handler = scope.get("route_handler")
        if safe and handler is not None and handler.opt.get(PUBLIC):
            # A public page or probe needs no staff CSRF cookie: none is set on it.
            await next_app(scope, receive, send)
            return
        if not safe and not _needs_csrf(Request(scope, receive), self.config.cookie_name):
            await next_app(scope, receive, send)
            return
        await CSRFMiddleware(app=next_app, config=self.config)(scope, receive, send)
