"""The booking statements on either of two roads: the ORM session, or asyncpg directly.

The routes every resident calls at opening time (login, day view, book) run their SQL on
the asyncpg connection behind the engine's pool (:func:`driver_connection`), without the
SQLAlchemy session and statement machinery, which was a quarter of a worker's CPU at the
surge. The other routes, and the booking site, keep the session. Both roads run the same
``text()`` statements, compiled once for asyncpg (:class:`Statement`), through the same
small interface (:class:`Db`), so the code that decides (login, booking) is one code.

Rows come back with attribute access on both roads (SQLAlchemy ``Row``, :class:`Fields`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar

import asyncpg
from sqlalchemy import TextClause
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

T = TypeVar("T")
# PostgreSQL's deadlock and serialization failures: the transaction is retried whole.
RETRYABLE: Final = frozenset({"40P01", "40001"})
ATTEMPTS: Final = 3
_DIALECT: Final = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
# Errors after which a connection's state is unknown (a cancelled or broken round trip):
# it is closed rather than given back to the pool. Any other PostgreSQL error is an
# answer, and leaves the connection fit for reuse.
_UNSOUND: Final = (
    asyncio.CancelledError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    OSError,
)


class Statement:
    """A ``text()`` statement, and the same statement compiled once for asyncpg (``$n``)."""

    __slots__ = ("clause", "names", "sql")

    def __init__(self, clause: TextClause) -> None:
        compiled: Any = clause.compile(dialect=_DIALECT)
        self.clause = clause
        self.sql: str = compiled.string
        # A name used twice in the text is one ``$n``: the first occurrence gives its place.
        self.names: tuple[str, ...] = tuple(dict.fromkeys(compiled.positiontup or ()))

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        """The values in the order of the ``$n`` placeholders."""
        return [values[name] for name in self.names]


class Fields(asyncpg.Record):  # type: ignore[misc]  # asyncpg has no type hints
    """An asyncpg row whose columns read as attributes too, like SQLAlchemy's ``Row``.

    A column named like one of ``Record``'s methods (``get``, ``keys``, ``values``,
    ``items``) is read as ``row["name"]``; none of the booking statements has one.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Db(Protocol):
    """Runs statements: on an ORM session (:class:`SessionDb`) or asyncpg (:class:`DriverDb`)."""

    async def all(self, statement: Statement, values: dict[str, Any]) -> list[Any]:
        """Every row."""

    async def one(self, statement: Statement, values: dict[str, Any]) -> Any:
        """The one row the statement always gives."""

    async def first(self, statement: Statement, values: dict[str, Any]) -> Any | None:
        """The first row, or ``None`` when there is none."""

    async def scalar(self, statement: Statement, values: dict[str, Any]) -> Any:
        """The first column of the first row (``None`` when there is no row)."""

    async def execute(self, statement: Statement, values: dict[str, Any]) -> None:
        """Run a statement that returns no rows."""


class SessionDb:
    """Statements on an ORM session (or connection), in its transaction (the caller commits)."""

    __slots__ = ("session",)

    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        self.session = session

    async def all(self, statement: Statement, values: dict[str, Any]) -> list[Any]:
        """Every row."""
        return list((await self.session.execute(statement.clause, values)).all())

    async def one(self, statement: Statement, values: dict[str, Any]) -> Any:
        """The one row the statement always gives."""
        return (await self.session.execute(statement.clause, values)).one()

    async def first(self, statement: Statement, values: dict[str, Any]) -> Any | None:
        """The first row, or ``None`` when there is none."""
        return (await self.session.execute(statement.clause, values)).first()

    async def scalar(self, statement: Statement, values: dict[str, Any]) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        return await self.session.scalar(statement.clause, values)

    async def execute(self, statement: Statement, values: dict[str, Any]) -> None:
        """Run a statement that returns no rows."""
        await self.session.execute(statement.clause, values)


class DriverDb:
    """Statements on an asyncpg connection: in its transaction if one is open, else each alone."""

    __slots__ = ("connection",)

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def all(self, statement: Statement, values: dict[str, Any]) -> list[Any]:
        """Every row."""
        return await self.connection.fetch(  # type: ignore[no-any-return]
            statement.sql, *statement.arguments(values), record_class=Fields
        )

    async def one(self, statement: Statement, values: dict[str, Any]) -> Any:
        """The one row the statement always gives."""
        row = await self.first(statement, values)
        if row is None:  # pragma: no cover - the statements given here always give a row
            message = "the statement gave no row"
            raise LookupError(message)
        return row

    async def first(self, statement: Statement, values: dict[str, Any]) -> Any | None:
        """The first row, or ``None`` when there is none."""
        return await self.connection.fetchrow(
            statement.sql, *statement.arguments(values), record_class=Fields
        )

    async def scalar(self, statement: Statement, values: dict[str, Any]) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        return await self.connection.fetchval(statement.sql, *statement.arguments(values))

    async def execute(self, statement: Statement, values: dict[str, Any]) -> None:
        """Run a statement that returns no rows."""
        await self.connection.execute(statement.sql, *statement.arguments(values))


def sqlstate_of(error: BaseException) -> str | None:
    """PostgreSQL's error code of a database error from either road (``None`` for others)."""
    if isinstance(error, asyncpg.PostgresError):
        return error.sqlstate  # type: ignore[no-any-return]
    if isinstance(error, DBAPIError):
        original = error.orig
        code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        return code if isinstance(code, str) else None
    return None


async def in_transaction(
    connection: asyncpg.Connection, work: Callable[[DriverDb], Awaitable[T]]
) -> T:
    """Run ``work`` in a transaction of its own on ``connection``, committed when it returns.

    After a deadlock or serialization failure the transaction is rolled back and the work
    runs again from the start, up to ``ATTEMPTS`` times in all (as ``services.retrying``
    does on the session); any other error rolls back and is raised.
    """
    db = DriverDb(connection)
    for attempt in range(ATTEMPTS):
        try:
            async with connection.transaction():
                return await work(db)
        except asyncpg.PostgresError as error:
            if error.sqlstate not in RETRYABLE or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError  # pragma: no cover - the loop returns or raises


class driver_connection:  # noqa: N801 - used as a context manager, like a function
    """The asyncpg connection behind one of the engine's pooled connections.

    ``async with driver_connection(engine) as connection:`` checks a connection out of the
    engine's pool (the same pool, size and recycling as the ORM sessions: no second pool)
    and gives it back at the end. No transaction is open: each statement commits on its
    own unless the caller opens one (``connection.transaction()``). A connection left in
    an unknown state (a cancelled or broken round trip, an unfinished transaction) is
    closed instead of reused.
    """

    __slots__ = ("engine", "proxied")

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.proxied: PoolProxiedConnection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        """Check a connection out of the pool."""
        self.proxied = await self.engine.raw_connection()
        return self.proxied.driver_connection

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Give the connection back (or close it when its state is unknown)."""
        proxied, self.proxied = self.proxied, None
        assert proxied is not None
        connection: asyncpg.Connection = proxied.driver_connection
        if isinstance(error, _UNSOUND) or connection.is_closed() or connection.is_in_transaction():
            # The pool's own clean-up may await the driver: it runs in SQLAlchemy's greenlet.
            await greenlet_spawn(proxied.invalidate)
        await greenlet_spawn(proxied.close)
