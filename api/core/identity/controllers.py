"""Staff's own routes: login, logout, who am I, own password, second factor, own tokens."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from api.core.audit.events import Actor
from api.core.errors import DomainError
from api.core.identity.accounts import (
    Principal,
    password_change_required,
    password_expires_at,
    password_expiry_warning,
    utc_now,
)
from api.core.identity.deps import IdentityContext
from api.core.identity.events import record
from api.core.identity.guards import AUTHENTICATED, SETUP, STAFF_ENTRY, principal_of
from api.core.identity.login import LoginAttempt
from api.core.identity.passwords import PasswordPolicy
from api.core.identity.schemas import (
    LoginInput,
    Me,
    PasswordChangeInput,
    Token,
    TokenCreated,
    TokenInput,
    TotpConfirmInput,
    TotpEnrolment,
)
from api.core.identity.services import AccountService
from api.core.identity.sessions import RENEW_ID, prune_expired_sessions
from api.core.identity.tokens import TokenService
from api.core.identity.totp import (
    new_totp_secret,
    provisioning_uri,
    seal_totp_secret,
    totp_matches,
)
from api.core.settings import ZoneSettings

_PENDING_TOTP = "pending_totp_secret"


class TotpRejected(DomainError):
    """The code does not match the secret being enrolled."""

    status_code = 422
    code = "totp_rejected"


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = principal_of(request)
    # The app-wide guard lets no anonymous request reach an authenticated route.
    assert principal is not None
    return principal


def _me(account: Any, principal: Principal, settings: ZoneSettings) -> Me:
    now = utc_now()
    return Me(
        login_id=account.login_id,
        display_name=account.display_name,
        permissions=sorted(principal.permissions),
        password_change_required=password_change_required(account, now=now, settings=settings),
        totp_enrolment_required=principal.totp_enrolment_required,
        password_expires_at=password_expires_at(account, settings),
        password_expiry_warning=password_expiry_warning(account, now=now, settings=settings),
        totp_enabled=account.totp_secret is not None,
        via_token=principal.kind == "token",
    )


def _actor(principal: Principal) -> Actor:
    return Actor(kind=principal.kind, name=principal.name, terminal=principal.terminal)


def token_view(token: Any) -> Token:
    """A token as listed (without its secret)."""
    return Token(
        id=token.id,
        name=token.name,
        permissions=list(token.permissions),
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


async def begin_session(
    request: Request[Any, Any, Any], account: Any, staff_accounts: AccountService
) -> None:
    """Start the staff session of an account that just logged in (API and console alike)."""
    await prune_expired_sessions(staff_accounts.repository.session)
    moment = utc_now().timestamp()
    # A new session under a new id: an id planted before login is worthless after it.
    request.set_session(
        {
            "account_id": account.id,
            "login_at": moment,
            "seen_at": moment,
            "password_stamp": account.password_changed_at.timestamp(),
            RENEW_ID: True,
        }
    )


async def end_session(request: Request[Any, Any, Any]) -> None:
    """Log the logout of the member of staff and end the session (API and console alike)."""
    await record(request, "logout", actor=_actor(_principal(request)))
    request.clear_session()


async def change_own_password(
    request: Request[Any, Any, Any],
    staff_accounts: AccountService,
    *,
    current: str,
    new: str,
    policy: PasswordPolicy,
) -> None:
    """Change the logged-in account's password (API and console); other sessions end.

    Raises the account service's DomainError when the current password is wrong or the
    new one breaks a rule.
    """
    principal = _principal(request)
    account = await staff_accounts.get(principal.account_id)
    await staff_accounts.change_own_password(account, current=current, new=new, policy=policy)
    request.session["password_stamp"] = account.password_changed_at.timestamp()
    request.session[RENEW_ID] = True
    await record(request, "password_changed", actor=_actor(principal))


class StaffSessionController(Controller):
    """Logging in and out, and what a member of staff does for their own account."""

    path = "/api/staff"
    tags = ["staff"]

    @post("/login", opt={STAFF_ENTRY: True}, status_code=HTTP_200_OK)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginInput],
        staff_accounts: NamedDependency[AccountService],
        identity: NamedDependency[IdentityContext],
    ) -> Me:
        """Log in with login ID, password and (when enrolled) a TOTP code; start a session."""
        terminal = getattr(request.scope.get("user"), "terminal", None)
        account, principal = await LoginAttempt(
            request, staff_accounts, identity.settings, terminal
        ).run(data)
        await begin_session(request, account, staff_accounts)
        return _me(account, principal, identity.settings)

    @post("/logout", opt={AUTHENTICATED: True, SETUP: True}, status_code=HTTP_204_NO_CONTENT)
    async def logout(self, request: Request[Any, Any, Any]) -> None:
        """End the session (its server-side record is deleted)."""
        await end_session(request)

    @get("/me", opt={AUTHENTICATED: True, SETUP: True})
    async def me(
        self,
        request: Request[Any, Any, Any],
        staff_accounts: NamedDependency[AccountService],
        identity: NamedDependency[IdentityContext],
    ) -> Me:
        """Who is logged in, what they may do, and whether their password must change."""
        principal = _principal(request)
        account = await staff_accounts.get(principal.account_id)
        return _me(account, principal, identity.settings)

    @post("/password", opt={AUTHENTICATED: True, SETUP: True}, status_code=HTTP_204_NO_CONTENT)
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PasswordChangeInput],
        staff_accounts: NamedDependency[AccountService],
        password_policy: NamedDependency[PasswordPolicy],
    ) -> None:
        """Change one's own password (the current one is asked again); other sessions end."""
        await change_own_password(
            request,
            staff_accounts,
            current=data.current_password,
            new=data.new_password,
            policy=password_policy,
        )

    @post("/totp/setup", opt={AUTHENTICATED: True, SETUP: True}, status_code=HTTP_200_OK)
    async def start_totp(
        self,
        request: Request[Any, Any, Any],
        identity: NamedDependency[IdentityContext],
    ) -> TotpEnrolment:
        """Start enrolling a second factor: a secret for the authenticator app (kept pending)."""
        principal = _principal(request)
        secret = new_totp_secret()
        request.session[_PENDING_TOTP] = secret
        issuer = f"Madoguchi {identity.settings.zone.value}"
        return TotpEnrolment(
            secret=secret,
            provisioning_uri=provisioning_uri(secret, login_id=principal.name, issuer=issuer),
        )

    @post("/totp/confirm", opt={AUTHENTICATED: True, SETUP: True}, status_code=HTTP_204_NO_CONTENT)
    async def confirm_totp(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TotpConfirmInput],
        staff_accounts: NamedDependency[AccountService],
        identity: NamedDependency[IdentityContext],
    ) -> None:
        """Finish enrolling: the first code proves the app holds the secret (stored sealed)."""
        principal = _principal(request)
        secret = request.session.get(_PENDING_TOTP)
        if not isinstance(secret, str) or not totp_matches(secret, data.code):
            message = "The code does not match; start again or check the device's clock."
            raise TotpRejected(message)
        account = await staff_accounts.get(principal.account_id)
        account.totp_secret = seal_totp_secret(identity.settings, secret)
        del request.session[_PENDING_TOTP]
        await record(request, "totp_enrolled", actor=_actor(principal))


class AccessTokenController(Controller):
    """Each member of staff's own personal access tokens for API clients."""

    path = "/api/staff/tokens"
    tags = ["staff"]
    opt = {AUTHENTICATED: True}

    @get("/")
    async def list_tokens(
        self, request: Request[Any, Any, Any], access_tokens: NamedDependency[TokenService]
    ) -> list[Token]:
        """One's own tokens, newest first (revoked and expired ones included)."""
        tokens = await access_tokens.owned_by(_principal(request).account_id)
        return [token_view(token) for token in tokens]

    @post("/")
    async def create_token(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TokenInput],
        access_tokens: NamedDependency[TokenService],
        staff_accounts: NamedDependency[AccountService],
    ) -> TokenCreated:
        """Make a token with some of one's permissions; its secret is shown only now."""
        principal = _principal(request)
        owner = await staff_accounts.get(principal.account_id)
        token, secret = await access_tokens.issue(
            owner=owner,
            owner_permissions=principal.permissions,
            name=data.name,
            permissions=data.permissions,
            days=data.days,
        )
        await record(
            request,
            "token_created",
            actor=_actor(principal),
            resource_ids=(str(token.id),),
            detail={"permissions": " ".join(token.permissions)},
        )
        return TokenCreated(token=token_view(token), secret=secret)

    @delete("/{token_id:int}")
    async def revoke_token(
        self,
        request: Request[Any, Any, Any],
        token_id: FromPath[int],
        access_tokens: NamedDependency[TokenService],
    ) -> None:
        """Revoke one of one's own tokens at once."""
        principal = _principal(request)
        if not await access_tokens.revoke(principal.account_id, token_id):
            message = "No such live token of yours."
            raise NotFoundException(message)
        await record(
            request,
            "token_revoked",
            actor=_actor(principal),
            resource_ids=(str(token_id),),
        )
