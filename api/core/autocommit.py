"""Single-statement work without BEGIN and COMMIT round trips."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


async def autocommit(session: AsyncSession) -> None:
    """Let each statement of the session's coming work commit on its own (``AUTOCOMMIT``).

    For routes whose statements are each atomic by themselves (a read, an atomic counter
    update): PostgreSQL runs every statement in its own transaction anyway, and leaving out
    the explicit ``BEGIN`` and ``COMMIT`` saves two round trips per request. Call it before
    the session's first statement; the pool restores the isolation level when the
    connection is returned.
    """
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
