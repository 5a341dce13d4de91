"""``/api/locations``: the counter locations staff keep (settings.manage).

Letters list the active ones; the visitor lists and progress filter by their codes.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.identity.guards import PERMISSION
from api.core.identity.permissions import Permission
from api.issuance.locations.schemas import (
    CounterLocationInput,
    CounterLocationPatch,
    CounterLocationRead,
)
from api.issuance.locations.services import CounterLocationService, location_schema
from api.issuance.progress.controllers import actor_of

# Which places residents are sent to is a setting of the city, like the places of the
# reservation zone: administrators keep it.
SETTINGS_MANAGE: Final = {PERMISSION: Permission.SETTINGS_MANAGE.value}


async def provide_locations(db_session: NamedDependency[AsyncSession]) -> CounterLocationService:
    """The counter location service on the request's session."""
    return CounterLocationService(session=db_session)


class CounterLocationController(Controller):
    """List, create and change counter locations."""

    path = "/api/locations"
    tags = ["locations"]
    dependencies = {"locations": Provide(provide_locations)}

    @get("/", opt=SETTINGS_MANAGE, summary="Every counter location")
    async def list_locations(
        self, *, locations: NamedDependency[CounterLocationService]
    ) -> list[CounterLocationRead]:
        """Every location by code, listed on letters (``active``) or not."""
        return [location_schema(row) for row in await locations.all_by_code()]

    @post("/", opt=SETTINGS_MANAGE, summary="Add a counter location")
    async def create_location(
        self,
        *,
        request: Request[Any, Any, Any],
        locations: NamedDependency[CounterLocationService],
        data: JSONBody[CounterLocationInput],
    ) -> CounterLocationRead:
        """Add a location (201); a code the zone knows already is refused (409)."""
        return location_schema(await locations.add(data, staff=actor_of(request)))

    @patch("/{code:str}", opt=SETTINGS_MANAGE, summary="Change a counter location")
    async def update_location(
        self,
        *,
        request: Request[Any, Any, Any],
        locations: NamedDependency[CounterLocationService],
        code: FromPath[str],
        data: JSONBody[CounterLocationPatch],
    ) -> CounterLocationRead:
        """Change name, address or ``active``; reservation imports no longer rename it."""
        return location_schema(await locations.change(code, data, staff=actor_of(request)))


def locations_route_handlers() -> list[ControllerRouterHandler]:
    """The counter location controller, for the issuance app to register."""
    return [CounterLocationController]
