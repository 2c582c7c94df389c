"""The Alembic history builds exactly the schema the models describe, both ways, on both DBs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import bot.db.log_search  # noqa: F401  (its table must be on SQLModel.metadata to compare)
from bot.db.engine import ALEMBIC_INI, alembic_config, create_engine

EXPECTED_TABLES = {
    "alembic_version",
    "rollback_request",
    "guild_config",
    "config_change",
    "log_search",  # 0004
}
EXPECTED_INDEXES = {
    "ix_rollback_request_created_at",
    "ix_rollback_request_guild_id",
    "ix_rollback_request_page_title",
    "ix_rollback_request_requester_id",
    "ix_rollback_request_status",
    "ix_rollback_request_target_user",
    # 0002: the /rollback-log search indexes
    "ix_rollback_request_guild_recent",
    "ix_rollback_request_guild_target_recent",
    "ix_rollback_request_guild_page_recent",
    "ix_rollback_request_guild_requester_recent",
    "ix_rollback_request_guild_status_recent",
    # 0003: the settle re-check and the log outbox
    "ix_rollback_request_recheck_at",
    "ix_rollback_request_log_due",
    # 0005: several wikis
    "ix_rollback_request_guild_wiki_recent",
}
EXPECTED_LOG_SEARCH_INDEXES = {"ix_log_search_created_at"}  # 0004: pruning


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def _indexes(connection: Connection, table: str = "rollback_request") -> set[str]:
    return {str(index["name"]) for index in sa.inspect(connection).get_indexes(table)}


def _log_search_indexes(connection: Connection) -> set[str]:
    return _indexes(connection, "log_search")


def _downgrade_to_base(connection: Connection) -> None:
    downgrade(alembic_config(connection), "base")


def _upgrade_to_head(connection: Connection) -> None:
    upgrade(alembic_config(connection), "head")


async def test_migrations_match_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema_differences) == []
        assert await connection.run_sync(_tables) == EXPECTED_TABLES
        assert await connection.run_sync(_indexes) == EXPECTED_INDEXES
        assert await connection.run_sync(_log_search_indexes) == EXPECTED_LOG_SEARCH_INDEXES


async def test_downgrade_to_base_and_upgrade_again(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade_to_base)
    async with engine.connect() as connection:
        assert await connection.run_sync(_tables) == {"alembic_version"}
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_to_head)
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema_differences) == []


async def test_alembic_cli_reads_only_database_url(database_url: str, tmp_path: Path) -> None:
    """`alembic upgrade head` from another directory, with DATABASE_URL and no bot settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD_", "WIKI_", "ROLLBACK_"))
    }
    env["DATABASE_URL"] = database_url
    result = subprocess.run(  # noqa: ASYNC221  (a one-off CLI run; the loop has nothing else to do)
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "upgrade", "head"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_differences) == []
    finally:
        await engine.dispose()
