"""Alembic environment: async engines, SQLite batch mode, and connection sharing.

Two ways in:
- the bot (and the tests) call `bot.db.engine.upgrade_to_head`, which passes an open connection
  in `config.attributes["connection"]`; we migrate over it inside the caller's transaction;
- the `alembic` CLI, for which we build an engine from DATABASE_URL. Only that one variable is
  read: migrating must not need the Discord token and the rest of `bot.settings.Settings`.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# These two register the tables on SQLModel.metadata.
import bot.db.log_search
import bot.db.models  # noqa: F401
from bot.db.engine import create_engine
from bot.settings import DEFAULT_DATABASE_URL

config = context.config
target_metadata = SQLModel.metadata

# Any constant works; it only has to be the same for every rollbot process on one database.
_MIGRATION_LOCK_KEY = 0x726F6C6C626F74  # "rollbot"


class _MigrationSettings(BaseSettings):
    """The one setting migrations need, read the same way as `bot.settings.Settings` reads it."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = DEFAULT_DATABASE_URL


def _serialise_migrations(connection: Connection) -> None:
    """Make two processes that start at once migrate one after the other, not both at once."""
    if connection.dialect.name == "postgresql":
        # Released by the transaction's end; the second process then finds the schema at head.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
    elif connection.dialect.name == "sqlite" and not _sqlite_in_transaction(connection):
        # sqlite3's legacy mode runs DDL outside any transaction; an explicit BEGIN IMMEDIATE
        # takes the write lock now and makes a failed migration roll back as a whole.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_in_transaction(connection: Connection) -> bool:
    # The driver's view, not SQLAlchemy's: SQLAlchemy "begins" without telling sqlite3.
    return bool(getattr(connection.connection.driver_connection, "in_transaction", True))


def _render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Render our TypeDecorators (and SQLModel's AutoString) as the plain type they store.

    A revision is history: it must not import today's application code, which may change.
    """
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def _run_migrations(connection: Connection) -> None:
    _serialise_migrations(connection)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can't ALTER most things; batch mode recreates the table instead.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        # True for SQLite too: _serialise_migrations opened a real transaction around the DDL.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_migrations_with_own_engine() -> None:
    engine = create_engine(_MigrationSettings().database_url)
    try:
        # engine.begin(): one transaction around all migrations, committed at the end.
        async with engine.begin() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


def _run_migrations_offline() -> None:
    """`alembic upgrade --sql`: print the SQL instead of running it."""
    context.configure(
        url=_MigrationSettings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    # disable_existing_loggers=False: don't silence loggers created before this point.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

shared_connection: Connection | None = config.attributes.get("connection")
if context.is_offline_mode():
    _run_migrations_offline()
elif shared_connection is not None:
    _run_migrations(shared_connection)
else:
    asyncio.run(_run_migrations_with_own_engine())
