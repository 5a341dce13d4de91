"""Staff sessions in Redis, for several replicas (MADOGUCHI_REDIS_URL)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis.asyncio as redis_client

from api.core.settings import Zone
from tests.integration.identity.conftest import StaffAppFactory

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _redis_or_skip() -> redis_client.Redis:
    client = redis_client.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis_client.ConnectionError):
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}: sessions stay in PostgreSQL without one")
    return client


async def test_sessions_live_in_redis_when_configured_and_renew_at_login(
    staff_app_factory: StaffAppFactory,
) -> None:
    client = await _redis_or_skip()
    namespace = "madoguchi_issuance_sessions"
    try:
        app = await staff_app_factory(Zone.ISSUANCE, MADOGUCHI_REDIS_URL=REDIS_URL)
        login_id = f"redis-{uuid.uuid4().hex[:8]}"
        await app.make_account(login_id, permissions=("residents.read",))

        first = await app.login(login_id)
        session_id = app.client.cookies.get(app.session_cookie)
        stored = [key async for key in client.scan_iter(f"{namespace}*")]
        me = await app.client.get("/api/staff/me")
        await app.login(login_id, headers=await app.csrf_headers())
        renewed = app.client.cookies.get(app.session_cookie)
        logout = await app.client.post("/api/staff/logout", headers=await app.csrf_headers())
        after_logout = await app.client.get("/api/staff/me")
    finally:
        async for key in client.scan_iter(f"{namespace}*"):
            await client.delete(key)
        await client.aclose()

    assert first.status_code == 200
    assert session_id
    assert any(session_id.encode() in key for key in stored)
    assert me.json()["login_id"] == login_id
    assert renewed != session_id
    assert logout.status_code in {200, 204}
    assert after_logout.status_code == 401
