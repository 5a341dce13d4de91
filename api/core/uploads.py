"""Uploaded files over HTTP: the size bounds the zones share, and the 413 that names them.

A route that takes a file sets ``request_max_body_size``; Litestar then refuses a larger
body with a bare 413. These answers say the limit and the route instead, whether the body
is read in the handler (:func:`uploaded_file`) or parsed before it (multipart, through
:data:`TOO_LARGE_HANDLERS`).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ExceptionHandlersMap

from api.core.errors import exception_handlers

# Bundles, receipts and 予約一覧CSV of a large city, in either zone. A 予約一覧CSV row is
# about 180 bytes (more with a long memo), a bundle record less: several hundred thousand
# bookings, history included, fit with room to spare, where Litestar's default of 10 MB
# holds about 55,000 rows (and a full eligibility bundle of 300,000 records is already
# 8.7 MB). Bodies read into memory are kept in check by it too. nginx's limits for these
# routes (deploy/nginx) are the same.
MAX_SYNC_FILE_BYTES: Final = 256 << 20


def too_large(request: Request[Any, Any, Any]) -> RequestEntityTooLarge:
    """The 413 of an upload over its route's ``request_max_body_size``, naming both."""
    limit = request.route_handler.resolve_request_max_body_size()
    size = f"{limit >> 20} MiB" if limit is not None else "the size limit"
    message = f"the uploaded file is larger than {size}, the most {request.url.path} accepts"
    return RequestEntityTooLarge(detail=message)


async def uploaded_file(request: Request[Any, Any, Any]) -> bytes:
    """The request body, an uploaded file; over the route's size limit, :func:`too_large`."""
    try:
        return await request.body()
    except RequestEntityTooLarge:
        raise too_large(request) from None


def _too_large_answer(request: Request[Any, Any, Any], _: RequestEntityTooLarge) -> Response[Any]:
    return exception_handlers[HTTPException](request, too_large(request))


# For a route whose body Litestar parses before the handler runs (a multipart upload).
TOO_LARGE_HANDLERS: Final[ExceptionHandlersMap] = {RequestEntityTooLarge: _too_large_answer}
