"""`/rollback-log search | show | export | stats`: the review team's view of the audit table.

Thin: check the member may read the log → parse the options → (defer) → service → render.
Every answer is ephemeral. Readers are members with a rollback role or a log-viewer role of
their guild (per-guild settings, else `.env`); each guild sees only its own requests.

A search is saved in the database with its total (`bot.db.log_search`); its Prev / Next
buttons (`SearchPageButton`) carry the search id and a cursor, so they work after a restart
and turning a page never counts again.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.db.history import EXPORT_COLUMNS, PAGE_SIZE, Cursor, SearchFilters, SearchPage
from bot.db.log_search import KEEP_SEARCHES, MAX_ID, SavedSearch
from bot.db.models import RollbackStatus
from bot.exts.rollback import actor_of
from bot.services.guild_settings import GuildSettingsService
from bot.services.history import FilterError, HistoryService, build_filters, parse_when
from bot.settings import DEFAULT_WIKI
from bot.ui.csv_export import CsvExport
from bot.ui.history import (
    PAGE_CUSTOM_ID,
    PageClick,
    describe_filters,
    pager_buttons,
    request_embed,
    search_embed,
    stats_embed,
)
from bot.ui.replies import INTERNAL_ERROR, NO_MENTIONS, send_ephemeral
from bot.ui.sites import WikiSites, wiki_choices, wiki_refusal

if TYPE_CHECKING:
    from bot.discord_bot import RollBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction["RollBot"]

DEFAULT_EXPORT_MAX_BYTES = 8 * 1024 * 1024
NOT_ALLOWED_TEXT = (
    "Sorry, reading the rollback log needs a rollback role or a log-viewer role on this server."
)
NOT_YOURS_TEXT = "These buttons belong to someone else's search; run /rollback-log search."
OTHER_GUILD_TEXT = "These buttons belong to a search on another server; run /rollback-log search."
SEARCH_GONE_TEXT = (
    f"This search is no longer kept (searches are kept {KEEP_SEARCHES.days} days); "
    "run /rollback-log search again."
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
    "wiki": "Which wiki (default: this server's default wiki)",
}
_WIKI_HINT = _FILTER_DESCRIPTIONS["wiki"]


class SearchPages:
    """Who may read a guild's log, and the pages of a saved search: what `/rollback-log` and
    the Prev / Next buttons share.

    Built from services only: a click after a restart is answered from the saved search and the
    button's custom_id, with nothing kept in memory since the search.
    """

    def __init__(
        self, *, history: HistoryService, settings: GuildSettingsService, sites: WikiSites
    ) -> None:
        self.history = history
        self.settings = settings
        self.sites = sites

    @classmethod
    def of(cls, bot: RollBot) -> SearchPages | None:
        """From the bot's own services (a button reaches no cog); None if it has no log."""
        if bot.history is None or bot.guild_settings is None:
            return None
        return cls(history=bot.history, settings=bot.guild_settings, sites=bot.sites)

    async def may_view(self, interaction: Interaction) -> bool:
        """Whether the member may read this guild's log (checked at every command and click)."""
        if interaction.guild_id is None:
            return False
        return await self.settings.may_view_log(
            interaction.guild_id, actor_of(interaction).role_ids
        )

    async def show_first(self, interaction: Interaction, filters: SearchFilters) -> None:
        """Save the search (counting its matches, once) and show page 1 (deferred reply)."""
        result = await self.history.search(filters, searcher_id=interaction.user.id)
        await interaction.edit_original_response(
            embed=search_embed(
                result.page, result.search.total, filters, self.sites, page_number=1
            ),
            view=pager_view(result.search.id, result.page, 1),
            allowed_mentions=NO_MENTIONS,
        )

    async def turn(self, click_interaction: Interaction, click: PageClick) -> None:
        """Answer a Prev / Next click with the page it asks for, or a refusal."""
        search = await self._checked_search(click_interaction, click)
        if search is None:
            return
        came_from: Cursor | None = None
        if click.direction == "older":
            page = await self.history.page(search, older_than=click.cursor)
            number, came_from = click.page_number, click.cursor
        else:
            page = await self.history.page(search, newer_than=click.cursor)
            number = click.page_number if page.has_newer else 1
            if not page.has_newer and len(page.rows) < PAGE_SIZE:
                # The top, but short (rows stopped matching): page 1 is the newest rows.
                page = await self.history.page(search)
        await click_interaction.response.edit_message(
            embed=search_embed(page, search.total, search.filters, self.sites, page_number=number),
            view=pager_view(search.id, page, number, came_from=came_from),
            allowed_mentions=NO_MENTIONS,
        )

    async def _checked_search(
        self, interaction: Interaction, click: PageClick
    ) -> SavedSearch | None:
        """The saved search if this member may page through it here; else None, once told why.

        Nothing in the custom_id is trusted: the search must be the clicker's, of this guild,
        and the clicker must still hold a reading role.
        """
        search = None
        if click.cursor.id <= MAX_ID:  # beyond: a forged custom_id
            search = await self.history.saved_search(click.search_id)
        if search is None:
            text = SEARCH_GONE_TEXT
        elif search.searcher_id != interaction.user.id:
            text = NOT_YOURS_TEXT
        elif search.guild_id != interaction.guild_id:
            text = OTHER_GUILD_TEXT
        elif not await self.may_view(interaction):
            text = NOT_ALLOWED_TEXT
        else:
            return search
        await send_ephemeral(interaction, text)
        return None


class SearchPageButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=PAGE_CUSTOM_ID
):
    """Prev or Next under a search result, routed by its custom_id (`PageClick`)."""

    def __init__(self, click: PageClick, *, enabled: bool = True) -> None:
        super().__init__(
            discord.ui.Button(
                label=click.label,
                style=discord.ButtonStyle.secondary,
                custom_id=click.custom_id,
                disabled=not enabled,
            )
        )
        self.click = click

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SearchPageButton:
        return cls(PageClick.from_match(match))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # DynamicItem callbacks are typed for any client; ours is always a RollBot.
        client: RollBot = interaction.client
        try:
            pages = SearchPages.of(client)
            if pages is None:
                await send_ephemeral(interaction, INTERNAL_ERROR)
                return
            await pages.turn(interaction, self.click)
        except Exception:
            log.exception("pager click %s failed", self.click.custom_id)
            await send_ephemeral(interaction, INTERNAL_ERROR)


def pager_view(
    search_id: int, page: SearchPage, page_number: int, *, came_from: Cursor | None = None
) -> discord.ui.View:
    """Prev / Next under a page. `timeout=None`: they work as long as the search is kept."""
    view = discord.ui.View(timeout=None)
    for button in pager_buttons(search_id, page, page_number, came_from=came_from):
        view.add_item(SearchPageButton(button.click, enabled=button.enabled))
    return view


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
        sites: WikiSites,
        export_max_bytes: int = DEFAULT_EXPORT_MAX_BYTES,
    ) -> None:
        self.bot = bot
        self.history = history
        self.settings = settings
        self.sites = sites
        self.export_max_bytes = export_max_bytes
        self.pages = SearchPages(history=history, settings=settings, sites=sites)
        super().__init__()

    async def cog_load(self) -> None:
        # The pager buttons come with the commands: clicks on old results route from the start.
        self.bot.add_dynamic_items(SearchPageButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SearchPageButton)

    # ---- checks ------------------------------------------------------------------------------

    async def may_view(self, interaction: Interaction) -> bool:
        return await self.pages.may_view(interaction)

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
        wiki: str | None = None,
    ) -> SearchFilters | None:
        """The filters, or None once the member has been told why not (not allowed, bad input)."""
        if not await self._refuse_unless_allowed(interaction):
            return None
        allowed, key = await self._chosen_wiki(interaction, wiki)
        if not allowed:
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
                wiki=key,
            )
        except FilterError as exc:
            await send_ephemeral(interaction, _echo_safe(exc))
            return None

    async def _chosen_wiki(
        self, interaction: Interaction, wiki: str | None
    ) -> tuple[bool, str | None]:
        """(allowed, key): the wiki a log command reads. The one asked for if this server may
        use it (whatever was sent; else the member is told, and allowed is False), without one
        the server's default wiki, as for /rollback (None: no filter, on a one-wiki server)."""
        guild_id = interaction.guild_id or 0
        wikis = self.sites.wikis_for(guild_id)
        if wiki is not None:
            key = wiki.strip().lower()
            if key in wikis:
                return True, key
            await send_ephemeral(interaction, wiki_refusal(wiki))
            return False, None
        if len(wikis) <= 1:
            return True, None  # one wiki: its rows are all of this server's (and say so less)
        default = await self.settings.default_wiki(guild_id)
        if default in wikis:
            return True, default
        return True, wikis[0] if wikis else None

    async def _wiki_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return wiki_choices(self.sites, interaction.guild_id or 0, current)

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
        wiki: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        filters = await self._checked_filters(
            interaction,
            user=user,
            page=page,
            moderator=moderator,
            status=status,
            since=since,
            until=until,
            wiki=wiki,
        )
        if filters is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.pages.show_first(interaction, filters)

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
            embed=request_embed(
                row,
                self.sites.links(row.wiki),
                current_log_channel_id=current_log_channel,
                wiki=self.sites.label_for(guild_id, row.wiki),
            ),
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
        wiki: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        filters = await self._checked_filters(
            interaction,
            user=user,
            page=page,
            moderator=moderator,
            status=status,
            since=since,
            until=until,
            wiki=wiki,
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
    @app_commands.describe(since=f"From: {_WHEN_HINT} (default: all time)", wiki=_WIKI_HINT)
    async def stats(
        self,
        interaction: Interaction,
        since: app_commands.Range[str, 1, 40] | None = None,
        wiki: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        if not await self._refuse_unless_allowed(interaction):
            return
        allowed, key = await self._chosen_wiki(interaction, wiki)
        if not allowed:
            return
        start: datetime | None = None
        if since:
            bound: Literal["since"] = "since"
            try:
                start = parse_when(since, now=self.history.now(), bound=bound)
            except FilterError as exc:
                await send_ephemeral(interaction, _echo_safe(exc))
                return
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await self.history.stats(interaction.guild_id or 0, since=start, wiki=key)
        guild_id = interaction.guild_id or 0
        # Unfiltered (a one-wiki server): that wiki, which may not be the `.env` default one.
        shown = key or next(iter(self.sites.wikis_for(guild_id)), DEFAULT_WIKI)
        embed = stats_embed(
            stats, self.sites.links(shown), since=start, wiki=self.sites.label_for(guild_id, shown)
        )
        await interaction.edit_original_response(embed=embed, allowed_mentions=NO_MENTIONS)

    search.autocomplete("wiki")(_wiki_choices)
    export.autocomplete("wiki")(_wiki_choices)
    stats.autocomplete("wiki")(_wiki_choices)


def _echo_safe(error: FilterError) -> str:
    """The message, which quotes what the member typed, with `@everyone`, `@here` and mentions
    in it defused (AllowedMentions.none() already stops the ping; this stops the look)."""
    return discord.utils.escape_mentions(str(error))
