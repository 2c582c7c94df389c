"""`GuildSettingsService` on SQLite and PostgreSQL: per-guild overrides of the .env defaults."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ConfigChange, GuildConfig
from bot.services.guild_settings import Editor, GuildDefaults, GuildSettingsService, Setting

Sessions = async_sessionmaker[AsyncSession]

GUILD_A = 1_100_000_000_000_000_000
GUILD_B = 1_100_000_000_000_000_999
ENV_CHANNEL = 1_100_000_000_000_000_020
ENV_ROLE = 1_100_000_000_000_000_101
ROLE_X = 1_100_000_000_000_000_201
ROLE_Y = 1_100_000_000_000_000_202
ADMIN = Editor(1_200_000_000_000_000_009, "Admin")
DEFAULTS = GuildDefaults(
    log_channel_id=ENV_CHANNEL,
    rollback_role_ids=frozenset({ENV_ROLE}),
    log_viewer_role_ids=frozenset(),
)


class Ticker:
    """A monotonic clock the test moves by hand (cache expiry)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def service(session_factory: Sessions, ticker: Ticker) -> GuildSettingsService:
    return GuildSettingsService(
        sessions=session_factory, defaults=DEFAULTS, cache_seconds=30, monotonic=ticker
    )


async def _changes(sessions: Sessions) -> list[ConfigChange]:
    async with sessions() as session:
        return list(
            (await session.execute(select(ConfigChange).order_by(ConfigChange.id))).scalars()
        )  # type: ignore[arg-type]


async def test_a_guild_without_settings_uses_the_env_defaults(
    service: GuildSettingsService,
) -> None:
    settings = await service.settings(GUILD_A)
    assert settings.log_channel_id == ENV_CHANNEL
    assert settings.rollback_role_ids == {ENV_ROLE}
    assert settings.log_viewer_role_ids == frozenset()
    assert settings.describe(Setting.LOG_CHANNEL) == f"<#{ENV_CHANNEL}> (default)"
    assert settings.describe(Setting.VIEWER_ROLES) == "none (default)"


async def test_two_guilds_have_their_own_settings(
    service: GuildSettingsService, session_factory: Sessions
) -> None:
    await service.set_log_channel(GUILD_A, 555, by=ADMIN)
    await service.add_role(GUILD_A, Setting.VIEWER_ROLES, ROLE_X, by=ADMIN)
    await service.remove_role(GUILD_B, Setting.ROLLBACK_ROLES, ENV_ROLE, by=ADMIN)
    await service.add_role(GUILD_B, Setting.ROLLBACK_ROLES, ROLE_Y, by=ADMIN)

    a, b = await service.settings(GUILD_A), await service.settings(GUILD_B)
    assert (a.log_channel_id, a.rollback_role_ids, a.log_viewer_role_ids) == (
        555,
        {ENV_ROLE},
        {ROLE_X},
    )
    assert (b.log_channel_id, b.rollback_role_ids, b.log_viewer_role_ids) == (
        ENV_CHANNEL,
        {ROLE_Y},
        frozenset(),
    )
    assert await service.rollback_role_ids(GUILD_B) == {ROLE_Y}
    assert await service.may_view_log(GUILD_A, [ROLE_X])
    assert not await service.may_view_log(GUILD_B, [ROLE_X])
    assert await service.may_view_log(GUILD_B, [ROLE_Y])  # rollback roles may always read

    # A second service on the same database (another process) sees the same values.
    fresh = GuildSettingsService(sessions=session_factory, defaults=DEFAULTS)
    assert await fresh.settings(GUILD_A) == a
    assert await fresh.settings(GUILD_B) == b


async def test_changes_are_recorded_old_to_new(
    service: GuildSettingsService, session_factory: Sessions
) -> None:
    first = await service.add_role(GUILD_A, Setting.ROLLBACK_ROLES, ROLE_X, by=ADMIN)
    assert first.changed
    assert (first.old_text, first.new_text) == (
        f"<@&{ENV_ROLE}> (default)",
        f"<@&{ENV_ROLE}>, <@&{ROLE_X}>",
    )
    again = await service.add_role(GUILD_A, Setting.ROLLBACK_ROLES, ROLE_X, by=ADMIN)
    assert not again.changed  # no-op: nothing recorded
    await service.set_log_channel(GUILD_A, None, by=ADMIN)
    await service.reset(GUILD_A, Setting.LOG_CHANNEL, by=ADMIN)

    changes = await _changes(session_factory)
    assert [(c.setting, c.old_value, c.new_value) for c in changes] == [
        ("rollback-roles", f"<@&{ENV_ROLE}> (default)", f"<@&{ENV_ROLE}>, <@&{ROLE_X}>"),
        ("log-channel", f"<#{ENV_CHANNEL}> (default)", "none"),
        ("log-channel", "none", f"<#{ENV_CHANNEL}> (default)"),
    ]
    assert {(c.guild_id, c.changed_by_id, c.changed_by_name) for c in changes} == {
        (GUILD_A, ADMIN.user_id, "Admin")
    }
    assert all(c.created_at.tzinfo is not None for c in changes)
    recent = await service.recent_changes(GUILD_A, limit=2)
    assert [c.id for c in recent] == [changes[2].id, changes[1].id]


async def test_log_channel_none_differs_from_default(service: GuildSettingsService) -> None:
    await service.set_log_channel(GUILD_A, None, by=ADMIN)
    assert await service.log_channel_id(GUILD_A) is None
    assert await service.log_channel_id(GUILD_B) == ENV_CHANNEL
    await service.reset(GUILD_A, Setting.LOG_CHANNEL, by=ADMIN)
    assert await service.log_channel_id(GUILD_A) == ENV_CHANNEL


async def test_removing_the_last_role_leaves_an_explicit_empty_list(
    service: GuildSettingsService, session_factory: Sessions
) -> None:
    await service.remove_role(GUILD_A, Setting.ROLLBACK_ROLES, ENV_ROLE, by=ADMIN)
    assert await service.rollback_role_ids(GUILD_A) == frozenset()
    async with session_factory() as session:
        row = await session.get(GuildConfig, GUILD_A)
    assert row is not None
    assert row.rollback_role_ids == frozenset()  # stored as "", not NULL (= default)
    await service.reset(GUILD_A, Setting.ROLLBACK_ROLES, by=ADMIN)
    assert await service.rollback_role_ids(GUILD_A) == {ENV_ROLE}


async def test_cache_is_cleared_by_a_change_and_expires_for_other_processes(
    service: GuildSettingsService, session_factory: Sessions, ticker: Ticker
) -> None:
    assert await service.log_channel_id(GUILD_A) == ENV_CHANNEL
    other_process = GuildSettingsService(sessions=session_factory, defaults=DEFAULTS)
    await other_process.set_log_channel(GUILD_A, 777, by=ADMIN)
    assert await service.log_channel_id(GUILD_A) == ENV_CHANNEL  # cached
    ticker.now += 31
    assert await service.log_channel_id(GUILD_A) == 777
    await service.set_log_channel(GUILD_A, 888, by=ADMIN)
    assert await service.log_channel_id(GUILD_A) == 888  # own change: at once


async def test_concurrent_changes_lose_nothing(service: GuildSettingsService) -> None:
    roles = [ROLE_X + i for i in range(8)]
    await asyncio.gather(
        *(service.add_role(GUILD_A, Setting.VIEWER_ROLES, role, by=ADMIN) for role in roles)
    )
    assert await service.log_viewer_role_ids(GUILD_A) == set(roles)


async def test_role_edits_refuse_the_channel_setting(service: GuildSettingsService) -> None:
    with pytest.raises(ValueError, match="not a role setting"):
        await service.add_role(GUILD_A, Setting.LOG_CHANNEL, ROLE_X, by=ADMIN)
