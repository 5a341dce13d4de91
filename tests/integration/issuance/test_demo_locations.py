"""The demo seed gives the issuance zone the reservation zone's demo locations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.demo import seed_issuance_locations
from api.issuance.progress.notices import locations
from api.reservation.demo import DEMO_LOCATIONS


async def test_demo_seed_lists_the_reservation_zones_demo_locations_on_letters_once(
    issuance_session: AsyncSession,
) -> None:
    added = await seed_issuance_locations(issuance_session, actor="cli:tester")
    again = await seed_issuance_locations(issuance_session, actor="cli:tester")

    on_letters = await locations(issuance_session)
    assert (added, again) == (2, 0)
    assert [(place.code, place.name, place.address) for place in on_letters] == [
        (place.code, place.name, place.address) for place in DEMO_LOCATIONS
    ]
