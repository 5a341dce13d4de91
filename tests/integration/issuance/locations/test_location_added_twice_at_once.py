"""Two staff adding the same location code at once: the unique index picks one."""

from __future__ import annotations

import asyncio

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.settings import Zone
from api.issuance.locations.schemas import CounterLocationInput
from api.issuance.locations.services import CounterLocationService, LocationExists


async def test_the_second_of_two_simultaneous_adds_of_a_code_is_told_it_exists(
    locations_client: AsyncTestClient[Litestar],
    committed_session: AsyncSession,
    zone_database_urls: dict[Zone, str],
) -> None:
    # Two desks, two transactions (the client's fixture empties the tables afterwards).
    engine = create_async_engine(zone_database_urls[Zone.ISSUANCE], poolclass=NullPool)
    async with AsyncSession(engine, expire_on_commit=False) as other_desk:
        first = CounterLocationService(session=committed_session)
        await first.add(CounterLocationInput(code="MINAMI", name="南支所"), staff="desk1")
        # Uncommitted: the second INSERT has to wait on the unique index for this one.
        second = asyncio.create_task(
            CounterLocationService(session=other_desk).add(
                CounterLocationInput(code="MINAMI", name="南出張所"), staff="desk2"
            )
        )
        await asyncio.sleep(0.3)
        waited = not second.done()  # waiting on the index, not answered from a read
        await committed_session.commit()
        with pytest.raises(LocationExists, match="MINAMI"):
            await second
        await other_desk.rollback()
    await engine.dispose()

    assert waited
    names = (await committed_session.execute(text("SELECT name FROM counter_locations"))).all()
    await committed_session.rollback()  # let the client's clean-up empty the table
    assert [name for (name,) in names] == ["南支所"]


async def test_adding_a_code_that_exists_refuses_without_spoiling_the_transaction(
    committed_session: AsyncSession, locations_client: AsyncTestClient[Litestar]
) -> None:
    locations = CounterLocationService(session=committed_session)
    await locations.add(CounterLocationInput(code="HIGASHI", name="東支所"), staff="desk1")

    with pytest.raises(LocationExists):
        await locations.add(CounterLocationInput(code="HIGASHI", name="別名"), staff="desk2")
    later = await locations.add(CounterLocationInput(code="NISHI", name="西支所"), staff="desk2")
    await committed_session.commit()
    codes = [row.code for row in await locations.all_by_code()]
    added = (later.code, later.name, later.updated_by)
    await committed_session.rollback()  # let the client's clean-up empty the table

    assert added == ("NISHI", "西支所", "desk2")
    assert codes == ["HIGASHI", "NISHI"]
