"""`bot.db.engine`: engine options per backend, URL redaction, migrating from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import (
    alembic_config,
    create_engine,
    create_session_factory,
    redact_url,
    upgrade_to_head,
)


async def test_sqlite_creates_missing_data_directory(tmp_path: Path) -> None:
    db_file = tmp_path / "deep" / "data" / "rollbot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
    try:
        assert db_file.parent.is_dir()
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        assert db_file.is_file()
    finally:
        await engine.dispose()


async def test_sqlite_connection_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        async with engine.connect() as connection:

            async def pragma(name: str) -> object:
                return (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()

            assert await pragma("foreign_keys") == 1
            assert await pragma("journal_mode") == "wal"
            assert await pragma("busy_timeout") == 30_000
    finally:
        await engine.dispose()


def _entries(directory: Path) -> list[Path]:
    return list(directory.iterdir())


async def test_sqlite_in_memory_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
        assert _entries(tmp_path) == []
    finally:
        await engine.dispose()


def test_postgres_engine_pings_before_use() -> None:
    # Building an engine does not connect, so this needs no server.
    engine = create_engine("postgresql+asyncpg://u:p@127.0.0.1:1/db")
    assert engine.sync_engine.pool._pre_ping


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+asyncpg://rollbot:s3cret@db:5432/rollbot",
            "postgresql+asyncpg://rollbot:***@db:5432/rollbot",
        ),
        ("sqlite+aiosqlite:///data/rollbot.sqlite3", "sqlite+aiosqlite:///data/rollbot.sqlite3"),
        ("not a url :s3cret@", "<unparseable database URL>"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "s3cret" not in redact_url(url)


async def test_upgrade_to_head_works_from_any_directory(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
        await upgrade_to_head(engine)  # idempotent: the bot runs it at every start
        async with engine.connect() as connection:
            version = (
                await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            ).scalar_one()
        assert version == _script_head()
    finally:
        await engine.dispose()


async def test_sessions_keep_attributes_after_commit(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    async with factory() as session:
        value = (await session.execute(text("SELECT 1"))).scalar_one()
        await session.commit()
    assert value == 1
    assert factory.kw["expire_on_commit"] is False


def _script_head() -> str | None:
    """The newest revision in alembic/versions (so adding a migration needs no test edit)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
