"""Liveness and readiness probes, public by design (no personal data, no state change)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class HealthStatus(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the probes answer."""

    status: str
    zone: str
    database: str | None = None


class HealthController(Controller):
    """``/healthz`` says the process runs; ``/readyz`` also checks the database."""

    tags = ["operations"]
    opt = {"public": True}

    @get("/healthz", summary="Liveness probe", cache=False)
    async def healthz(self, zone_name: NamedDependency[str]) -> HealthStatus:
        """Answer 200 while the process can serve requests."""
        return HealthStatus(status="ok", zone=zone_name)

    @get("/readyz", summary="Readiness probe (checks the database)", cache=False)
    async def readyz(
        self, db_session: NamedDependency[AsyncSession], zone_name: NamedDependency[str]
    ) -> Response[HealthStatus]:
        """Answer 200 when the database answers, 503 otherwise."""
        try:
            await db_session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any database failure means "not ready"
            return Response(
                HealthStatus(status="unavailable", zone=zone_name, database="unreachable"),
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response(
            HealthStatus(status="ok", zone=zone_name, database="ok"), status_code=HTTP_200_OK
        )
