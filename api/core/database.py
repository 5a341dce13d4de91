"""Database wiring shared by both zones: URL resolution, the embedded server, SQLAlchemy.

With no URL configured a zone runs its own PostgreSQL from the ``pgserver`` package in
``$MADOGUCHI_VAR_DIR/pg/<zone>`` (kept between runs), so a fresh machine needs no server.
"""

from __future__ import annotations

import asyncio
import logging
import os
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


# The embedded server's settings (initdb's defaults are sized for a tiny machine: 128 MB
# shared_buffers, 1 GB max_wal_size). Sized for a 1,000,000-row card list import: the
# residents table and its indexes (~450 MB) stay cached, a bulk load does not force
# checkpoints. Memory is taken as it is used.
# A configured server URL keeps that server's own configuration.
EMBEDDED_SETTINGS: Final = {
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",
    "min_wal_size": "256MB",
    "checkpoint_timeout": "15min",
    "checkpoint_completion_target": "0.9",
    # Off: pglz (lz4 and zstd are not built into pgserver) compresses every full-page
    # image, and a B-tree build logs every page of the new index that way; compression made
    # the card import's index rebuild ~3x slower. The WAL is larger, disk is not scarce.
    "wal_compression": "off",
    "maintenance_work_mem": "256MB",
    # Per session, allocated only by sessions that use temporary tables (the import).
    "temp_buffers": "128MB",
}
EMBEDDED_SETTINGS_FILE: Final = "madoguchi.conf"
# The append-only tables (access log, progress events) refuse TRUNCATE unless the same
# transaction first runs this: emptying them must be meant (test clean-up, benchmarks).
TRUNCATE_ON_PURPOSE: Final = "SELECT set_config('madoguchi.allow_truncate', 'on', true)"
_INCLUDE_LINE: Final = f"include_if_exists = '{EMBEDDED_SETTINGS_FILE}'"


def write_embedded_settings(data_dir: Path) -> bool:
    """Write ``EMBEDDED_SETTINGS`` into an initialised data folder; True if anything changed.

    The settings go to their own file, included from ``postgresql.conf`` (``ALTER SYSTEM``
    still wins, through ``postgresql.auto.conf``). Idempotent.
    """
    changed = False
    wanted = "# Written by Madoguchi (api/core/database.py); rewritten at every start.\n" + "".join(
        f"{name} = '{value}'\n" for name, value in EMBEDDED_SETTINGS.items()
    )
    settings_file = data_dir / EMBEDDED_SETTINGS_FILE
    if not settings_file.exists() or settings_file.read_text() != wanted:
        settings_file.write_text(wanted)
        owner = data_dir.stat()
        if settings_file.stat().st_uid != owner.st_uid:  # pgserver runs as its own user
            os.chown(settings_file, owner.st_uid, owner.st_gid)
        changed = True
    main = data_dir / "postgresql.conf"
    if _INCLUDE_LINE not in main.read_text().splitlines():
        with main.open("a") as handle:
            handle.write(f"\n{_INCLUDE_LINE}\n")
        changed = True
    return changed


def start_embedded_server(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir``; return its admin URL.

    The server stops when the last process using it exits; its data stays. The data folder
    gets ``EMBEDDED_SETTINGS``: before the start when it exists, else right after initdb
    followed by a restart. A server already running when the settings change reloads
    them; ``shared_buffers`` then applies from its next start.
    """
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder and falls back to /tmp, noisily.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # noqa: PLC0415 - a heavy import only the embedded mode needs

    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = not (data_dir / "PG_VERSION").exists()
    changed = not fresh and write_embedded_settings(data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    pgdata = Path(server.pgdata)
    if fresh and write_embedded_settings(pgdata):
        # Just initialised by this process: restart it once with the settings, holding
        # pgserver's lock so no other process joins in between.
        with server._lock:  # pgserver's inter-process lock
            pgserver.pg_ctl(["-w", "stop"], pgdata=pgdata, user=server.system_user)  # type: ignore[attr-defined]
            server.ensure_postgres_running()
        logger.info("embedded PostgreSQL in %s configured and restarted", pgdata)
    elif changed:
        pgserver.pg_ctl(["reload"], pgdata=pgdata, user=server.system_user)  # type: ignore[attr-defined]
        logger.info("embedded PostgreSQL in %s: settings reloaded", pgdata)
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
        # No pre-ping: it costs three round trips on every request. After a database
        # restart a request on a broken connection fails once and the pool is renewed.
        else EngineConfig(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
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
