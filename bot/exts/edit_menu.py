"""The message command "Roll back this edit": from a feed message's diff link to the prompt.

It reads the links in the message (content and embeds), finds the edits on the wikis this
server may use, and hands the newest to the same workflow as `/rollback` (same role check,
preview, Confirm / Cancel, expiry, audit row, log post). Links to several pages: a select menu
(persistent: its custom_id names the member it is for, so it works after a restart too).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.edit_requests import EditRefused, EditRequests, FoundEdit
from bot.settings import DEFAULT_WIKI
from bot.ui.edit_refusal import edit_refused_embed
from bot.ui.embeds import denied_text
from bot.ui.replies import INTERNAL_ERROR, NO_MENTIONS, send_ephemeral
from bot.ui.text import clip
from bot.wiki.difflinks import find_edit_links, message_texts
from bot.wiki.edits import Edit

if TYPE_CHECKING:
    from bot.discord_bot import RollBot
    from bot.exts.rollback import RollbackCog

log = logging.getLogger(__name__)

Interaction = discord.Interaction["RollBot"]

MENU_NAME = "Roll back this edit"
NO_LINK_TEXT = (
    "I found no link to an edit on {wikis} in this message. The command reads diff and "
    "permanent links (…?diff=…, Special:Diff/…)."
)
CHOOSE_TEXT = "This message links edits to {count} pages. Which one?"
SELECT_LIMIT = 25  # Discord's limit on a select menu's options


class EditMenuCog(commands.Cog):
    def __init__(self, bot: RollBot, *, rollback: RollbackCog, edits: EditRequests) -> None:
        self.bot = bot
        self.rollback = rollback
        self.edits = edits
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.on_menu)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def on_menu(self, interaction: Interaction, message: discord.Message) -> None:
        from bot.exts.rollback import actor_of  # noqa: PLC0415 - the cog module imports this one

        actor = actor_of(interaction)
        sites = self.rollback.sites.link_sites(actor.guild_id)
        links = find_edit_links(message_texts(message), sites)
        service = self.rollback.service
        if not await service.is_authorized(actor):
            first = links[0] if links else None
            denied = await service.deny(
                actor,
                page=(first.title if first and first.title else f"(message {message.id})"),
                user="",
                summary=None,
                markbot=False,
                wiki=first.wiki if first else (sites[0].key if sites else DEFAULT_WIKI),
            )
            await interaction.response.send_message(
                denied_text(denied.required_role_ids), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            await self.rollback.log_poster.post(denied.request)
            return
        if not links:
            known = [self.rollback.sites.site(site.key) for site in sites]
            names = ", ".join(site.name for site in known if site is not None)
            names = names or "this server's wikis"
            await send_ephemeral(interaction, NO_LINK_TEXT.format(wikis=names))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        found, first_linked = await self.edits.find(actor.guild_id, links)
        if len(found) > 1:
            await interaction.edit_original_response(
                content=CHOOSE_TEXT.format(count=len(found)),
                view=choice_view(interaction.user.id, found[:SELECT_LIMIT]),
                allowed_mentions=NO_MENTIONS,
            )
            return
        if found:
            await self.act(interaction, found[0].wiki, found[0].edit.revision.revid, found[0].edit)
            return
        target = first_linked  # none found: say what became of it (deleted, most likely)
        if target is None:
            await interaction.edit_original_response(
                content="I could not find the linked edit on the wiki.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self.act(interaction, *target)

    async def act(
        self, interaction: Interaction, wiki: str, revid: int, known: Edit | None = None
    ) -> None:
        """Check the edit and show the prompt or the refusal (the interaction is deferred)."""
        from bot.exts.rollback import actor_of  # noqa: PLC0415

        outcome = await self.edits.request(actor_of(interaction), wiki, revid, known)
        if isinstance(outcome, EditRefused):
            request = outcome.outcome.request
            await interaction.edit_original_response(
                content=None,
                embed=edit_refused_embed(
                    request,
                    outcome.check,
                    self.rollback.sites.links(request.wiki),
                    wiki=self.rollback.sites.label_for(request.guild_id, request.wiki),
                ),
                view=None,
                allowed_mentions=NO_MENTIONS,
            )
            await self.rollback.log_poster.post(request)
            return
        await self.rollback.present(interaction, outcome)


def choice_view(member_id: int, found: list[FoundEdit]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(EditChoice(member_id, found))
    return view


def _option(found: FoundEdit) -> discord.SelectOption:
    revision = found.edit.revision
    who = revision.user or "a hidden user"
    return discord.SelectOption(
        label=clip(found.edit.title, 100),
        value=f"{found.wiki}:{revision.revid}",
        description=clip(f"{who} · revision {revision.revid} · {found.wiki}", 100),
    )


class EditChoice(
    discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]],
    template=re.compile(r"rollbot:edit:(?P<member>[0-9]{1,20})"),
):
    """Which of a message's linked edits to roll back; only the member who asked may choose."""

    def __init__(self, member_id: int, found: list[FoundEdit] | None = None) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"rollbot:edit:{member_id}",
                placeholder="Choose the edit to roll back",
                options=[_option(f) for f in found or ()] or [discord.SelectOption(label="-")],
            )
        )
        self.member_id = member_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> EditChoice:
        return cls(int(match["member"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: RollBot = interaction.client
        if interaction.user.id != self.member_id:
            await send_ephemeral(interaction, "This choice belongs to someone else's request.")
            return
        values = self.item.values  # discord.py filled them from the interaction
        wiki, _, revid = (values[0] if values else "").partition(":")
        cog = client.get_cog(EditMenuCog.__cog_name__)
        if not revid.isdigit() or not isinstance(cog, EditMenuCog):
            await send_ephemeral(interaction, "That choice is no longer valid.")
            return
        try:
            await interaction.response.defer()  # edits the message with the menu
            await interaction.edit_original_response(
                content="Looking at the edit…", view=None, allowed_mentions=NO_MENTIONS
            )
            await cog.act(interaction, wiki, int(revid))
        except Exception:
            log.exception("choosing linked edit %s failed", revid)
            await send_ephemeral(interaction, INTERNAL_ERROR)
