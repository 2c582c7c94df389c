"""Per-guild settings: the log channel, rollback roles, log-viewer roles and default wiki.

A guild's own values (set with `/rollbot-config`, stored in `guild_config`) override the `.env`
defaults, one setting at a time. `GuildSettingsService` is the `RolePolicy` of the rollback
workflow and the channel source of the log poster, so one process serves several guilds with
different settings. Reads are cached briefly; a change made here clears the guild's entry at
once, and other processes sharing the database see it within `cache_seconds`.

Every change is recorded in `config_change` (who, when, old → new). Nothing here imports discord.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import guild_config
from bot.db.models import ConfigChange, GuildConfig, utcnow
from bot.services.authz import holds_any
from bot.settings import DEFAULT_WIKI


class Setting(enum.StrEnum):
    """The settings a guild can override; the words are the `/rollbot-config` vocabulary."""

    LOG_CHANNEL = "log-channel"
    ROLLBACK_ROLES = "rollback-roles"
    VIEWER_ROLES = "viewer-roles"
    WIKI = "wiki"


ROLE_SETTINGS = (Setting.ROLLBACK_ROLES, Setting.VIEWER_ROLES)


@dataclass(frozen=True, slots=True)
class GuildDefaults:
    """The `.env` values, used by every guild that has not set its own."""

    log_channel_id: int | None
    rollback_role_ids: frozenset[int]
    log_viewer_role_ids: frozenset[int] = frozenset()
    # Wiki key → the servers the operator lets use it, in configuration order (`default`
    # first). None: one wiki, `default`, for every server.
    wiki_guilds: Mapping[str, frozenset[int] | None] | None = None

    def wikis_for(self, guild_id: int) -> tuple[str, ...]:
        if self.wiki_guilds is None:
            return (DEFAULT_WIKI,)
        return tuple(
            key for key, guilds in self.wiki_guilds.items() if guilds is None or guild_id in guilds
        )


@dataclass(frozen=True, slots=True)
class Editor:
    """The admin making a change."""

    user_id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A guild's effective settings, and which of them come from `.env`."""

    guild_id: int
    log_channel_id: int | None
    rollback_role_ids: frozenset[int]
    log_viewer_role_ids: frozenset[int]
    log_channel_is_default: bool
    rollback_roles_are_default: bool
    viewer_roles_are_default: bool
    wikis: tuple[str, ...] = (DEFAULT_WIKI,)  # the operator's choice for this server
    default_wiki: str | None = DEFAULT_WIKI  # None: the server may use no wiki
    wiki_is_default: bool = True

    def is_default(self, setting: Setting) -> bool:
        return {
            Setting.LOG_CHANNEL: self.log_channel_is_default,
            Setting.ROLLBACK_ROLES: self.rollback_roles_are_default,
            Setting.VIEWER_ROLES: self.viewer_roles_are_default,
            Setting.WIKI: self.wiki_is_default,
        }[setting]

    def roles(self, setting: Setting) -> frozenset[int]:
        if setting is Setting.ROLLBACK_ROLES:
            return self.rollback_role_ids
        if setting is Setting.VIEWER_ROLES:
            return self.log_viewer_role_ids
        raise ValueError(f"{setting} is not a role setting")

    def describe(self, setting: Setting) -> str:
        """The value as a Discord message shows it, e.g. `<#1>` or `<@&1>, <@&2> (default)`."""
        if setting is Setting.LOG_CHANNEL:
            text = f"<#{self.log_channel_id}>" if self.log_channel_id else "none"
        elif setting is Setting.WIKI:
            text = f"`{self.default_wiki}`" if self.default_wiki else "none"
        else:
            text = ", ".join(f"<@&{role}>" for role in sorted(self.roles(setting))) or "none"
        return f"{text} (default)" if self.is_default(setting) else text

    def may_view_log(self, member_role_ids: Iterable[int]) -> bool:
        """Rollback roles may always read the log; log-viewer roles only read it."""
        return holds_any(set(member_role_ids), self.rollback_role_ids | self.log_viewer_role_ids)


@dataclass(frozen=True, slots=True)
class SettingChange:
    """The outcome of one `/rollbot-config` change (`changed` False: it was already so)."""

    setting: Setting
    before: GuildSettings
    after: GuildSettings
    changed_by: Editor
    at: datetime

    @property
    def changed(self) -> bool:
        return self.before.describe(self.setting) != self.after.describe(self.setting)

    @property
    def old_text(self) -> str:
        return self.before.describe(self.setting)

    @property
    def new_text(self) -> str:
        return self.after.describe(self.setting)


class GuildSettingsService:
    """Reads and changes per-guild settings; implements `RolePolicy` and the log channel lookup."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        defaults: GuildDefaults,
        cache_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._defaults = defaults
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[int, tuple[float, GuildSettings]] = {}
        # Within one process, changes are serialised here (SQLite has no row locks).
        self._write_lock = asyncio.Lock()

    @property
    def defaults(self) -> GuildDefaults:
        return self._defaults

    # ---- reads -------------------------------------------------------------------------------

    async def settings(self, guild_id: int) -> GuildSettings:
        cached = self._cache.get(guild_id)
        now = self._monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._sessions() as session:
            row = await guild_config.get_config(session, guild_id)
        effective = self._effective(guild_id, row)
        self._cache[guild_id] = (now + self._cache_seconds, effective)
        return effective

    async def rollback_role_ids(self, guild_id: int) -> frozenset[int]:
        return (await self.settings(guild_id)).rollback_role_ids

    async def log_viewer_role_ids(self, guild_id: int) -> frozenset[int]:
        return (await self.settings(guild_id)).log_viewer_role_ids

    async def log_channel_id(self, guild_id: int) -> int | None:
        return (await self.settings(guild_id)).log_channel_id

    async def may_view_log(self, guild_id: int, member_role_ids: Iterable[int]) -> bool:
        return (await self.settings(guild_id)).may_view_log(member_role_ids)

    def wikis_for(self, guild_id: int) -> tuple[str, ...]:
        """The wikis the operator lets this server use (env only; no admin can widen it)."""
        return self._defaults.wikis_for(guild_id)

    async def default_wiki(self, guild_id: int) -> str | None:
        return (await self.settings(guild_id)).default_wiki

    async def recent_changes(self, guild_id: int, *, limit: int = 5) -> list[ConfigChange]:
        async with self._sessions() as session:
            return await guild_config.recent_changes(session, guild_id, limit=limit)

    def invalidate(self, guild_id: int | None = None) -> None:
        if guild_id is None:
            self._cache.clear()
        else:
            self._cache.pop(guild_id, None)

    # ---- changes -----------------------------------------------------------------------------

    async def set_log_channel(
        self, guild_id: int, channel_id: int | None, *, by: Editor
    ) -> SettingChange:
        """Post this guild's log to `channel_id`; None: post this guild's log nowhere."""

        def apply(row: GuildConfig) -> None:
            row.log_channel_set = True
            row.log_channel_id = channel_id

        return await self._change(guild_id, Setting.LOG_CHANNEL, apply, by=by)

    async def set_default_wiki(self, guild_id: int, key: str, *, by: Editor) -> SettingChange:
        """The server's default wiki, among those the operator allows it (else ValueError)."""
        if key not in self.wikis_for(guild_id):
            raise ValueError(f"this server may not use the wiki {key!r}")

        def apply(row: GuildConfig) -> None:
            row.default_wiki = key

        return await self._change(guild_id, Setting.WIKI, apply, by=by)

    async def add_role(
        self, guild_id: int, setting: Setting, role_id: int, *, by: Editor
    ) -> SettingChange:
        """Add a role to the guild's list (starting from what is in effect, defaults included)."""
        return await self._edit_roles(guild_id, setting, lambda roles: roles | {role_id}, by=by)

    async def remove_role(
        self, guild_id: int, setting: Setting, role_id: int, *, by: Editor
    ) -> SettingChange:
        return await self._edit_roles(guild_id, setting, lambda roles: roles - {role_id}, by=by)

    async def reset(self, guild_id: int, setting: Setting, *, by: Editor) -> SettingChange:
        """Forget the guild's own value: the `.env` default applies again."""

        def apply(row: GuildConfig) -> None:
            if setting is Setting.LOG_CHANNEL:
                row.log_channel_set = False
                row.log_channel_id = None
            elif setting is Setting.ROLLBACK_ROLES:
                row.rollback_role_ids = None
            elif setting is Setting.WIKI:
                row.default_wiki = None
            else:
                row.log_viewer_role_ids = None

        return await self._change(guild_id, setting, apply, by=by)

    async def _edit_roles(
        self,
        guild_id: int,
        setting: Setting,
        edit: Callable[[frozenset[int]], frozenset[int]],
        *,
        by: Editor,
    ) -> SettingChange:
        if setting not in ROLE_SETTINGS:
            raise ValueError(f"{setting} is not a role setting")

        def apply(row: GuildConfig) -> None:
            current = self._effective(guild_id, row).roles(setting)
            if setting is Setting.ROLLBACK_ROLES:
                row.rollback_role_ids = edit(current)
            else:
                row.log_viewer_role_ids = edit(current)

        return await self._change(guild_id, setting, apply, by=by)

    async def _change(
        self,
        guild_id: int,
        setting: Setting,
        apply: Callable[[GuildConfig], None],
        *,
        by: Editor,
    ) -> SettingChange:
        async with self._write_lock:
            try:
                change = await self._change_once(guild_id, setting, apply, by=by)
            except IntegrityError:
                # Another process created the guild's row first; now it exists, so lock it.
                change = await self._change_once(guild_id, setting, apply, by=by)
            self.invalidate(guild_id)
        return change

    async def _change_once(
        self,
        guild_id: int,
        setting: Setting,
        apply: Callable[[GuildConfig], None],
        *,
        by: Editor,
    ) -> SettingChange:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            row = await guild_config.lock_config(session, guild_id)
            before = self._effective(guild_id, row)
            apply(row)
            after = self._effective(guild_id, row)
            change = SettingChange(setting, before, after, by, now)
            if change.changed:
                row.updated_at = now
                row.updated_by_id = by.user_id
                await guild_config.add_change(
                    session,
                    ConfigChange(
                        created_at=now,
                        guild_id=guild_id,
                        changed_by_id=by.user_id,
                        changed_by_name=by.display_name[:100],
                        setting=setting.value,
                        old_value=change.old_text[:2000],
                        new_value=change.new_text[:2000],
                    ),
                )
        return change

    def _effective(self, guild_id: int, row: GuildConfig | None) -> GuildSettings:
        defaults = self._defaults
        if row is None:
            row = GuildConfig(guild_id=guild_id)
        wikis = defaults.wikis_for(guild_id)
        own_wiki = row.default_wiki is not None and row.default_wiki in wikis
        return GuildSettings(
            guild_id=guild_id,
            log_channel_id=row.log_channel_id if row.log_channel_set else defaults.log_channel_id,
            rollback_role_ids=(
                row.rollback_role_ids
                if row.rollback_role_ids is not None
                else defaults.rollback_role_ids
            ),
            log_viewer_role_ids=(
                row.log_viewer_role_ids
                if row.log_viewer_role_ids is not None
                else defaults.log_viewer_role_ids
            ),
            log_channel_is_default=not row.log_channel_set,
            rollback_roles_are_default=row.rollback_role_ids is None,
            viewer_roles_are_default=row.log_viewer_role_ids is None,
            wikis=wikis,
            # A stored choice the operator has since withdrawn falls back like no choice.
            default_wiki=row.default_wiki if own_wiki else (wikis[0] if wikis else None),
            wiki_is_default=not own_wiki,
        )
