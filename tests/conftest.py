"""Shared database fixtures: every DB-backed test runs on SQLite and on PostgreSQL.

- `database_url`: a fresh, empty database — a SQLite file under tmp_path (its directory not yet
  created), or a scratch PostgreSQL database made for the test and dropped after it.
- `engine`: an `AsyncEngine` on it, migrated to head with `upgrade_to_head`.
- `session_factory`: `async_sessionmaker` on that engine (what the bot's services receive).
- `sqlite_engine` / `sqlite_session_factory`: the same on SQLite only, for tests that want a
  database but have nothing backend-specific to check.

PostgreSQL comes from ROLLBOT_TEST_POSTGRES_URL (`scripts/dev-postgres.sh up` then
`export ROLLBOT_TEST_POSTGRES_URL=$(scripts/dev-postgres.sh url)`); its role needs CREATEDB.
Without it the postgres cases skip, unless ROLLBOT_REQUIRE_INTEGRATION=1 (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from bot.db.engine import create_engine, create_session_factory, upgrade_to_head

POSTGRES_URL_ENV = "ROLLBOT_TEST_POSTGRES_URL"
REQUIRE_INTEGRATION_ENV = "ROLLBOT_REQUIRE_INTEGRATION"


def sqlite_url(directory: Path) -> str:
    """A SQLite URL in a not-yet-existing subdirectory (create_engine must make it)."""
    return f"sqlite+aiosqlite:///{directory / 'data' / 'rollbot.sqlite3'}"


def postgres_base_url() -> str:
    """The configured PostgreSQL URL, or skip (fail when integration tests are required)."""
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if url:
        return url
    if os.environ.get(REQUIRE_INTEGRATION_ENV) == "1":
        pytest.fail(f"{POSTGRES_URL_ENV} is unset but {REQUIRE_INTEGRATION_ENV}=1", pytrace=False)
    pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_ENV} (see scripts/dev-postgres.sh)")


@asynccontextmanager
async def scratch_postgres_database(base_url: str) -> AsyncIterator[str]:
    """A new empty database next to `base_url`'s, dropped afterwards. ~0.1 s; tests stay isolated
    from each other and from anyone else using the same server."""
    base = make_url(base_url)
    name = f"rollbot_t_{uuid.uuid4().hex[:12]}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            await _drop_database(admin, name)
    finally:
        await admin.dispose()


async def _drop_database(admin: AsyncEngine, name: str) -> None:
    """DROP … WITH (FORCE), retried: FORCE cannot end an autovacuum worker (a superuser backend)
    that happens to be visiting the fresh database, so wait for it to leave instead."""
    for attempt in range(50):
        try:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except DBAPIError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
        else:
            return


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind; nothing is migrated yet."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    async with scratch_postgres_database(postgres_base_url()) as url:
        yield url


@asynccontextmanager
async def migrated_engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(database_url) as engine:
        yield engine


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(sqlite_url(tmp_path)) as engine:
        yield engine


@pytest.fixture
def sqlite_session_factory(sqlite_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(sqlite_engine)
