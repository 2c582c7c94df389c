"""Fixtures for the fault tests.

The real dev wiki comes from tests/integration (``wiki_template``, ``wiki``): same skip/fail rule,
a missing MediaWiki skips, or fails under ROLLBOT_REQUIRE_INTEGRATION=1. Every test here that uses
it carries the ``integration`` marker. The database fixtures (``database_url``, ``engine``,
``session_factory`` over SQLite and PostgreSQL) come from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.db import engine as engine_module
from tests.conftest import migrated_engine, postgres_base_url, scratch_postgres_database, sqlite_url
from tests.faults.databases import (
    SQLITE_TEST_BUSY_TIMEOUT,
    BreakableDatabase,
    BreakablePostgres,
    BreakableSQLite,
)
from tests.faults.proxy import FaultProxy
from tests.faults.support import Sleeps
from tests.integration import conftest as integration
from tests.integration.conftest import devwiki

# The dev-wiki fixtures of tests/integration, shared rather than copied.
wiki_template = integration.wiki_template
wiki = integration.wiki

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.resolve().parents and "wiki" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def proxy(wiki: devwiki.RunningWiki) -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of this test's wiki; ``proxy.api_url`` is where the bot points."""
    async with FaultProxy(upstream_port=wiki.port) as running:
        yield running


@asynccontextmanager
async def _breakable_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BreakableSQLite]:
    # Engines made from here on give up on a held write lock after 0.2 s, not 30 s.
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_SECONDS", SQLITE_TEST_BUSY_TIMEOUT)
    db = BreakableSQLite(sqlite_url(tmp_path))
    async with migrated_engine(db.url):
        pass
    try:
        yield db
    finally:
        await db.restore()


@asynccontextmanager
async def _breakable_postgres() -> AsyncIterator[BreakablePostgres]:
    base = postgres_base_url()
    async with scratch_postgres_database(base) as url:
        db = BreakablePostgres(url, base)
        async with migrated_engine(url):
            pass
        try:
            yield db
        finally:
            await db.restore()


@pytest.fixture
async def breakable_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BreakableSQLite]:
    async with _breakable_sqlite(tmp_path, monkeypatch) as db:
        yield db


@pytest.fixture
async def breakable_postgres() -> AsyncIterator[BreakablePostgres]:
    async with _breakable_postgres() as db:
        yield db


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def breakable_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BreakableDatabase]:
    """A fresh, migrated database of each kind that the test can break and restore."""
    if request.param == "sqlite":
        async with _breakable_sqlite(tmp_path, monkeypatch) as sqlite:
            yield sqlite
    else:
        async with _breakable_postgres() as postgres:
            yield postgres
