"""Posts each terminal outcome to the log channel and records where it went."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.db.models import RollbackRequest
from bot.services.rollback import RollbackService
from bot.ui.embeds import WikiLinks, log_embed

if TYPE_CHECKING:
    from bot.discord_bot import RollBot

log = logging.getLogger(__name__)


class LogPoster:
    """A failed log post never fails the action: the row records the error instead."""

    def __init__(
        self,
        bot: RollBot,
        *,
        service: RollbackService,
        links: WikiLinks,
        channel_id: int | None,
    ) -> None:
        self._bot = bot
        self._service = service
        self._links = links
        self._channel_id = channel_id
        self._warned: set[tuple[int | None, str]] = set()

    async def post(self, request: RollbackRequest) -> None:
        if self._channel_id is None or request.id is None:
            return
        try:
            channel = await self._resolve(self._channel_id)
            message = await channel.send(
                embed=log_embed(request, self._links),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except (discord.HTTPException, TypeError) as exc:
            reason = _reason(exc)
            key = (self._channel_id, reason)
            if key not in self._warned:  # warn once per channel and cause, not per rollback
                self._warned.add(key)
                log.warning("cannot post to log channel %s: %s", self._channel_id, reason)
            await self._service.record_log_post(request.id, message_id=None, error=reason)
            return
        await self._service.record_log_post(request.id, message_id=message.id, error=None)

    async def _resolve(self, channel_id: int) -> discord.abc.Messageable:
        channel = self._bot.get_channel(channel_id)
        if channel is None:
            channel = await self._bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"channel {channel_id} is not a text channel")
        return channel


def _reason(exc: Exception) -> str:
    if isinstance(exc, discord.NotFound):
        return "log channel not found"
    if isinstance(exc, discord.Forbidden):
        return "no permission to post in the log channel"
    return str(exc)[:500] or type(exc).__name__
