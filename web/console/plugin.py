"""``ConsolePlugin``: the staff console on the issuance zone's app, at ``/console/``.

The pages are ordinary staff routes: the zone's network and terminal checks, the staff
session, CSRF (a token in every form) and the one permission guard apply as to the API.
Only the answers to "log in first" and "not yours" differ: a redirect and a page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router
from litestar.config.app import AppConfig
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.plugins import InitPluginProtocol
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_403_FORBIDDEN

from api.core.identity.guards import PUBLIC
from api.core.settings import ZoneSettings
from web.console.progress_pages import ConsoleProgressController
from web.console.session_pages import FIRST_STEP, LOGIN, ConsoleSessionController
from web.console.work_pages import ConsoleController
from web.resident.pages import page
from web.security import PageHeadersMiddleware
from web.templating import static_files_router, template_config


def _log_in_first(request: Request[Any, Any, Any], _: NotAuthorizedException) -> Response[Any]:
    back = request.url.path if request.method == "GET" else "/console/"
    return Redirect(f"{LOGIN}?{urlencode({'next_page': back})}")


def _not_yours(_: Request[Any, Any, Any], refusal: PermissionDeniedException) -> Response[Any]:
    extra = refusal.extra if isinstance(refusal.extra, dict) else {}
    if extra.get("reason") == "password_change_required":
        return Redirect(FIRST_STEP)
    return page(
        "console/problem.html",
        HTTP_403_FORBIDDEN,
        forbidden=True,
        permission=extra.get("permission"),
    )


def _check_the_form(_: Request[Any, Any, Any], refusal: ValidationException) -> Response[Any]:
    # The query or form did not parse (a day that is no date, a range that runs backwards).
    return page("console/problem.html", HTTP_400_BAD_REQUEST, invalid=str(refusal.detail))


def console_route_handlers() -> list[Router]:
    """The console's pages and the static files they use."""
    pages = Router(
        path="/",
        route_handlers=[ConsoleSessionController, ConsoleController, ConsoleProgressController],
        middleware=[PageHeadersMiddleware()],
        exception_handlers={
            NotAuthorizedException: _log_in_first,
            PermissionDeniedException: _not_yours,
            ValidationException: _check_the_form,
        },
        include_in_schema=False,
    )
    static = static_files_router({PUBLIC: True})
    return [pages, static]


class ConsolePlugin(InitPluginProtocol):
    """Registers the staff console (templates, static files, pages) on a zone's app."""

    def __init__(self, settings: ZoneSettings) -> None:
        self.settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the templates (dates in the zone's time zone) and the console's routes."""
        if app_config.template_config is None:
            app_config.template_config = template_config(
                site_globals={"site_timezone": self.settings.timezone}
            )
        app_config.route_handlers.extend(console_route_handlers())
        return app_config
