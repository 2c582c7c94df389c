"""`/rollbot-config`: a server's admins set its log channel, rollback roles and log-viewer roles.

Interface (all answers ephemeral; Manage Server needed, by Discord's default permissions *and*
checked again here, since a server can re-grant a command to anyone in its integration settings):

- `/rollbot-config show`
- `/rollbot-config log-channel [channel]`   set the log channel; without a channel: no log posts
- `/rollbot-config rollback-roles add|remove role:<role>`
- `/rollbot-config viewer-roles add|remove role:<role>`
- `/rollbot-config wiki wiki:<key>`   the server's default wiki, among those the operator allows
- `/rollbot-config reset setting:<log-channel|rollback-roles|viewer-roles|wiki>`   back to `.env`

Each change is recorded (who, when, old → new) and posted to the log channel (to the old one
as well when the log channel itself moves).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts.audit_log import LogPoster
from bot.interaction_gate import storable
from bot.services.guild_settings import Editor, GuildSettingsService, Setting, SettingChange
from bot.ui.history import SETTING_LABELS, config_change_embed, config_embed
from bot.ui.replies import NO_MENTIONS, send_ephemeral
from bot.ui.sites import wiki_choices, wiki_refusal

if TYPE_CHECKING:
    from bot.discord_bot import RollBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction["RollBot"]

NOT_ADMIN_TEXT = "Sorry, changing rollbot's settings needs the Manage Server permission."
NOT_A_LOG_CHANNEL_TEXT = "Sorry, the log channel must be a text channel of this server."
LOG_CHANNEL_TYPES = (discord.ChannelType.text, discord.ChannelType.news)
SETTING_CHOICES = [app_commands.Choice(name=s.value, value=s.value) for s in Setting]


def is_admin(interaction: Interaction) -> bool:
    """Manage Server (or Administrator, which implies it), as Discord computed it for this user."""
    permissions = interaction.permissions
    return interaction.guild_id is not None and (
        permissions.manage_guild or permissions.administrator
    )


def _editor(interaction: Interaction) -> Editor:
    return Editor(user_id=interaction.user.id, display_name=storable(interaction.user.display_name))


class ResolvedChannel(app_commands.Transformer["RollBot"]):
    """A channel option taken from the interaction's resolved data, not from the bot's cache.

    (`discord.TextChannel` would need the channel cached, and a channel created while the bot
    was disconnected, or in a guild not fully cached, is not.) Discord offers text channels only.
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return list(LOG_CHANNEL_TYPES)

    async def transform(
        self, interaction: Interaction, value: Any, /
    ) -> app_commands.AppCommandChannel:
        if not isinstance(value, app_commands.AppCommandChannel):  # no resolved data: an Object
            raise app_commands.TransformerError(value, self.type, self)
        return value


LogChannelOption = app_commands.Transform[app_commands.AppCommandChannel, ResolvedChannel]


def _is_log_channel(interaction: Interaction, channel: app_commands.AppCommandChannel) -> bool:
    """A text channel of this server, judged from the resolved data Discord sent.

    discord.py stamps the interaction's guild on every resolved channel, so the guild is read
    from the raw data when Discord gives one.
    """
    data: Mapping[str, Any] = interaction.data or {}
    raw = data.get("resolved", {}).get("channels", {}).get(str(channel.id), {})
    guild_id = int(raw.get("guild_id") or channel.guild_id)
    return channel.type in LOG_CHANNEL_TYPES and guild_id == interaction.guild_id


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class GuildConfigCog(
    commands.GroupCog,
    group_name="rollbot-config",
    group_description="rollbot's settings for this server (Manage Server)",
):
    rollback_roles = app_commands.Group(
        name="rollback-roles", description="Roles whose members may use /rollback"
    )
    viewer_roles = app_commands.Group(
        name="viewer-roles",
        description="Roles that may read /rollback-log (besides rollback roles)",
    )

    def __init__(
        self, bot: RollBot, *, settings: GuildSettingsService, log_poster: LogPoster
    ) -> None:
        self.bot = bot
        self.settings = settings
        self.log_poster = log_poster
        super().__init__()

    async def _refuse_unless_admin(self, interaction: Interaction) -> bool:
        if is_admin(interaction):
            return True
        await send_ephemeral(interaction, NOT_ADMIN_TEXT)
        return False

    # ---- commands ------------------------------------------------------------------------------

    @app_commands.command(name="show", description="Show this server's rollbot settings")
    async def show(self, interaction: Interaction) -> None:
        if not await self._refuse_unless_admin(interaction):
            return
        guild_id = interaction.guild_id or 0
        settings = await self.settings.settings(guild_id)
        changes = await self.settings.recent_changes(guild_id, limit=5)
        await interaction.response.send_message(
            embed=config_embed(settings, changes), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(
        name="log-channel", description="Where outcomes are posted; leave empty for nowhere"
    )
    @app_commands.describe(channel="The log channel (empty: stop posting this server's log)")
    async def log_channel(
        self, interaction: Interaction, channel: LogChannelOption | None = None
    ) -> None:
        if not await self._refuse_unless_admin(interaction):
            return
        if channel is not None and not _is_log_channel(interaction, channel):
            await send_ephemeral(interaction, NOT_A_LOG_CHANNEL_TEXT)
            return
        change = await self.settings.set_log_channel(
            interaction.guild_id or 0, channel.id if channel else None, by=_editor(interaction)
        )
        await self._report(interaction, change)

    @app_commands.command(name="wiki", description="This server's default wiki")
    @app_commands.describe(wiki="One of the wikis the bot's operator lets this server use")
    async def wiki(self, interaction: Interaction, wiki: app_commands.Range[str, 1, 32]) -> None:
        if not await self._refuse_unless_admin(interaction):
            return
        guild_id = interaction.guild_id or 0
        key = wiki.strip().lower()
        if key not in self.settings.wikis_for(guild_id):
            # Whatever the client sent: which wikis a server may use is the operator's call.
            await send_ephemeral(interaction, wiki_refusal(wiki))
            return
        change = await self.settings.set_default_wiki(guild_id, key, by=_editor(interaction))
        await self._report(interaction, change)

    @wiki.autocomplete("wiki")
    async def _wiki_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return wiki_choices(self.bot.sites, interaction.guild_id or 0, current)

    @app_commands.command(name="reset", description="Return a setting to the bot's default")
    @app_commands.describe(setting="The setting to return to the .env default")
    @app_commands.choices(setting=SETTING_CHOICES)
    async def reset(self, interaction: Interaction, setting: app_commands.Choice[str]) -> None:
        if not await self._refuse_unless_admin(interaction):
            return
        change = await self.settings.reset(
            interaction.guild_id or 0, Setting(setting.value), by=_editor(interaction)
        )
        await self._report(interaction, change)

    @rollback_roles.command(name="add", description="Let members with this role use /rollback")
    async def rollback_roles_add(self, interaction: Interaction, role: discord.Role) -> None:
        await self._edit_role(interaction, Setting.ROLLBACK_ROLES, role, add=True)

    @rollback_roles.command(name="remove", description="Stop this role from using /rollback")
    async def rollback_roles_remove(self, interaction: Interaction, role: discord.Role) -> None:
        await self._edit_role(interaction, Setting.ROLLBACK_ROLES, role, add=False)

    @viewer_roles.command(name="add", description="Let members with this role read the log")
    async def viewer_roles_add(self, interaction: Interaction, role: discord.Role) -> None:
        await self._edit_role(interaction, Setting.VIEWER_ROLES, role, add=True)

    @viewer_roles.command(name="remove", description="Stop this role from reading the log")
    async def viewer_roles_remove(self, interaction: Interaction, role: discord.Role) -> None:
        await self._edit_role(interaction, Setting.VIEWER_ROLES, role, add=False)

    # ---- internals -------------------------------------------------------------------------------

    async def _edit_role(
        self, interaction: Interaction, setting: Setting, role: discord.Role, *, add: bool
    ) -> None:
        if not await self._refuse_unless_admin(interaction):
            return
        guild_id = interaction.guild_id or 0
        edit = self.settings.add_role if add else self.settings.remove_role
        change = await edit(guild_id, setting, role.id, by=_editor(interaction))
        await self._report(interaction, change)

    async def _report(self, interaction: Interaction, change: SettingChange) -> None:
        label = SETTING_LABELS[change.setting]
        if not change.changed:
            text = f"{label} unchanged: {change.new_text}."
        else:
            text = f"{label}: {change.old_text} → {change.new_text}."
            if change.setting is Setting.ROLLBACK_ROLES and not change.after.rollback_role_ids:
                text += "\nNobody may use /rollback on this server now."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        if change.changed:
            await self._post_change(interaction.guild_id or 0, change)

    async def _post_change(self, guild_id: int, change: SettingChange) -> None:
        embed = config_change_embed(change)
        channels = {change.after.log_channel_id, change.before.log_channel_id}
        for channel_id in sorted(c for c in channels if c is not None):
            # The poster records nothing for settings; it logs a failure once per cause.
            await self.log_poster.send(guild_id, channel_id, embed)
