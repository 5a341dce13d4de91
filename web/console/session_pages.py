"""Console log-in, log-out and the forced password change, over the API's login code.

The login is :class:`~api.core.identity.login.LoginAttempt`, the very check behind
``POST /api/staff/login``: the same lockout, the same one answer for every failure, the
same access-log events. Only the answer differs: a page instead of JSON.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_401_UNAUTHORIZED, HTTP_422_UNPROCESSABLE_ENTITY

from api.core.errors import DomainError
from api.core.identity.controllers import begin_session, change_own_password, end_session
from api.core.identity.deps import IdentityContext
from api.core.identity.guards import AUTHENTICATED, SETUP, STAFF_ENTRY, principal_of
from api.core.identity.login import (
    AccountUnavailable,
    LoginAttempt,
    LoginFailed,
    SecondFactorRequired,
)
from api.core.identity.passwords import PasswordPolicy
from api.core.identity.schemas import LoginInput
from api.core.identity.services import AccountService
from web.i18n import N_, Text
from web.resident.forms import FieldError
from web.resident.pages import page

HOME: Final = "/console/"
LOGIN: Final = "/console/login"
# Where a forced password change sends staff before anything else.
FIRST_STEP: Final = "/console/password"
_REFUSALS: Final = {
    LoginFailed: N_(
        "The login ID or the password is wrong, or the account is locked after too many "
        "failed logins. Wait, or ask an administrator to unlock it."
    ),
    SecondFactorRequired: N_("Enter the 6-digit code from your authenticator app."),
    AccountUnavailable: N_("This account may not log in now. Ask an administrator."),
}


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a console path, never another site."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return HOME


class ConsoleSessionController(Controller):
    """``/console/login``, ``/console/logout`` and ``/console/password``."""

    path = "/console"
    include_in_schema = False

    @get("/login", opt={STAFF_ENTRY: True})
    async def login_page(self, request: Request[Any, Any, Any]) -> Template:
        """The login form (staff terminals only, as every staff route)."""
        return page(
            "console/login.html",
            values={"login_id": ""},
            next_page=safe_next(request.query_params.get("next_page")),
        )

    @post("/login", opt={STAFF_ENTRY: True})
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        staff_accounts: NamedDependency[AccountService],
        identity: NamedDependency[IdentityContext],
    ) -> Template | Redirect:
        """Check login ID, password and code; start a session, or show the one refusal."""
        login_id = data.get("login_id", "").strip()
        next_page = safe_next(data.get("next_page"))
        values = {"login_id": login_id}
        try:
            attempt = msgspec.convert(
                {
                    "login_id": login_id,
                    "password": data.get("password", ""),
                    "totp": data.get("totp", "").strip() or None,
                },
                LoginInput,
            )
        except msgspec.ValidationError:
            errors = [FieldError("login_id", Text(N_("Enter your login ID and password.")))]
            return page(
                "console/login.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=errors,
                values=values,
                next_page=next_page,
            )
        terminal = getattr(request.scope.get("user"), "terminal", None)
        try:
            account, principal = await LoginAttempt(
                request, staff_accounts, identity.settings, terminal
            ).run(attempt)
        except (LoginFailed, SecondFactorRequired, AccountUnavailable) as refusal:
            field = "totp" if isinstance(refusal, SecondFactorRequired) else "password"
            return page(
                "console/login.html",
                HTTP_401_UNAUTHORIZED,
                errors=[FieldError(field, Text(_REFUSALS[type(refusal)]))],
                values=values,
                next_page=next_page,
                ask_code=isinstance(refusal, SecondFactorRequired),
            )
        await begin_session(request, account, staff_accounts)
        if principal.password_change_required:
            return Redirect(FIRST_STEP)
        return Redirect(next_page)

    @post("/logout", opt={AUTHENTICATED: True, SETUP: True})
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        """End the session and go back to the login form."""
        await end_session(request)
        return Redirect(f"{LOGIN}?bye=1")

    @get("/password", opt={AUTHENTICATED: True, SETUP: True})
    async def password_page(self, request: Request[Any, Any, Any]) -> Template:
        """The password change form (the first login and an expired password lead here)."""
        principal = principal_of(request)
        required = principal is not None and principal.password_change_required
        return page("console/password.html", required=required)

    @post("/password", opt={AUTHENTICATED: True, SETUP: True})
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, str]],
        staff_accounts: NamedDependency[AccountService],
        password_policy: NamedDependency[PasswordPolicy],
    ) -> Template | Redirect:
        """Change one's own password; the rules' refusal is shown on the form."""
        new = data.get("new_password", "")
        if new != data.get("new_password_again", ""):
            error = FieldError("new_password_again", Text(N_("The two new passwords differ.")))
            return page("console/password.html", HTTP_422_UNPROCESSABLE_ENTITY, errors=[error])
        try:
            await change_own_password(
                request,
                staff_accounts,
                current=data.get("current_password", ""),
                new=new,
                policy=password_policy,
            )
        except DomainError as refusal:
            # The rules' own words (English, precise: which rule, how long) for staff.
            reason = Text(
                N_("The password was not changed: %(reason)s"), {"reason": refusal.message}
            )
            return page(
                "console/password.html",
                HTTP_422_UNPROCESSABLE_ENTITY,
                errors=[FieldError("new_password", reason)],
            )
        return Redirect(f"{HOME}?changed=1")
