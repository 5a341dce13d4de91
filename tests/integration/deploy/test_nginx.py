"""deploy/nginx/*.conf in a real nginx, in front of the real zones.

The issuance proxy must pass a terminal's certificate fingerprint only when the city's
terminal CA vouches for it, never one a client wrote itself; the reservation proxy must
balance to its replicas, pass no fingerprint at all, hold back password floods, and let
only eligibility bundles past the zone's default 10 MB.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.deploy.conftest import (
    ROOT,
    STAFF_LOGIN,
    TERMINAL_NAME,
    Proxy,
    ZoneServer,
)
from tests.integration.deploy.pki import Pki
from tests.staff import STAFF_PASSWORD

pytestmark = pytest.mark.slow

FINGERPRINT_HEADER = "X-Client-Certificate-Fingerprint"
TERMINAL_REFUSED = "Staff routes are open only from registered terminals."
NETWORK_REFUSED = "Staff routes are open only from the office's networks."


def _client(
    proxy: Proxy,
    pki: Pki,
    certificate: tuple[Path, Path] | None = None,
    *,
    local_address: str | None = None,
) -> httpx.AsyncClient:
    # Trusts the city CA (the proxies' server certificates); presents ``certificate``.
    context = ssl.create_default_context(cafile=str(pki.city_ca))
    if certificate is not None:
        context.load_cert_chain(*certificate)
    transport = httpx.AsyncHTTPTransport(verify=context, local_address=local_address)
    return httpx.AsyncClient(base_url=proxy.https, transport=transport, timeout=30)


def _terminal(pki: Pki) -> tuple[Path, Path]:
    return pki.terminal_cert, pki.terminal_key


def _message(response: httpx.Response) -> str:
    error: dict[str, Any] = response.json()["error"]
    return str(error["message"])


async def _logged(url: str, *responses: httpx.Response, least: int = 0) -> list[dict[str, Any]]:
    # The access log entries of ``responses`` (by request id), once at least ``least`` of
    # them, and one for each response, are in: the log is written behind the answer.
    ids = [response.headers["x-request-id"] for response in responses]
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for _ in range(100):
            rows = await connection.fetch(
                "SELECT request_id, actor, outcome, terminal, route, detail "
                "FROM access_log WHERE request_id = ANY($1::text[]) ORDER BY sequence",
                ids,
            )
            if len(rows) >= least and {row["request_id"] for row in rows} == set(ids):
                break
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    entries = [dict(row) for row in rows]
    for entry in entries:
        if isinstance(entry["detail"], str):
            entry["detail"] = json.loads(entry["detail"])
    return entries


def _read_if_there(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def _nginx_log(path: Path, expected: str) -> str:
    # nginx writes a request's access-log line after it has sent the answer, so the client
    # may read the file before the line is there: wait for it (at most 5 s).
    text = ""
    for _ in range(50):
        text = await asyncio.to_thread(_read_if_there, path)
        if expected in text:
            break
        await asyncio.sleep(0.1)
    return text


async def test_a_registered_terminal_reaches_a_guarded_staff_route(
    issuance_proxy: Proxy, issuance_server: ZoneServer, pki: Pki
) -> None:
    async with _client(issuance_proxy, pki, _terminal(pki)) as client:
        login = await client.post(
            "/api/staff/login", json={"login_id": STAFF_LOGIN, "password": STAFF_PASSWORD}
        )
        # Outside the staff network 127.0.0.1/32, but a client's own X-Forwarded-For entries
        # come before the one nginx appends, and only that last one counts.
        counts = await client.get("/api/progress/counts", headers={"X-Forwarded-For": "10.66.0.1"})
        search = await client.get("/api/residents", params={"name": "ヤマダタロウ"})

    assert login.status_code == 200, login.text
    assert counts.status_code == 200, counts.text
    assert search.status_code == 200, search.text
    # The name searched for (personal data) stays out of nginx's access log.
    access_log = issuance_proxy.folder / "logs" / "madoguchi-issuance.access.log"
    logged = await _nginx_log(access_log, 'GET /api/residents HTTP/1.1" 200')
    assert 'GET /api/residents HTTP/1.1" 200' in logged
    assert "%E3%83%A4" not in logged
    # Three entries: the login attempt, the request that made it, and the guarded GET.
    entries = await _logged(issuance_server.database_url, login, counts, least=3)
    seen = {(e["actor"], e["outcome"], e["route"]) for e in entries}
    assert (STAFF_LOGIN, "login_succeeded", "/api/staff/login") in seen, entries
    assert (STAFF_LOGIN, "success", "/api/progress/counts") in seen, entries
    assert {e["terminal"] for e in entries} == {TERMINAL_NAME}


async def test_without_a_certificate_the_zone_refuses_the_terminal_with_its_message(
    issuance_proxy: Proxy, pki: Pki
) -> None:
    async with _client(issuance_proxy, pki) as client:
        login = await client.post(
            "/api/staff/login", json={"login_id": STAFF_LOGIN, "password": STAFF_PASSWORD}
        )
        public = await client.get("/healthz")

    assert login.status_code == 403
    assert _message(login) == TERMINAL_REFUSED
    # Probes stay open: a network-only check needs no certificate.
    assert public.status_code == 200


@pytest.mark.parametrize(
    "forged",
    ["registered", "registered, with colons", "registered, sent twice"],
)
async def test_a_fingerprint_header_sent_by_a_client_never_reaches_the_zone(
    issuance_proxy: Proxy, issuance_server: ZoneServer, pki: Pki, forged: str
) -> None:
    fingerprint = pki.terminal_fingerprint
    if "colons" in forged:
        fingerprint = ":".join(re.findall("..", fingerprint.upper()))
    headers = [(FINGERPRINT_HEADER, fingerprint)]
    if "twice" in forged:
        headers.append((FINGERPRINT_HEADER.lower(), fingerprint))
    async with _client(issuance_proxy, pki) as client:
        through_nginx = await client.get("/api/staff/me", headers=headers)
    # The same header straight from loopback (ISSUANCE_CERTIFICATE_PROXIES) is believed: so
    # only nginx stands between a client and the terminal check.
    async with httpx.AsyncClient(base_url=issuance_server.url) as direct:
        behind_nginx = await direct.get("/api/staff/me", headers=headers)

    assert through_nginx.status_code == 403
    assert _message(through_nginx) == TERMINAL_REFUSED
    assert behind_nginx.status_code == 401  # terminal accepted; nobody logged in


async def test_a_certificate_from_another_ca_is_refused_by_nginx(
    issuance_proxy: Proxy, pki: Pki
) -> None:
    async with _client(issuance_proxy, pki, (pki.foreign_cert, pki.foreign_key)) as client:
        login = await client.post(
            "/api/staff/login",
            json={"login_id": STAFF_LOGIN, "password": STAFF_PASSWORD},
            headers={FINGERPRINT_HEADER: pki.terminal_fingerprint},
        )

    assert login.status_code == 403
    assert login.json()["error"]["code"] == "terminal_certificate_refused"
    assert "not accepted" in _message(login)
    assert "client SSL certificate verify error" in issuance_proxy.error_log()


async def test_the_last_forwarded_address_is_the_terminal_nginx_saw(
    issuance_proxy: Proxy, issuance_server: ZoneServer, pki: Pki
) -> None:
    # From 127.0.0.2, outside the staff network 127.0.0.1/32, claiming to be 127.0.0.1.
    async with _client(issuance_proxy, pki, _terminal(pki), local_address="127.0.0.2") as client:
        refused = await client.get("/api/staff/me", headers={"X-Forwarded-For": "127.0.0.1"})

    assert refused.status_code == 403
    assert _message(refused) == NETWORK_REFUSED
    # Two entries: the refusal, with the address the zone judged, and the request.
    entries = await _logged(issuance_server.database_url, refused, least=2)
    [refusal] = [e for e in entries if e["outcome"] == "refused_network"]
    assert refusal["detail"]["client_address"] == "127.0.0.2"


async def test_plain_http_is_redirected_to_https(
    issuance_proxy: Proxy, reservation_proxy: Proxy
) -> None:
    async with httpx.AsyncClient() as client:
        issuance = await client.get(f"{issuance_proxy.http}/api/staff/me?page=2")
        reservation = await client.get(f"{reservation_proxy.http}/login?id=QRCODEID")

    assert issuance.status_code == reservation.status_code == 301
    assert issuance.headers["location"] == "https://127.0.0.1/api/staff/me?page=2"
    assert reservation.headers["location"] == "https://127.0.0.1/login?id=QRCODEID"
    # The reservation ID in the letter's link stays out of nginx's access log.
    access_log = reservation_proxy.folder / "logs" / "madoguchi-reservation.access.log"
    logged = await _nginx_log(access_log, "GET /login ")
    assert "GET /login " in logged
    assert "QRCODEID" not in logged


async def test_issuance_answers_carry_the_security_headers_once(
    issuance_proxy: Proxy, pki: Pki
) -> None:
    async with _client(issuance_proxy, pki, _terminal(pki)) as client:
        probe = await client.get("/healthz")
        refused = await client.get("/api/staff/me")

    assert probe.status_code == 200
    assert refused.status_code == 401
    for response in (probe, refused):
        headers = response.headers
        assert headers.get_list("strict-transport-security") == ["max-age=31536000"]
        assert headers.get_list("x-content-type-options") == ["nosniff"]
        assert headers.get_list("x-frame-options") == ["DENY"]
        assert headers.get_list("referrer-policy") == ["no-referrer"]
        assert headers.get_list("cache-control") == ["no-store"]
        assert headers["server"] == "nginx"  # no version


async def test_only_card_lists_bundles_and_results_files_may_exceed_the_zone_body_limit(
    issuance_proxy: Proxy, pki: Pki
) -> None:
    body = b"x" * (10 * 1024 * 1024 + 1)
    async with _client(issuance_proxy, pki, _terminal(pki)) as client:
        too_large = await client.post(
            "/api/staff/login", content=body, headers={"content-type": "application/json"}
        )
        login = await client.post(
            "/api/staff/login", json={"login_id": STAFF_LOGIN, "password": STAFF_PASSWORD}
        )
        await client.get("/api/staff/me")  # sets the CSRF cookie
        card_list = await client.post(
            "/api/card-imports",
            content=body,
            headers={
                "content-type": "text/csv",
                "x-csrftoken": client.cookies["madoguchi_issuance_csrf"],
            },
        )
        results_file = await client.post(
            "/api/progress/results/presetup",
            content=body,
            headers={
                "content-type": "text/csv",
                "x-csrftoken": client.cookies["madoguchi_issuance_csrf"],
            },
        )

    assert too_large.status_code == 413
    assert login.status_code == 200, login.text
    # Streamed whole to the zone, which refuses it as no card list (not as too large).
    assert card_list.status_code == 201, card_list.text
    assert (card_list.json()["status"], card_list.json()["size"]) == ("refused", len(body))
    # Past nginx too: the zone answers it (not a 413), whatever it thinks of its rows.
    assert results_file.status_code != 413, results_file.text
    assert results_file.headers["content-type"].startswith("application/json")


async def test_reservation_proxy_reaches_a_replica_with_its_headers(
    reservation_proxy: Proxy, pki: Pki
) -> None:
    async with _client(reservation_proxy, pki) as client:
        health = await client.get("/healthz")
        page = await client.get("/login")

    assert health.status_code == 200
    assert health.json()["zone"] == "reservation"
    assert page.status_code == 200
    for response in (health, page):
        headers = response.headers
        assert headers.get_list("strict-transport-security") == ["max-age=63072000"]
        # The site's pages set these themselves; the API gets them from nginx; never twice.
        assert headers.get_list("x-content-type-options") == ["nosniff"]
        assert headers.get_list("referrer-policy") == ["no-referrer"]
        assert len(headers.get_list("x-frame-options")) == 1


async def test_reservation_proxy_passes_no_client_fingerprint(
    reservation_proxy: Proxy, reservation_server: ZoneServer, pki: Pki
) -> None:
    headers = {FINGERPRINT_HEADER: pki.terminal_fingerprint}
    async with _client(reservation_proxy, pki) as client:
        through_nginx = await client.get("/api/staff/me", headers=headers)
    async with httpx.AsyncClient(base_url=reservation_server.url) as direct:
        behind_nginx = await direct.get("/api/staff/me", headers=headers)

    assert through_nginx.status_code == 403
    assert _message(through_nginx) == TERMINAL_REFUSED
    assert behind_nginx.status_code == 401


async def test_only_the_eligibility_upload_may_exceed_the_reservation_zone_body_limit(
    reservation_proxy: Proxy, pki: Pki
) -> None:
    # Over Litestar's default of 10 MB, as a large city's full eligibility bundle may be.
    body = b"x" * (10 * 1024 * 1024 + 1)
    headers = {"content-type": "multipart/form-data; boundary=madoguchi"}
    async with _client(reservation_proxy, pki) as client:
        eligibility = [
            await client.post(path, content=body, headers=headers)
            for path in ("/api/staff/sync/eligibility", "/api/staff/sync/eligibility/")
        ]
        receipt = await client.post("/api/staff/sync/receipts", content=body, headers=headers)

    # nginx reads the whole body before passing it on, so the zone's own answer (this client
    # is no registered terminal) shows the body got past nginx's limit.
    for answer in eligibility:
        assert answer.status_code == 403, answer.text
        assert _message(answer) == TERMINAL_REFUSED
    assert receipt.status_code == 413
    assert "<center>nginx</center>" in receipt.text


async def test_a_password_flood_meets_nginx_limit_and_the_form_stays_open(
    reservation_proxy: Proxy, pki: Pki
) -> None:
    async with _client(reservation_proxy, pki) as client:
        pages = [(await client.get("/login")).status_code for _ in range(40)]
    # A client of its own: the site's cookies would make the zone ask for a CSRF token.
    async with _client(reservation_proxy, pki) as client:
        attempts = [
            (path, await client.post(path, json={}))
            for path in ["/api/resident/login", "/api/resident/login/"] * 25
        ]

    assert set(pages) == {200}
    statuses = [response.status_code for _, response in attempts]
    # The zone answers the empty attempts itself (400) until the burst of 30 is spent.
    assert set(statuses[:30]) == {400}, statuses
    limited = [(path, response) for path, response in attempts if response.status_code == 429]
    assert len(limited) >= 5, statuses
    assert {path for path, _ in limited} == {"/api/resident/login", "/api/resident/login/"}
    assert "<center>nginx</center>" in limited[0][1].text  # nginx's answer, not the zone's


def test_the_readme_openssl_command_prints_the_fingerprint_nginx_passes(pki: Pki) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    readme = (ROOT / "deploy" / "README.md").read_text()
    commands = [
        line.strip()
        for line in readme.splitlines()
        if line.strip().startswith("openssl x509") and "sha1sum" in line
    ]
    assert len(commands) == 1, commands
    command = commands[0].replace("terminal.crt", str(pki.terminal_cert))
    printed = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, check=True, timeout=30
    ).stdout

    assert printed.strip() == pki.terminal_fingerprint
