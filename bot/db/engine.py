"""The async engine, the session factory, and schema migration at start-up.

SQLite (the default, one file) and PostgreSQL (larger set-ups) are both first-class; everything
backend-specific lives here so the rest of the bot writes portable SQL.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic.command import upgrade
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

# The repository root: alembic.ini and alembic/ sit beside the `bot` package, so the bot can
# migrate its database whatever directory it was started from.
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = _PROJECT_ROOT / "alembic.ini"
ALEMBIC_SCRIPTS = _PROJECT_ROOT / "alembic"

# How long a SQLite writer waits for another one to finish before "database is locked".
# Confirm clicks and the expiry sweeper write concurrently; they are short, so waiting is right.
SQLITE_BUSY_TIMEOUT_SECONDS = 30


def redact_url(url: str | URL) -> str:
    """The URL with its password replaced by `***`, safe to log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # An unparseable URL may still contain a password somewhere; never echo it.
        return "<unparseable database URL>"


def create_engine(url: str) -> AsyncEngine:
    """An `AsyncEngine` for `url` (`sqlite+aiosqlite:///…` or `postgresql+asyncpg://…`)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(sa_url)
    # pre_ping: a PostgreSQL restart or an idle-connection reaper must not turn the next Confirm
    # click into an error. recycle: stay under typical server/proxy idle timeouts.
    return create_async_engine(
        sa_url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_recycle=1800
    )


def _is_file_database(url: URL) -> bool:
    database = url.database or ""
    if not database or database == ":memory:":
        return False
    # SQLite URI filenames (`file:…?uri=true`) may name memory databases; leave them alone.
    return not database.startswith("file:")


def _create_sqlite_engine(url: URL) -> AsyncEngine:
    file_database = _is_file_database(url)
    if file_database and url.database:
        # A fresh deployment has no data/ directory yet; SQLite would fail with "unable to open".
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine.sync_engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # timeout= already sets this in sqlite3; the PRAGMA states it where it can be seen.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
            # SQLite ignores foreign keys unless asked, per connection.
            cursor.execute("PRAGMA foreign_keys = ON")
            if file_database:
                # WAL: readers (history, start-up reconciliation) never block the writer.
                # NORMAL is durable across application crashes in WAL mode; only a power cut
                # can lose the last commits.
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for units of work. Rows stay readable after commit (no lazy reload in async)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this project, optionally bound to an open connection.

    With a connection, `alembic/env.py` migrates over it (and its transaction) instead of
    building its own engine, and leaves the application's logging alone.
    """
    if not ALEMBIC_INI.is_file() or not ALEMBIC_SCRIPTS.is_dir():
        raise FileNotFoundError(
            f"Alembic files not found beside the bot package ({ALEMBIC_INI}, {ALEMBIC_SCRIPTS}); "
            "run the bot from a checkout of the repository"
        )
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
        config.attributes["configure_logger"] = False
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Apply every pending migration, in one transaction (both backends have transactional DDL)."""
    log.info("Migrating database %s to the latest schema", redact_url(engine.url))
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_to_head)


def _upgrade_to_head(connection: Connection) -> None:
    upgrade(alembic_config(connection), "head")
