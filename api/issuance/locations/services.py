"""Counter locations (交付場所) of the issuance zone: the list staff keep, letters list.

Staff create and change locations; the reservation import may add a code it meets (see
``api.issuance.exchange.bookings``) but never renames one staff have named. A hand edit
records who made it in ``updated_by``, which is also what shields the name from imports.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy.dialects.postgresql import insert

from api.core.errors import DomainError
from api.issuance.exchange.models import CounterLocation
from api.issuance.locations.schemas import (
    CounterLocationInput,
    CounterLocationPatch,
    CounterLocationRead,
)


class LocationNotFound(DomainError):
    """No counter location has this code."""

    status_code = 404
    code = "location_not_found"


class LocationExists(DomainError):
    """A counter location with this code exists already (change it instead)."""

    status_code = 409
    code = "location_exists"


class CounterLocationService(SQLAlchemyAsyncRepositoryService[CounterLocation]):
    """The zone's counter locations: list, create, change."""

    class Repo(SQLAlchemyAsyncRepository[CounterLocation]):
        """Counter location repository."""

        model_type = CounterLocation

    repository_type = Repo

    async def all_by_code(self) -> Sequence[CounterLocation]:
        """Every location, listed on letters or not, by code."""
        return await self.get_many(order_by=(CounterLocation.code, False))

    async def on_letters(self) -> Sequence[CounterLocation]:
        """The active locations, by code: the ones every letter lists."""
        return await self.get_many(
            CounterLocation.active.is_(True), order_by=(CounterLocation.code, False)
        )

    async def by_code(self, code: str) -> CounterLocation:
        """The location with this code, or :class:`LocationNotFound`."""
        row = await self.get_one_or_none(CounterLocation.code == code)
        if row is None:
            message = f"there is no counter location {code!r}"
            raise LocationNotFound(message)
        return row

    async def add(self, data: CounterLocationInput, *, staff: str) -> CounterLocation:
        """Create a location; a code the zone knows already is refused (409).

        The unique index on the code decides, in the INSERT itself: of two staff adding the
        same code at once, one gets the location and the other :class:`LocationExists`.
        """
        created: CounterLocation | None = await self.repository.session.scalar(
            insert(CounterLocation)
            .values(**msgspec.structs.asdict(data), updated_by=staff)
            .on_conflict_do_nothing(index_elements=[CounterLocation.code])
            .returning(CounterLocation)
        )
        if created is None:
            message = f"a counter location with code {data.code!r} exists already"
            raise LocationExists(message)
        return created

    async def change(
        self, code: str, patch: CounterLocationPatch, *, staff: str
    ) -> CounterLocation:
        """Apply the given fields; the location counts as named by staff from now on."""
        row = await self.by_code(code)
        for field, value in msgspec.structs.asdict(patch).items():
            if value is not msgspec.UNSET:
                setattr(row, field, value)
        row.updated_by = staff
        return await self.update(row, auto_commit=False)


def location_schema(row: CounterLocation) -> CounterLocationRead:
    """The API shape of one location."""
    return CounterLocationRead(
        code=row.code,
        name=row.name,
        address=row.address,
        active=row.active,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )
