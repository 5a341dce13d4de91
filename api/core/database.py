"""Database wiring shared by both zones: URL resolution, the embedded server, SQLAlchemy.

With no URL configured a zone runs its own PostgreSQL from the ``pgserver`` package in
``$MADOGUCHI_VAR_DIR/pg/<zone>`` (kept between runs), so a fresh machine needs no server.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any, Final

import asyncpg
from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api.core.settings import Zone, ZoneSettings

logger = logging.getLogger(__name__)

API_DIR: Final = Path(__file__).resolve().parent.parent


def database_name(zone: Zone) -> str:
    """The database a zone uses on the embedded server."""
    return f"madoguchi_{zone.value}"


def start_embedded_server(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir``; return its admin URL.

    The server stops when the last process using it exits; its data stays.
    """
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder and falls back to /tmp, noisily.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # noqa: PLC0415 - a heavy import only the embedded mode needs

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    uri: str = server.get_uri()
    return uri


def asyncpg_url(url: str, database: str | None = None) -> str:
    """Turn a ``postgresql://`` URL into the asyncpg form, optionally naming another database."""
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _asyncpg_connect_arguments(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host")
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": host if isinstance(host, str) else None,
        "port": parsed.port,
        "database": parsed.database,
    }


async def ensure_database(url: str) -> None:
    """Create the URL's database when it does not exist yet (connecting to ``postgres``)."""
    arguments = _asyncpg_connect_arguments(url)
    name = arguments.pop("database")
    connection = await asyncpg.connect(**arguments, database="postgres")
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Identifiers cannot be bound; the name is quoted, and comes from settings.
            await connection.execute(f'CREATE DATABASE "{name}"')
            logger.info("created database %s", name)
    finally:
        await connection.close()


def resolve_database_url(settings: ZoneSettings) -> str:
    """The asyncpg URL of the zone's database: the configured one, or the embedded server's.

    The embedded server is started and its database created when needed.
    """
    if settings.database_url:
        return asyncpg_url(settings.database_url)
    admin_url = start_embedded_server(settings.var_dir / "pg" / settings.zone.value)
    url = asyncpg_url(admin_url, database_name(settings.zone))
    asyncio.run(ensure_database(url))
    return url


def migrations_dir(zone: Zone) -> Path:
    """Where a zone's Alembic scripts live (one script location per zone)."""
    return API_DIR / zone.value / "migrations"


def create_sqlalchemy_config(
    zone: Zone, url: str, *, pool_size: int = 10, null_pool: bool = False
) -> SQLAlchemyAsyncConfig:
    """SQLAlchemy and Alembic configuration for one zone's database and metadata.

    ``null_pool`` opens a connection per session: for tests and short-lived commands,
    whose event loops must not share pooled connections.
    """
    engine = (
        EngineConfig(poolclass=NullPool)
        if null_pool
        else EngineConfig(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    )
    return SQLAlchemyAsyncConfig(
        connection_string=url,
        bind_key=zone.value,
        engine_config=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit_include_redirects",
        create_all=False,
        alembic_config=AlembicAsyncConfig(
            script_location=str(migrations_dir(zone)),
            version_table_name=f"alembic_version_{zone.value}",
            script_config=str(migrations_dir(zone) / "alembic.ini"),
        ),
    )
