"""The access log inside an app: what staff requests and events leave, search and export."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from ipaddress import ip_network
from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from api.core.audit import AccessEvent, Actor, AuditPlugin, record_event
from api.core.audit.controller import AccessLogController
from api.core.audit.service import verify_database
from api.core.errors import exception_handlers
from api.core.logging import request_log_middleware
from api.core.settings import Network
from tests.integration.audit.conftest import AuditDatabase
from tests.staff import loopback_peer


class FakeAuthentication(ASGIMiddleware):
    """Stands in for the identity engineer's middleware: ``x-test-user`` names the actor."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = dict(scope["headers"])
        name = headers.get(b"x-test-user")
        scope["user"] = Actor(kind="staff", name=name.decode(), terminal="T-01") if name else None
        await next_app(scope, receive, send)


def staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.scope.get("user") is None:
        raise NotAuthorizedException
    if connection.headers.get("x-test-deny"):
        raise PermissionDeniedException


@get("/api/residents/{resident_id:int}/notices/{notice:str}", guards=[staff_only])
async def resident_notice(resident_id: FromPath[int], notice: FromPath[str]) -> dict[str, Any]:
    return {"resident_id": resident_id, "notice": notice}


@get("/api/broken", guards=[staff_only])
async def broken() -> None:
    raise RuntimeError("boom")


@get("/public/ping", opt={"public": True})
async def public_ping() -> str:
    return "pong"


@post("/public/login", opt={"public": True}, status_code=401)
async def resident_login(request: Request[Any, Any, Any]) -> dict[str, str]:
    await record_event(
        request,
        AccessEvent(
            outcome="login_failed",
            actor=Actor(kind="resident", name="ABC-123456"),
            detail={"reason": "bad password"},
        ),
    )
    return {"error": "login failed"}


def build_app(database: AuditDatabase, *, trusted_proxies: tuple[Network, ...] = ()) -> Litestar:
    def log_requests(app: Litestar) -> None:
        app.asgi_handler = request_log_middleware(app.asgi_handler)

    plugin = AuditPlugin(
        database.zone.value,
        database.url,
        database.model,
        null_pool=True,
        trusted_proxies=trusted_proxies,
    )
    return Litestar(
        route_handlers=[resident_notice, broken, public_ping, resident_login],
        middleware=[FakeAuthentication()],
        exception_handlers=exception_handlers,
        plugins=[plugin],
        on_startup=[log_requests, loopback_peer],
    )


@pytest.fixture
async def client(audit_database: AuditDatabase) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=build_app(audit_database)) as test_client:
        yield test_client


async def _entries(database: AuditDatabase, expected: int) -> list[dict[str, Any]]:
    # Request entries are written by the background writer: wait for them briefly.
    for _ in range(100):
        rows = await database.fetch("SELECT * FROM access_log ORDER BY sequence")
        if len(rows) >= expected:
            return [dict(row) for row in rows]
        await asyncio.sleep(0.05)
    return [dict(row) for row in rows]


async def test_a_staff_request_is_logged_with_route_template_and_resource_ids(
    client: AsyncTestClient[Litestar], audit_database: AuditDatabase
) -> None:
    response = await client.get(
        "/api/residents/42/notices/n-7",
        headers={"x-test-user": "tanaka", "x-request-id": "abcdef1234567890"},
    )

    assert response.status_code == 200
    [entry] = await _entries(audit_database, 1)
    assert entry["actor"] == "tanaka"
    assert entry["actor_kind"] == "staff"
    assert entry["terminal"] == "T-01"
    assert entry["zone"] == audit_database.zone.value
    assert entry["method"] == "GET"
    assert entry["route"] == "/api/residents/{resident_id}/notices/{notice}"
    assert entry["resource_ids"] == '["resident_id=42", "notice=n-7"]'
    assert entry["outcome"] == "success"
    assert entry["status"] == 200
    assert entry["request_id"] == "abcdef1234567890"
    assert entry["client_address"]
    assert entry["duration_ms"] >= 0


async def test_behind_a_trusted_proxy_entries_carry_the_forwarded_client_address(
    audit_database: AuditDatabase,
) -> None:
    app = build_app(audit_database, trusted_proxies=(ip_network("10.9.9.9/32"),))
    proxied = {"x-test-peer": "10.9.9.9", "x-forwarded-for": "198.51.100.1, 203.0.113.9"}
    # Not from the proxy: its X-Forwarded-For is anyone's to write, and ignored.
    direct = {"x-test-peer": "10.1.2.3", "x-forwarded-for": "203.0.113.66"}
    async with AsyncTestClient(app=app) as client:
        staff = await client.get(
            "/api/residents/1/notices/a", headers={"x-test-user": "tanaka", **proxied}
        )
        resident = await client.post("/public/login", headers=proxied)
        other = await client.get(
            "/api/residents/1/notices/a", headers={"x-test-user": "sato", **direct}
        )

    assert (staff.status_code, resident.status_code, other.status_code) == (200, 401, 200)
    entries = await _entries(audit_database, 3)
    assert {(e["actor"], e["outcome"], e["client_address"]) for e in entries} == {
        ("tanaka", "success", "203.0.113.9"),
        ("ABC-123456", "login_failed", "203.0.113.9"),
        ("sato", "success", "10.1.2.3"),
    }


async def test_refused_and_failing_staff_requests_are_logged_too(
    client: AsyncTestClient[Litestar], audit_database: AuditDatabase
) -> None:
    assert (await client.get("/api/residents/1/notices/a")).status_code == 401
    denied = await client.get(
        "/api/residents/1/notices/a", headers={"x-test-user": "sato", "x-test-deny": "1"}
    )
    assert denied.status_code == 403
    assert (await client.get("/api/broken", headers={"x-test-user": "sato"})).status_code == 500

    entries = await _entries(audit_database, 3)

    assert [(e["outcome"], e["status"], e["actor_kind"]) for e in entries] == [
        ("unauthenticated", 401, "anonymous"),
        ("forbidden", 403, "staff"),
        ("server_error", 500, "staff"),
    ]


async def test_public_routes_and_unknown_paths_are_not_logged_as_staff_requests(
    client: AsyncTestClient[Litestar], audit_database: AuditDatabase
) -> None:
    assert (await client.get("/public/ping")).status_code == 200
    assert (await client.get("/no/such/path")).status_code == 404
    assert (await client.get("/api/residents/1/notices/a", headers={"x-test-user": "x"})).is_success

    entries = await _entries(audit_database, 1)
    await asyncio.sleep(0.2)

    assert [e["route"] for e in await _entries(audit_database, 1)] == [entries[0]["route"]]
    assert entries[0]["route"].startswith("/api/residents/")


async def test_a_recorded_event_is_durable_before_the_answer(
    client: AsyncTestClient[Litestar], audit_database: AuditDatabase
) -> None:
    response = await client.post("/public/login")

    assert response.status_code == 401
    # No waiting: record_event committed before the handler answered.
    rows = await audit_database.fetch("SELECT * FROM access_log")
    assert [(r["outcome"], r["actor"], r["actor_kind"], r["route"]) for r in rows] == [
        ("login_failed", "ABC-123456", "resident", "/public/login")
    ]
    assert rows[0]["request_id"] == response.headers["x-request-id"]


async def test_entries_flushed_at_shutdown_form_a_verifiable_chain(
    audit_database: AuditDatabase,
) -> None:
    async with AsyncTestClient(app=build_app(audit_database)) as test_client:
        await asyncio.gather(
            *(
                test_client.get(f"/api/residents/{i}/notices/a", headers={"x-test-user": "u"})
                for i in range(40)
            )
        )
    rows = await audit_database.fetch("SELECT count(*) AS n FROM access_log")
    report = await verify_database(audit_database.engine, audit_database.model)

    assert rows[0]["n"] == 40
    assert report.ok


async def test_search_filters_and_pages_newest_first(
    client: AsyncTestClient[Litestar], audit_database: AuditDatabase
) -> None:
    await audit_database.append(5)
    await audit_database.append(3, actor=Actor(kind="staff", name="suzuki"), outcome="forbidden")

    first = (
        await client.get(
            "/api/audit/access-log",
            params={"actor": "suzuki", "limit": 2},
            headers={"x-test-user": "a"},
        )
    ).json()
    second = (
        await client.get(
            "/api/audit/access-log",
            params={"actor": "suzuki", "limit": 2, "before": first["next_before"]},
            headers={"x-test-user": "a"},
        )
    ).json()
    by_request = (
        await client.get(
            "/api/audit/access-log",
            params={"request_id": "req00000002", "outcome": "success"},
            headers={"x-test-user": "a"},
        )
    ).json()

    assert [item["sequence"] for item in first["items"]] == [8, 7]
    assert [item["sequence"] for item in second["items"]] == [6]
    assert second["next_before"] is None
    assert [item["sequence"] for item in by_request["items"]] == [3]
    assert by_request["items"][0]["detail"] == {}


async def test_csv_export_streams_every_entry_with_formulas_neutralised(
    client: AsyncTestClient[Litestar], audit_database: AuditDatabase
) -> None:
    await audit_database.append(
        3,
        actor=Actor(kind="staff", name='=HYPERLINK("http://x")', terminal="+1"),
        route="-2+3",
        request_id="@SUM(1)",
    )

    response = await client.get("/api/audit/access-log/export.csv", headers={"x-test-user": "a"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert rows[0]["actor"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["terminal"] == "'+1"
    assert rows[0]["route"] == "'-2+3"
    assert rows[0]["request_id"] == "'@SUM(1)"
    assert rows[1]["detail"] == '{"b":"=SUM(A1)","ä":"1"}'


def test_search_and_export_routes_require_audit_read() -> None:
    app = Litestar(route_handlers=[AccessLogController])

    audit_routes = {
        route.path: {handler.opt.get("permission") for handler in route.route_handlers}
        for route in app.routes
        if route.path.startswith("/api/audit")
    }

    assert audit_routes == {
        "/api/audit/access-log": {"audit.read"},
        "/api/audit/access-log/export.csv": {"audit.read"},
    }
