"""One stable JSON error shape for both zones' APIs.

Every error answer is ``{"error": {"status", "code", "message", "details", "request_id"}}``,
so a client (or a staff console) handles one shape whatever went wrong.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

logger = logging.getLogger(__name__)


class ErrorBody(msgspec.Struct, frozen=True):
    """The inside of every error answer."""

    status: int
    code: str
    message: str
    details: Any = None
    request_id: str | None = None


class ErrorResponse(msgspec.Struct, frozen=True):
    """The envelope of every error answer."""

    error: ErrorBody


class DomainError(Exception):
    """A refusal by a domain rule: carries an HTTP status and a stable machine-readable code."""

    status_code: int = 409
    code: str = "conflict"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def _answer(request: Request[Any, Any, Any], body: ErrorBody) -> Response[ErrorResponse]:
    request_id = request.scope.get("state", {}).get("request_id")
    return Response(
        ErrorResponse(msgspec.structs.replace(body, request_id=request_id)),
        status_code=body.status,
    )


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorResponse]:
    code = "invalid_input" if isinstance(exc, ValidationException) else _code(exc.status_code)
    return _answer(
        request,
        ErrorBody(status=exc.status_code, code=code, message=exc.detail, details=exc.extra),
    )


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[ErrorResponse]:
    return _answer(
        request,
        ErrorBody(status=exc.status_code, code=exc.code, message=exc.message, details=exc.details),
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    logger.exception("unhandled error", exc_info=exc)
    return _answer(
        request,
        ErrorBody(
            status=HTTP_500_INTERNAL_SERVER_ERROR,
            code="internal_error",
            message="An unexpected error occurred; it has been logged.",
        ),
    )


def _code(status: int) -> str:
    return {
        400: "bad_request",
        401: "not_authenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        429: "too_many_requests",
        503: "unavailable",
    }.get(status, "error")


exception_handlers: ExceptionHandlersMap = {
    HTTPException: _http_exception,
    DomainError: _domain_error,
    Exception: _unexpected,
}
