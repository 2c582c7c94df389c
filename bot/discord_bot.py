"""The discord.py Bot subclass: receives its dependencies, registers the cogs and buttons."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RollbackRequest, utcnow
from bot.exts.audit_log import AuditLogCog, FixedLogChannel, LogChannels, LogPoster
from bot.exts.guild_config import GuildConfigCog
from bot.exts.history import DEFAULT_EXPORT_MAX_BYTES, HistoryCog
from bot.exts.rollback import RollbackCog
from bot.services.guild_settings import GuildSettingsService
from bot.services.history import HistoryService
from bot.services.rollback import RollbackService
from bot.ui.confirm import PromptButton, PromptHandler
from bot.ui.embeds import WikiLinks
from bot.ui.replies import INTERNAL_ERROR, NO_MENTIONS, send_ephemeral

log = logging.getLogger(__name__)


class RollbotTree(app_commands.CommandTree["RollBot"]):
    """The one place that turns an unexpected command error into a polite reply."""

    async def on_error(
        self, interaction: discord.Interaction[RollBot], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.NoPrivateMessage):
            text = "This command works only in a server."
        else:
            log.error(
                "command %s failed",
                interaction.command and interaction.command.name,
                exc_info=error,
            )
            text = INTERNAL_ERROR
        await send_ephemeral(interaction, text)


class RollBot(commands.Bot):
    """rollbot's Discord client. Owns no resources: `app.main` owns the wiki client and DB."""

    prompt_handler: PromptHandler

    def __init__(
        self,
        *,
        service: RollbackService,
        sessions: async_sessionmaker[AsyncSession],
        links: WikiLinks,
        guild_ids: list[int],
        log_channel_id: int | None = None,
        guild_settings: GuildSettingsService | None = None,
        history: HistoryService | None = None,
        export_max_bytes: int = DEFAULT_EXPORT_MAX_BYTES,
        sweep_seconds: float = 5.0,
        log_sweep_seconds: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`guild_settings` (per-guild log channel and roles) replaces `log_channel_id`; with
        `history` as well, `/rollback-log` and `/rollbot-config` are added. `sessions` hold the
        log outbox, delivered every `log_sweep_seconds`."""
        intents = discord.Intents.none()
        intents.guilds = True  # roles and channels; no privileged intents
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            tree_cls=RollbotTree,
            help_command=None,
        )
        self.service = service
        self.links = links
        self.guild_ids = guild_ids
        self.guild_settings = guild_settings
        self.history = history
        self.export_max_bytes = export_max_bytes
        channels: LogChannels = (
            guild_settings if guild_settings is not None else FixedLogChannel(log_channel_id)
        )
        self.log_poster = LogPoster(
            self, sessions=sessions, links=links, channels=channels, clock=clock
        )
        self._sweep_seconds = sweep_seconds
        self._log_sweep_seconds = log_sweep_seconds
        self._background: set[asyncio.Task[None]] = set()

    async def setup_hook(self) -> None:
        # Delivers what the last run left in the log outbox as soon as the bot is ready.
        await self.add_cog(
            AuditLogCog(self, poster=self.log_poster, interval=self._log_sweep_seconds)
        )
        cog = RollbackCog(
            self,
            service=self.service,
            links=self.links,
            log_poster=self.log_poster,
            sweep_seconds=self._sweep_seconds,
        )
        await self.add_cog(cog)
        self.prompt_handler = cog
        self.add_dynamic_items(PromptButton)
        if self.guild_settings is not None and self.history is not None:
            await self.add_cog(
                HistoryCog(
                    self,
                    history=self.history,
                    settings=self.guild_settings,
                    links=self.links,
                    export_max_bytes=self.export_max_bytes,
                )
            )
            await self.add_cog(
                GuildConfigCog(self, settings=self.guild_settings, log_poster=self.log_poster)
            )
        await self.sync_commands()
        # Settle what a crash left behind before new clicks arrive; post it once connected.
        settled = await self.service.reconcile()
        if settled:
            log.info("reconciled %d requests left open by the last run", len(settled))
            self._background.add(asyncio.create_task(self._post_when_ready(settled)))

    async def _post_when_ready(self, requests: list[RollbackRequest]) -> None:
        await self.wait_until_ready()
        for request in requests:
            await self.log_poster.post(request)

    async def sync_commands(self) -> None:
        """Sync to the configured guilds (instant) or globally (can take up to an hour)."""
        if self.guild_ids:
            for guild_id in self.guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
