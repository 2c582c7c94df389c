"""`/rollback` and its Confirm / Cancel buttons: validate → defer → service → render."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.db.models import RollbackRequest, RollbackStatus
from bot.interaction_gate import storable
from bot.services.outcomes import (
    Actor,
    Cancelled,
    Claimed,
    ClickRefusal,
    Denied,
    Expired,
    Missing,
    NotYours,
    Ready,
    RequestOutcome,
    Stale,
    Succeeded,
    WrongGuild,
)
from bot.services.rollback import RollbackService
from bot.services.suggest import Suggestion, Suggestions
from bot.ui.confirm import prompt_view
from bot.ui.embeds import (
    WikiLinks,
    denied_text,
    notice_embed,
    preview_embed,
    refused_embed,
    success_embed,
)
from bot.ui.replies import NO_MENTIONS
from bot.ui.sites import WikiSites, wiki_choices

if TYPE_CHECKING:
    from bot.discord_bot import RollBot
    from bot.exts.audit_log import LogPoster

log = logging.getLogger(__name__)


Interaction = discord.Interaction["RollBot"]

EXPIRED_TEXT = "This request expired. Run /rollback again."
UNKNOWN_TEXT = "This request is no longer known to the bot. Run /rollback again."
NO_WIKI_TEXT = "The bot's operator has not given this server any wiki to act on."
_NOT_PENDING_TEXT: dict[RollbackStatus, str] = {
    RollbackStatus.RUNNING: "This rollback is already in progress.",
    RollbackStatus.SUCCEEDED: "This rollback was already carried out.",
    RollbackStatus.FAILED: "This request has already ended (it failed). Run /rollback again.",
    RollbackStatus.CANCELLED: "This request was cancelled. Run /rollback again.",
    RollbackStatus.EXPIRED: EXPIRED_TEXT,
    RollbackStatus.DENIED: "This request was refused.",
}


def actor_of(interaction: discord.Interaction[RollBot]) -> Actor:
    user = interaction.user
    role_ids: set[int] = set()
    if isinstance(user, discord.Member):
        role_ids.update(role.id for role in user.roles)
        # Member.roles drops roles of a guild missing from the cache; the payload's ids don't.
        role_ids.update(getattr(user, "_roles", ()))
    return Actor(
        user_id=user.id,
        display_name=storable(user.display_name),
        role_ids=frozenset(role_ids),
        guild_id=interaction.guild_id or 0,
        channel_id=interaction.channel_id,
    )


class RollbackCog(commands.Cog):
    """The moderator-facing flow. All decisions are the service's; this only talks to Discord."""

    def __init__(
        self,
        bot: RollBot,
        *,
        service: RollbackService,
        sites: WikiSites,
        log_poster: LogPoster,
        sweep_seconds: float = 5.0,
        suggestions: Suggestions | None = None,
    ) -> None:
        self.bot = bot
        self.service = service
        # `page` / `user` autocomplete (None: those options offer nothing).
        self.suggestions = suggestions
        self.sites = sites
        self.log_poster = log_poster
        self._sweep_seconds = sweep_seconds
        # The /rollback interaction of each open prompt, to edit the prompt when it expires.
        # (An interaction token can edit its ephemeral response for 15 minutes.)
        self._prompts: dict[int, Interaction] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="rollbot-expiry")

    async def cog_unload(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    # ---- /rollback -----------------------------------------------------------------------

    @app_commands.command(name="rollback", description="Revert a user's latest edits to a page.")
    @app_commands.guild_only()
    @app_commands.describe(
        page="Title of the wiki page",
        user="User name or IP address whose consecutive latest edits to revert",
        summary="Edit summary (optional; your name is added to it)",
        markbot="Mark the rollback and the reverted edits as bot edits",
        wiki="Which wiki (default: this server's default wiki)",
    )
    async def rollback(  # noqa: PLR0917 - discord.py passes options by name
        self,
        interaction: Interaction,
        page: app_commands.Range[str, 1, 255],
        user: app_commands.Range[str, 1, 255],
        summary: app_commands.Range[str, 1, 1000] | None = None,
        markbot: bool = False,
        wiki: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        actor = actor_of(interaction)
        key = await self.service.resolve_wiki(actor.guild_id, wiki)
        if key is None:
            await interaction.response.send_message(
                NO_WIKI_TEXT, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        if not await self.service.is_authorized(actor):
            denied = await self.service.deny(
                actor, page=page, user=user, summary=summary, markbot=markbot, wiki=key
            )
            await interaction.response.send_message(
                denied_text(denied.required_role_ids),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            await self.log_poster.post(denied.request)
            return

        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.service.request(
            actor, page=page, user=user, summary=summary, markbot=markbot, wiki=key
        )
        await self.present(interaction, outcome)

    async def present(self, interaction: Interaction, outcome: RequestOutcome) -> None:
        """Show a request's outcome in the (deferred) response: the prompt with Confirm / Cancel,
        or why not; post what ended to the log. Shared with "Roll back this edit"."""
        if isinstance(outcome, Ready):
            request_id = _id(outcome.request)
            message = await interaction.edit_original_response(
                content=None,
                embed=preview_embed(
                    outcome.request,
                    outcome.preview,
                    self._links(outcome.request),
                    wiki=self._wiki_label(outcome.request),
                ),
                view=prompt_view(request_id),
                allowed_mentions=NO_MENTIONS,
            )
            self._prompts[request_id] = interaction
            await self.service.record_prompt_message(
                request_id, message.id, token=interaction.token
            )
            return
        if isinstance(outcome, Denied):  # the role vanished between check and request
            await interaction.edit_original_response(
                content=denied_text(outcome.required_role_ids),
                embed=None,
                view=None,
                allowed_mentions=NO_MENTIONS,
            )
        elif isinstance(outcome, Succeeded):  # decided by another process meanwhile
            await interaction.edit_original_response(
                content=None,
                embed=success_embed(
                    outcome.request,
                    outcome.result,
                    self._links(outcome.request),
                    wiki=self._wiki_label(outcome.request),
                ),
                view=None,
                allowed_mentions=NO_MENTIONS,
            )
        else:
            await interaction.edit_original_response(
                content=None,
                embed=self._refused(outcome.request),
                view=None,
                allowed_mentions=NO_MENTIONS,
            )
        await self.log_poster.post(outcome.request)

    @rollback.autocomplete("wiki")
    async def _wiki_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The wikis this server may use, by key and site name (a hint: `request` checks)."""
        return wiki_choices(self.sites, interaction.guild_id or 0, current)

    @rollback.autocomplete("page")
    async def _page_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles starting with what was typed, recently changed ones first (hints only)."""
        if self.suggestions is None:
            return []
        found = await self.suggestions.pages(
            actor_of(interaction), wiki=_typed(interaction, "wiki"), typed=current
        )
        return _as_choices(found)

    @rollback.autocomplete("user")
    async def _user_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The page's latest editors with their run of edits, else recent editors (hints)."""
        if self.suggestions is None:
            return []
        found = await self.suggestions.users(
            actor_of(interaction),
            wiki=_typed(interaction, "wiki"),
            page=_typed(interaction, "page"),
            typed=current,
        )
        return _as_choices(found)

    def _links(self, request: RollbackRequest) -> WikiLinks:
        return self.sites.links(request.wiki)

    def _wiki_label(self, request: RollbackRequest) -> str | None:
        return self.sites.label_for(request.guild_id, request.wiki)

    def _refused(self, request: RollbackRequest) -> discord.Embed:
        return refused_embed(request, self._links(request), wiki=self._wiki_label(request))

    # ---- buttons -----------------------------------------------------------------------------

    async def on_confirm(self, interaction: Interaction, request_id: int) -> None:
        claim = await self.service.claim(request_id, actor_of(interaction))
        if not isinstance(claim, Claimed):
            await self._refuse_click(interaction, claim)
            return
        # Acknowledge within Discord's 3 s and take the buttons away while the wiki works.
        try:
            await interaction.response.edit_message(
                embed=notice_embed(
                    "Rolling back…", status=RollbackStatus.RUNNING, request_id=request_id
                ),
                view=None,
            )
        except discord.HTTPException as exc:
            # The row is already `running`: carry the rollback through regardless, or it would
            # sit there until a restart while every click answers "already in progress".
            log.warning("could not acknowledge confirm of request %s: %s", request_id, exc)
        outcome = await self.service.execute(claim)
        if isinstance(outcome, Succeeded):
            await self._finish(
                interaction,
                outcome.request,
                success_embed(
                    outcome.request,
                    outcome.result,
                    self._links(outcome.request),
                    wiki=self._wiki_label(outcome.request),
                ),
            )
        elif isinstance(outcome, Stale):
            await interaction.edit_original_response(
                embed=preview_embed(
                    outcome.request,
                    outcome.preview,
                    self._links(outcome.request),
                    stale=True,
                    wiki=self._wiki_label(outcome.request),
                ),
                view=prompt_view(request_id),
                allowed_mentions=NO_MENTIONS,
            )
        else:
            await self._finish(interaction, outcome.request, self._refused(outcome.request))

    async def on_cancel(self, interaction: Interaction, request_id: int) -> None:
        outcome = await self.service.cancel(request_id, actor_of(interaction))
        if not isinstance(outcome, Cancelled):
            await self._refuse_click(interaction, outcome)
            return
        await interaction.response.edit_message(
            embed=notice_embed(
                "Cancelled. Nothing was changed.",
                status=RollbackStatus.CANCELLED,
                request_id=request_id,
            ),
            view=None,
        )
        self._prompts.pop(request_id, None)
        await self.log_poster.post(outcome.request)

    async def _refuse_click(self, interaction: Interaction, refusal: ClickRefusal) -> None:
        if isinstance(refusal, WrongGuild):
            await interaction.response.send_message(
                "This request was made in another server; its buttons work only there.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        elif isinstance(refusal, NotYours):
            await interaction.response.send_message(
                f"These buttons belong to <@{refusal.request.requester_id}>'s request; "
                "run /rollback yourself if you need one.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        elif isinstance(refusal, Missing):
            await interaction.response.send_message(
                UNKNOWN_TEXT, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
        elif isinstance(refusal, Expired):
            await interaction.response.edit_message(
                embed=notice_embed(
                    EXPIRED_TEXT, status=RollbackStatus.EXPIRED, request_id=refusal.request.id
                ),
                view=None,
            )
            self._prompts.pop(_id(refusal.request), None)
            await self.log_poster.post(refusal.request)
        elif isinstance(refusal, Denied):
            await interaction.response.edit_message(
                content=denied_text(refusal.required_role_ids),
                embed=None,
                view=None,
                allowed_mentions=NO_MENTIONS,
            )
            self._prompts.pop(_id(refusal.request), None)
            await self.log_poster.post(refusal.request)
        else:  # NotPending
            status = RollbackStatus(refusal.request.status)
            await interaction.response.send_message(
                _NOT_PENDING_TEXT.get(status, "This request has already ended."),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )

    async def _finish(
        self, interaction: Interaction, request: RollbackRequest, embed: discord.Embed
    ) -> None:
        self._prompts.pop(_id(request), None)
        try:
            await interaction.edit_original_response(
                embed=embed, view=None, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            # The outcome is recorded and goes to the log; only the requester's view is stale.
            log.warning("could not show the outcome of request %s: %s", request.id, exc)
        await self.log_poster.post(request)

    # ---- expiry --------------------------------------------------------------------------------

    async def sweep(self) -> list[RollbackRequest]:
        """Expire timed-out prompts: end the row, grey out the prompt, post to the log."""
        expired = await self.service.expire_due()
        # Rows whose process died (lease lapsed), and failed rows whose answer was lost and
        # that the page history now shows applied.
        for request in await self.service.settle_abandoned():
            await self.log_poster.post(request)
        for request in await self.service.recheck_due():
            await self.log_poster.post(request)
        for request in expired:
            await self.grey_out(request)
            await self.log_poster.post(request)
        return expired

    async def grey_out(self, request: RollbackRequest) -> None:
        """Take the buttons off an expired prompt: through the /rollback interaction if this
        process showed it, else (after a restart) through its stored token and message id."""
        request_id = _id(request)
        embed = notice_embed(EXPIRED_TEXT, status=RollbackStatus.EXPIRED, request_id=request_id)
        interaction = self._prompts.pop(request_id, None)
        try:
            if interaction is not None:
                await interaction.edit_original_response(embed=embed, view=None)
            elif request.prompt_token and request.prompt_message_id and self.bot.application_id:
                webhook = discord.Webhook.partial(
                    self.bot.application_id, request.prompt_token, client=self.bot
                )
                await webhook.edit_message(request.prompt_message_id, embed=embed, view=None)
        except discord.HTTPException as exc:
            # The token outlived its 15 minutes, or the message is gone: nothing to grey out.
            log.info("could not grey out the prompt of request %s: %s", request_id, exc)
        if request.prompt_token:
            await self.service.forget_prompt(request_id)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                await self.sweep()
            except Exception:
                log.exception("expiry sweep failed; retrying")


def _typed(interaction: Interaction, option: str) -> str | None:
    """What the member has put in another option so far (autocomplete sees it unvalidated)."""
    value = getattr(interaction.namespace, option, None)
    return value if isinstance(value, str) and value.strip() else None


def _as_choices(found: list[Suggestion]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=s.name, value=s.value) for s in found]


def _id(request: RollbackRequest) -> int:
    if request.id is None:
        raise ValueError("audit row was not flushed")
    return request.id
