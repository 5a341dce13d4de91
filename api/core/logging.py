"""Structured logging: JSON lines by default, one line per request with its request id."""

from __future__ import annotations

import logging
import secrets
import sys
import time
from typing import Any, Final

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.core.settings import ZoneSettings

REQUEST_ID_HEADER: Final = "x-request-id"
REQUEST_LOGGER: Final = "madoguchi.request"


def _renderer(settings: ZoneSettings) -> structlog.types.Processor:
    if settings.log_format == "json":
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(colors=False)


_SHARED: Final[list[structlog.types.Processor]] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(settings: ZoneSettings) -> None:
    """Route stdlib and structlog output through one renderer chosen by the settings."""
    renderer = _renderer(settings)
    shared: list[structlog.types.Processor] = [*_SHARED, structlog.stdlib.add_logger_name]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # pgserver narrates every start and stop of the embedded database at INFO.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # Uvicorn's own access log would duplicate the request line below.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").handlers = []


def request_logger(settings: ZoneSettings) -> Any:
    """The logger of the one line per request: the format of :func:`configure_logging`.

    The same processors, renderer, level and stream (standard error) as every other log
    line, without the standard library's logging in between (a record, a caller look-up
    through the stack, a handler lock per line): that machinery cost more than a request's
    own work on the busiest routes. Other events keep the standard route, where tests and
    library loggers see them.
    """
    name = REQUEST_LOGGER

    def add_name(_: Any, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
        event["logger"] = name
        return event

    return structlog.wrap_logger(
        structlog.WriteLogger(sys.stderr),
        processors=[*_SHARED, add_name, _renderer(settings)],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.log_level]
        ),
        cache_logger_on_first_use=True,
    )


def request_log_middleware(app: ASGIApp, logger: Any = None) -> ASGIApp:
    """ASGI middleware: give each request an id, echo it in a header, log one line at the end.

    ``logger`` defaults to the structlog logger ``madoguchi.request`` (the standard route);
    zone apps pass :func:`request_logger`'s.
    """
    logger = logger or structlog.get_logger(REQUEST_LOGGER)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        # A caller-supplied id is kept only when it looks like one, so logs cannot be forged.
        request_id = (
            incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else secrets.token_hex(16)
        )
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                logger.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    client=(scope.get("client") or ("", 0))[0],
                )

    middleware.logs_requests = True  # type: ignore[attr-defined]
    return middleware
