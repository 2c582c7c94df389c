"""The per-guild settings repository: `guild_config` rows and the `config_change` record.

Like `bot.db.audit`, functions take the caller's session first and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.db.models import ConfigChange, GuildConfig


async def get_config(session: AsyncSession, guild_id: int) -> GuildConfig | None:
    return await session.get(GuildConfig, guild_id, populate_existing=True)


async def lock_config(session: AsyncSession, guild_id: int) -> GuildConfig:
    """The guild's row, locked for update until the transaction ends (created if missing).

    On PostgreSQL two admins changing settings at once are serialised by the row lock; SQLite
    serialises writers anyway. A concurrent first insert raises IntegrityError (retry).
    """
    statement = (
        sa.select(GuildConfig)
        .where(col(GuildConfig.guild_id) == guild_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    config = (await session.execute(statement)).scalars().first()
    if config is None:
        config = GuildConfig(guild_id=guild_id)
        session.add(config)
        await session.flush()
    return config


async def add_change(session: AsyncSession, change: ConfigChange) -> ConfigChange:
    session.add(change)
    await session.flush()
    return change


async def recent_changes(
    session: AsyncSession, guild_id: int, *, limit: int = 5
) -> list[ConfigChange]:
    """The guild's latest setting changes, newest first."""
    statement = (
        sa.select(ConfigChange)
        .where(col(ConfigChange.guild_id) == guild_id)
        .order_by(col(ConfigChange.id).desc())
        .limit(limit)
    )
    rows: Sequence[ConfigChange] = (await session.execute(statement)).scalars().all()
    return list(rows)
