"""`/rollback-log search | show | export | stats`: the review team's view of the audit table.

Thin: check the member may read the log → parse the options → (defer) → service → render.
Every answer is ephemeral. Readers are members with a rollback role or a log-viewer role of
their guild (per-guild settings, else `.env`); each guild sees only its own requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.db.history import EXPORT_COLUMNS, SearchFilters, SearchPage
from bot.db.models import RollbackStatus
from bot.exts.rollback import actor_of
from bot.services.guild_settings import GuildSettingsService
from bot.services.history import FilterError, HistoryService, build_filters, parse_when
from bot.ui.csv_export import CsvExport
from bot.ui.embeds import WikiLinks
from bot.ui.history import SearchPager, describe_filters, request_embed, search_embed, stats_embed
from bot.ui.replies import NO_MENTIONS, send_ephemeral

if TYPE_CHECKING:
    from bot.discord_bot import RollBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction["RollBot"]

DEFAULT_EXPORT_MAX_BYTES = 8 * 1024 * 1024
NOT_ALLOWED_TEXT = (
    "Sorry, reading the rollback log needs a rollback role or a log-viewer role on this server."
)
STATUS_CHOICES = [
    app_commands.Choice(name=status.value, value=status.value) for status in RollbackStatus
]
_WHEN_HINT = "2026-11-01, 2026-11-01T14:30 (UTC), or a time ago: 30m, 24h, 7d, 2w"
# search and export take the same filter options.
_FILTER_DESCRIPTIONS = {
    "user": "Wiki user whose edits were to be reverted (name or IP)",
    "page": "Wiki page title",
    "moderator": "Discord member who asked for the rollback",
    "status": "Outcome",
    "since": f"From: {_WHEN_HINT}",
    "until": f"Until: {_WHEN_HINT}",
}


@dataclass
class _SearchState:
    filters: SearchFilters
    page: SearchPage
    page_number: int = 1


@app_commands.guild_only()
class HistoryCog(
    commands.GroupCog, group_name="rollback-log", group_description="Review rollback requests"
):
    def __init__(
        self,
        bot: RollBot,
        *,
        history: HistoryService,
        settings: GuildSettingsService,
        links: WikiLinks,
        export_max_bytes: int = DEFAULT_EXPORT_MAX_BYTES,
    ) -> None:
        self.bot = bot
        self.history = history
        self.settings = settings
        self.links = links
        self.export_max_bytes = export_max_bytes
        super().__init__()

    # ---- checks ------------------------------------------------------------------------------

    async def may_view(self, interaction: Interaction) -> bool:
        """Whether the member may read this guild's log (checked at every command and click)."""
        if interaction.guild_id is None:
            return False
        return await self.settings.may_view_log(
            interaction.guild_id, actor_of(interaction).role_ids
        )

    async def _refuse_unless_allowed(self, interaction: Interaction) -> bool:
        if interaction.guild_id is None:
            await send_ephemeral(interaction, "This command works only in a server.")
            return False
        if not await self.may_view(interaction):
            await send_ephemeral(interaction, NOT_ALLOWED_TEXT)
            return False
        return True

    async def _checked_filters(
        self,
        interaction: Interaction,
        *,
        user: str | None,
        page: str | None,
        moderator: discord.User | None,
        status: app_commands.Choice[str] | None,
        since: str | None,
        until: str | None,
    ) -> SearchFilters | None:
        """The filters, or None once the member has been told why not (not allowed, bad input)."""
        if not await self._refuse_unless_allowed(interaction):
            return None
        try:
            return build_filters(
                guild_id=interaction.guild_id or 0,
                now=self.history.now(),
                user=user,
                page=page,
                moderator_id=moderator.id if moderator is not None else None,
                status=status.value if status is not None else None,
                since=since,
                until=until,
            )
        except FilterError as exc:
            await send_ephemeral(interaction, str(exc))
            return None

    # ---- /rollback-log search --------------------------------------------------------------------

    @app_commands.command(name="search", description="Find rollback requests, newest first")
    @app_commands.describe(**_FILTER_DESCRIPTIONS)
    @app_commands.choices(status=STATUS_CHOICES)
    async def search(  # noqa: PLR0917 (each parameter is a slash-command option)
        self,
        interaction: Interaction,
        user: app_commands.Range[str, 1, 255] | None = None,
        page: app_commands.Range[str, 1, 255] | None = None,
        moderator: discord.User | None = None,
        status: app_commands.Choice[str] | None = None,
        since: app_commands.Range[str, 1, 40] | None = None,
        until: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        filters = await self._checked_filters(
            interaction,
            user=user,
            page=page,
            moderator=moderator,
            status=status,
            since=since,
            until=until,
        )
        if filters is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.history.search(filters)
        state = _SearchState(filters=filters, page=result.page)

        async def load(click: discord.Interaction[RollBot], direction: str) -> None:
            await self._turn_page(click, view, state, direction)

        view = SearchPager(
            searcher_id=interaction.user.id,
            load=load,
            guard=self._click_guard,
            has_newer=result.page.has_newer,
            has_older=result.page.has_older,
        )
        view.message = await interaction.edit_original_response(
            embed=search_embed(result.page, result.total, filters, self.links, page_number=1),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )

    async def _click_guard(self, click: Interaction) -> bool:
        if await self.may_view(click):
            return True
        await send_ephemeral(click, NOT_ALLOWED_TEXT)
        return False

    async def _turn_page(
        self, click: Interaction, view: SearchPager, state: _SearchState, direction: str
    ) -> None:
        if direction == "older" and state.page.last is not None:
            result = await self.history.search(state.filters, older_than=state.page.last)
            number = state.page_number + 1
        elif direction == "newer" and state.page.first is not None:
            result = await self.history.search(state.filters, newer_than=state.page.first)
            number = max(1, state.page_number - 1) if result.page.has_newer else 1
        else:  # an empty page has no cursor: start again from the newest
            result = await self.history.search(state.filters)
            number = 1
        if result.page.rows or number == 1:
            state.page, state.page_number = result.page, number
        view.set_buttons(has_newer=result.page.has_newer, has_older=result.page.has_older)
        await click.response.edit_message(
            embed=search_embed(
                state.page, result.total, state.filters, self.links, page_number=state.page_number
            ),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )

    # ---- /rollback-log show ------------------------------------------------------------------

    @app_commands.command(name="show", description="Everything recorded about one request")
    @app_commands.describe(id="The request number (shown as #123)")
    async def show(
        self,
        interaction: Interaction,
        id: app_commands.Range[int, 1, 2**63 - 1],
    ) -> None:
        if not await self._refuse_unless_allowed(interaction):
            return
        guild_id = interaction.guild_id or 0
        row = await self.history.get(guild_id, id)
        if row is None:
            await send_ephemeral(interaction, f"There is no request #{id} on this server.")
            return
        current_log_channel = None
        if row.log_message_id and row.log_channel_id is None:
            current_log_channel = await self.settings.log_channel_id(guild_id)
        await interaction.response.send_message(
            embed=request_embed(row, self.links, current_log_channel_id=current_log_channel),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    # ---- /rollback-log export ----------------------------------------------------------------

    @app_commands.command(name="export", description="Download matching requests as a CSV file")
    @app_commands.describe(**_FILTER_DESCRIPTIONS)
    @app_commands.choices(status=STATUS_CHOICES)
    async def export(  # noqa: PLR0917 (each parameter is a slash-command option)
        self,
        interaction: Interaction,
        user: app_commands.Range[str, 1, 255] | None = None,
        page: app_commands.Range[str, 1, 255] | None = None,
        moderator: discord.User | None = None,
        status: app_commands.Choice[str] | None = None,
        since: app_commands.Range[str, 1, 40] | None = None,
        until: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        filters = await self._checked_filters(
            interaction,
            user=user,
            page=page,
            moderator=moderator,
            status=status,
            since=since,
            until=until,
        )
        if filters is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        # The interaction says how big an attachment this guild accepts; stay under both.
        max_bytes = min(self.export_max_bytes, interaction.filesize_limit) - 16 * 1024
        stamp = self.history.now().strftime("%Y%m%d-%H%M%S")
        basename = f"rollback-log-{filters.guild_id}-{stamp}"
        with CsvExport(EXPORT_COLUMNS, max_bytes=max_bytes, basename=basename) as csv_file:
            summary = await self.history.export(filters, csv_file)
            if summary.rows_written == 0 and summary.rows_left_out == 0:
                await interaction.followup.send(
                    f"No request matches ({describe_filters(filters)}).",
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
                return
            exported = csv_file.finish()
            lines = [
                f"**{summary.rows_written:,}** requests, newest first "
                f"({describe_filters(filters)})."
            ]
            if exported.compressed:
                lines.append("Compressed with gzip to fit Discord's attachment size.")
            if summary.rows_left_out:
                lines.append(
                    f"**{summary.rows_left_out:,} older requests were left out**: the file "
                    f"would pass {max_bytes / 2**20:.1f} MiB. Narrow the search "
                    "(e.g. `since`/`until`) to get them."
                )
            await interaction.followup.send(
                "\n".join(lines),
                file=discord.File(exported.path, filename=exported.filename),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )

    # ---- /rollback-log stats -----------------------------------------------------------------

    @app_commands.command(name="stats", description="Counts by outcome, moderator, user and page")
    @app_commands.describe(since=f"From: {_WHEN_HINT} (default: all time)")
    async def stats(
        self, interaction: Interaction, since: app_commands.Range[str, 1, 40] | None = None
    ) -> None:
        if not await self._refuse_unless_allowed(interaction):
            return
        start: datetime | None = None
        if since:
            bound: Literal["since"] = "since"
            try:
                start = parse_when(since, now=self.history.now(), bound=bound)
            except FilterError as exc:
                await send_ephemeral(interaction, str(exc))
                return
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await self.history.stats(interaction.guild_id or 0, since=start)
        await interaction.edit_original_response(
            embed=stats_embed(stats, self.links, since=start), allowed_mentions=NO_MENTIONS
        )
