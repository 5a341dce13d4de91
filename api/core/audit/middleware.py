"""The ASGI wrapper that records every staff request, whatever its outcome.

It wraps the whole app (like the request-logging middleware), so guards, the
authentication middleware and the exception handlers all run inside it: a 401, 403 or
500 is seen as the status the client got. Routes declaring ``opt={"public": True}`` and
requests matching no route are not staff requests and are not recorded here.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from api.core.asgi import ResponseStatus
from api.core.audit.recorder import (
    AccessLogRuntime,
    actor_of,
    make_row,
    request_id_of,
)
from api.core.identity.terminals import client_address

_WRAPPED_MARK: Final = "records_access_log"


def outcome_of(status: int) -> str:
    """The access log's outcome word for an HTTP status."""
    if status < 400:
        return "success"
    if status == 401:
        return "unauthenticated"
    if status == 403:
        return "forbidden"
    if status < 500:
        return "client_error"
    return "server_error"


def is_staff_route(scope: Scope) -> bool:
    """True when the request matched a route that is not declared public."""
    handler: Any = scope.get("route_handler")
    if handler is None:
        return False
    return not bool((getattr(handler, "opt", None) or {}).get("public"))


def access_log_middleware(app: ASGIApp, runtime: AccessLogRuntime) -> ASGIApp:
    """Wrap ``app`` so each staff request queues one access-log entry after its response."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        occurred_at = dt.datetime.now(dt.UTC)
        answer = ResponseStatus(send)
        try:
            await app(scope, receive, answer)
        finally:
            status = answer.status
            # Routing happened inside: only now is it known whether the route is public.
            if is_staff_route(scope):
                path_params = scope.get("path_params") or {}
                await runtime.writer.submit(
                    make_row(
                        zone=runtime.zone,
                        actor=actor_of(scope),
                        client_address=client_address(scope, runtime.trusted_proxies),
                        method=scope["method"],
                        route=scope.get("path_template") or scope["path"],
                        outcome=outcome_of(status),
                        resource_ids=[f"{name}={value}" for name, value in path_params.items()],
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000),
                        request_id=request_id_of(scope),
                        occurred_at=occurred_at,
                    )
                )

    setattr(middleware, _WRAPPED_MARK, True)
    return middleware


def is_wrapped(app: ASGIApp) -> bool:
    """True when ``app`` is already the access-log wrapper (startup may run more than once)."""
    return bool(getattr(app, _WRAPPED_MARK, False))
