"""Alembic's steps for either zone's migrations: each zone's env.py imports its models, then runs.

The steps are advanced-alchemy's env.py template, once: the zones differ only in which
tables their metadata holds (the bind key of the Alembic config picks it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from advanced_alchemy.base import metadata_registry
from alembic import context
from alembic.autogenerate import rewriter
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import AsyncEngine, async_engine_from_config

if TYPE_CHECKING:
    from advanced_alchemy.alembic.commands import AlembicCommandConfig
    from sqlalchemy.engine import Connection

# Revision files are written through the rewriter (its hooks are registered per zone, if any).
_WRITER = rewriter.Rewriter()


def _options(config: AlembicCommandConfig) -> dict[str, Any]:
    return {
        "target_metadata": metadata_registry.get(config.bind_key),
        "compare_type": config.compare_type,
        "version_table": config.version_table_name,
        "version_table_schema": config.version_table_schema,
        "version_table_pk": config.version_table_pk,
        "user_module_prefix": config.user_module_prefix,
        "render_as_batch": config.render_as_batch,
        "process_revision_directives": _WRITER,
    }


def _offline(config: AlembicCommandConfig) -> None:
    """Write the migrations' SQL instead of running it (``--sql``): no database needed."""
    context.configure(
        url=config.db_url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(config),
    )
    with context.begin_transaction():
        context.run_migrations()


def _on_connection(connection: Connection, config: AlembicCommandConfig) -> None:
    context.configure(connection=connection, **_options(config))
    with context.begin_transaction():
        context.run_migrations()


async def _online(config: AlembicCommandConfig) -> None:
    """Run the migrations on the configured engine, or on one made from the config's URL."""
    section = config.get_section(config.config_ini_section) or {}
    section["sqlalchemy.url"] = config.db_url
    engine = cast(
        "AsyncEngine",
        config.engine
        or async_engine_from_config(
            section, prefix="sqlalchemy.", poolclass=pool.NullPool, future=True
        ),
    )
    async with engine.connect() as connection:
        await connection.run_sync(_on_connection, config)
    await engine.dispose()


def run() -> None:
    """Run (or, in offline mode, write) the migrations of the zone whose env.py calls this."""
    config = cast("AlembicCommandConfig", context.config)
    if context.is_offline_mode():
        _offline(config)
    else:
        asyncio.run(_online(config))
