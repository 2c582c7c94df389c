"""The discord.py Bot subclass: receives its dependencies, registers the cogs and buttons."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Self

import discord
from discord import app_commands
from discord.ext import commands
from discord.state import ConnectionState
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from bot.exts.audit_log import AuditLogCog, FixedLogChannel, LogChannels, LogPoster
from bot.exts.edit_menu import EditChoice, EditMenuCog
from bot.exts.guild_config import GuildConfigCog
from bot.exts.history import DEFAULT_EXPORT_MAX_BYTES, HistoryCog
from bot.exts.rollback import RollbackCog
from bot.interaction_gate import GatedConnectionState, InteractionGate
from bot.services.edit_requests import EditRequests
from bot.services.guild_settings import GuildSettingsService
from bot.services.history import HistoryService
from bot.services.rollback import RollbackService
from bot.services.suggest import Suggestions
from bot.settings import DEFAULT_WIKI
from bot.ui.confirm import PromptButton, PromptHandler
from bot.ui.embeds import WikiLinks
from bot.ui.replies import INTERNAL_ERROR, NO_MENTIONS, send_ephemeral
from bot.ui.sites import WikiSites

log = logging.getLogger(__name__)

_OPTION_KINDS = {
    discord.AppCommandOptionType.string: "text",
    discord.AppCommandOptionType.integer: "number",
    discord.AppCommandOptionType.number: "number",
    discord.AppCommandOptionType.boolean: "choice",
    discord.AppCommandOptionType.user: "member",
    discord.AppCommandOptionType.channel: "channel",
    discord.AppCommandOptionType.role: "role",
    discord.AppCommandOptionType.mentionable: "member or role",
    discord.AppCommandOptionType.attachment: "file",
}


class RollbotTree(app_commands.CommandTree["RollBot"]):
    """The one place that turns an unexpected command error into a polite reply."""

    async def on_error(
        self, interaction: discord.Interaction[RollBot], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.NoPrivateMessage):
            text = "This command works only in a server."
        elif isinstance(error, app_commands.TransformerError):
            # e.g. a channel Discord did not describe, or a choice the command no longer has
            kind = _OPTION_KINDS.get(error.type, "value")
            log.info("command %s: unusable %s option", _name(interaction), kind)
            text = f"Sorry, rollbot could not use the {kind} you gave. Please choose it again."
        else:
            log.error("command %s failed", _name(interaction), exc_info=error)
            text = INTERNAL_ERROR
        await send_ephemeral(interaction, text)


def _name(interaction: discord.Interaction[RollBot]) -> str | None:
    command = interaction.command
    return command.qualified_name if command is not None else None


class RollBot(commands.Bot):
    """rollbot's Discord client. Owns no resources: `app.main` owns the wiki client and DB."""

    prompt_handler: PromptHandler

    def __init__(
        self,
        *,
        service: RollbackService,
        sessions: async_sessionmaker[AsyncSession],
        links: WikiLinks | WikiSites,
        guild_ids: list[int],
        log_channel_id: int | None = None,
        guild_settings: GuildSettingsService | None = None,
        history: HistoryService | None = None,
        export_max_bytes: int = DEFAULT_EXPORT_MAX_BYTES,
        sweep_seconds: float = 5.0,
        log_sweep_seconds: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        suggestions: Suggestions | None = None,
    ) -> None:
        """`guild_ids`: the servers rollbot serves (DISCORD_GUILD_IDS, at least one); it
        refuses every interaction from elsewhere and leaves other servers.

        `guild_settings` (per-guild log channel and roles) replaces `log_channel_id`; with
        `history` as well, `/rollback-log` and `/rollbot-config` are added. `sessions` hold the
        log outbox, delivered every `log_sweep_seconds`."""
        # Before super().__init__: it calls `_get_state`, which installs the gate.
        self.gate = InteractionGate(guild_ids)
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
        # Each wiki's links and name; one plain WikiLinks is the `default` wiki alone.
        sites = links if isinstance(links, WikiSites) else WikiSites.single(links)
        self.sites = sites.limited_by(service.wikis_for)
        self.links = self.sites.links(DEFAULT_WIKI)
        self.guild_ids = sorted(self.gate.served_guild_ids)
        self.guild_settings = guild_settings
        self.history = history
        self.export_max_bytes = export_max_bytes
        channels: LogChannels = (
            guild_settings if guild_settings is not None else FixedLogChannel(log_channel_id)
        )
        self.log_poster = LogPoster(
            self, sessions=sessions, sites=self.sites, channels=channels, clock=clock
        )
        self.suggestions = suggestions  # /rollback page and user autocomplete
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
            sites=self.sites,
            log_poster=self.log_poster,
            sweep_seconds=self._sweep_seconds,
            suggestions=self.suggestions,
        )
        await self.add_cog(cog)
        self.prompt_handler = cog
        self.add_dynamic_items(PromptButton)
        # "Roll back this edit" on a message: the same workflow, started from a diff link.
        await self.add_cog(EditMenuCog(self, rollback=cog, edits=EditRequests(self.service)))
        self.add_dynamic_items(EditChoice)
        if self.guild_settings is not None and self.history is not None:
            await self.add_cog(
                HistoryCog(
                    self,
                    history=self.history,
                    settings=self.guild_settings,
                    sites=self.sites,
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
            if request.status is RollbackStatus.EXPIRED:
                await self.prompt_handler.grey_out(request)  # expired while the bot was down
            await self.log_poster.post(request)

    def _get_state(self, **options: Any) -> ConnectionState[Self]:
        # discord.py's one entry point for every interaction; see bot/interaction_gate.py.
        return GatedConnectionState(
            gate=self.gate,
            dispatch=self.dispatch,
            handlers=self._handlers,
            hooks=self._hooks,
            http=self.http,
            **options,
        )

    async def sync_commands(self) -> None:
        """Sync the commands to the served guilds only, then remove any global commands.

        Global commands would show in every server the bot is in; an earlier version synced
        them when DISCORD_GUILD_IDS was empty. The guild copies are taken before the global
        list is cleared (they hold the same command objects, so dispatch still finds them).
        """
        for guild_id in self.guild_ids:
            self.tree.copy_global_to(guild=discord.Object(id=guild_id))
        self.tree.clear_commands(guild=None)
        for guild_id in self.guild_ids:
            try:
                synced = await self.tree.sync(guild=discord.Object(id=guild_id))
            except discord.Forbidden:
                log.warning(
                    "cannot sync commands to server %s: is the bot in it (DISCORD_GUILD_IDS)?",
                    guild_id,
                )
            else:
                log.info("synced %d commands to server %s", len(synced), guild_id)
        await self.tree.sync()  # an empty global list: stale global commands disappear
        log.info("cleared the global commands")

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._leave_unless_served(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # GUILD_CREATE of each server the bot is in, at READY (and after an outage).
        await self._leave_unless_served(guild)

    async def _leave_unless_served(self, guild: discord.Guild) -> None:
        if guild.id in self.gate.served_guild_ids:
            return
        log.warning(
            "leaving server %s (%r): it is not in DISCORD_GUILD_IDS; untick 'Public Bot' in "
            "the developer portal so that nobody else can invite the bot",
            guild.id,
            guild.name,
        )
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.warning("could not leave server %s: %s", guild.id, exc)
