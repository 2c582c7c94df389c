"""Databases that can be broken on cue, for the DB fault tests.

- SQLite (a file): "database is locked" — another connection holds the write lock
  (`BEGIN IMMEDIATE`) longer than the engine's busy timeout, which the fixture shrinks to 0.2 s.
- PostgreSQL (a scratch database): every backend of that database is terminated
  (`pg_terminate_backend`, allowed for our own role's backends: no superuser, and nobody else's
  tests are touched), optionally after `ALLOW_CONNECTIONS false` so reconnecting fails too —
  a server that restarts, or stays away for a while.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

SQLITE_TEST_BUSY_TIMEOUT = 0.2


@dataclass
class BreakableSQLite:
    url: str
    _locker: sqlite3.Connection | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return "sqlite"

    async def break_writes(self) -> None:
        """Hold SQLite's write lock from another connection (readers still work: WAL)."""
        path = make_url(self.url).database
        assert path is not None
        self._locker = sqlite3.connect(path, isolation_level=None, timeout=5)
        self._locker.execute("BEGIN IMMEDIATE")

    async def restore(self) -> None:
        if self._locker is not None:
            self._locker.execute("ROLLBACK")
            self._locker.close()
            self._locker = None

    async def drop_connections(self) -> int:
        return 0  # nothing to drop: SQLite has no server


@dataclass
class BreakablePostgres:
    url: str  # the scratch database
    base_url: str  # a database of the same server to administer it from

    @property
    def kind(self) -> str:
        return "postgres"

    @property
    def name(self) -> str:
        name = make_url(self.url).database
        assert name is not None
        return name

    async def _admin(self, statement: str) -> int:
        engine = create_async_engine(
            make_url(self.base_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(statement), {"db": self.name})
                return len(result.all()) if result.returns_rows else 0
        finally:
            await engine.dispose()

    async def drop_connections(self) -> int:
        """Terminate every backend of the scratch database (what a restart does to them)."""
        return await self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :db AND pid <> pg_backend_pid()"
        )

    async def break_writes(self) -> None:
        """The database goes away and stays away: no new connections, existing ones killed."""
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        await self.drop_connections()

    async def restore(self) -> None:
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


BreakableDatabase = BreakableSQLite | BreakablePostgres
