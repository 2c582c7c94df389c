"""Posts each terminal outcome to its guild's log channel and records where it went."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import discord

from bot.db.models import RollbackRequest
from bot.services.rollback import RollbackService
from bot.ui.embeds import WikiLinks, log_embed

if TYPE_CHECKING:
    from bot.discord_bot import RollBot

log = logging.getLogger(__name__)


class LogChannels(Protocol):
    """Which channel a guild's log goes to (`GuildSettingsService`; None: nowhere)."""

    async def log_channel_id(self, guild_id: int) -> int | None: ...


@dataclass(frozen=True, slots=True)
class FixedLogChannel:
    """One channel for every guild (the `.env` LOG_CHANNEL_ID, without per-guild settings)."""

    channel_id: int | None

    async def log_channel_id(self, guild_id: int) -> int | None:
        return self.channel_id


class WrongGuildError(Exception):
    """The configured channel belongs to another server: posting there would leak the log."""


class LogPoster:
    """A failed log post never fails the action: the row records the error instead."""

    def __init__(
        self,
        bot: RollBot,
        *,
        service: RollbackService,
        links: WikiLinks,
        channels: LogChannels,
    ) -> None:
        self._bot = bot
        self._service = service
        self._links = links
        self._channels = channels
        self._warned: set[tuple[int | None, str]] = set()

    async def post(self, request: RollbackRequest) -> None:
        if request.id is None:
            return
        channel_id = await self._channels.log_channel_id(request.guild_id)
        if channel_id is None:
            return
        try:
            embed = log_embed(request, self._links)
        except Exception:  # a rendering bug must not lose the post: say less instead
            log.exception("could not render the log embed of request %s", request.id)
            embed = discord.Embed(description=f"Request #{request.id}: {request.status}")
        message_id, error = await self.send(request.guild_id, channel_id, embed)
        await self._service.record_log_post(request.id, message_id=message_id, error=error)

    async def send(
        self, guild_id: int, channel_id: int, embed: discord.Embed
    ) -> tuple[int | None, str | None]:
        """Post `embed` to `channel_id` of `guild_id`: (message id, None) or (None, reason)."""
        try:
            channel = await self._resolve(guild_id, channel_id)
            message = await channel.send(
                embed=embed, allowed_mentions=discord.AllowedMentions.none()
            )
        except (discord.HTTPException, TypeError, WrongGuildError) as exc:
            reason = _reason(exc)
            key = (channel_id, reason)
            if key not in self._warned:  # warn once per channel and cause, not per rollback
                self._warned.add(key)
                log.warning("cannot post to log channel %s: %s", channel_id, reason)
            return None, reason
        return message.id, None

    async def send_to_guild_log(self, guild_id: int, embed: discord.Embed) -> str | None:
        """Post to the guild's current log channel, if any; the reason if that failed."""
        channel_id = await self._channels.log_channel_id(guild_id)
        if channel_id is None:
            return None
        return (await self.send(guild_id, channel_id, embed))[1]

    async def _resolve(self, guild_id: int, channel_id: int) -> discord.abc.Messageable:
        channel = self._bot.get_channel(channel_id)
        if channel is None:
            channel = await self._bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"channel {channel_id} is not a text channel")
        owner = getattr(getattr(channel, "guild", None), "id", None)
        if owner is not None and owner != guild_id:
            raise WrongGuildError(f"channel {channel_id} belongs to another server")
        return channel


def _reason(exc: Exception) -> str:
    if isinstance(exc, discord.NotFound):
        return "log channel not found"
    if isinstance(exc, discord.Forbidden):
        return "no permission to post in the log channel"
    if isinstance(exc, WrongGuildError):
        return "the log channel belongs to another server"
    return str(exc)[:500] or type(exc).__name__
