"""The log channel: delivers the log outbox (each ended request, once) and settings changes.

`LogPoster` is the Discord half of `bot.services.log_outbox`: it resolves the channel, renders
`log_embed`, posts it with an attempt-stable nonce (or edits the earlier post of a corrected
row) and turns every exception into "try later" or "give up". `AuditLogCog` runs the sweep that
delivers whatever is due, so a post that failed here - or in a process that has since died -
goes out later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RollbackRequest, utcnow
from bot.services.log_outbox import (
    Delivery,
    GaveUp,
    LogChannels,
    LogOutbox,
    Posted,
    RetryPolicy,
    SendResult,
    TryLater,
)
from bot.ui.embeds import WikiLinks, log_embed

if TYPE_CHECKING:
    from bot.discord_bot import RollBot

log = logging.getLogger(__name__)

__all__ = ["AuditLogCog", "FixedLogChannel", "LogChannels", "LogPoster", "WrongGuildError"]

# Channels a log can be posted in (and its messages edited).
LogChannel = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel
# discord.py retries 5xx answers itself for up to ~25 s; past this the attempt is abandoned and
# the outbox tries again later (with the same nonce, in case the abandoned one did land).
SEND_TIMEOUT_SECONDS = 30.0
# A claim outlives the slowest attempt (the send timeout plus database writes).
_LEASE_MARGIN = timedelta(seconds=60)
_UNKNOWN_MESSAGE = 10008  # Discord's error code: the message was deleted


@dataclass(frozen=True, slots=True)
class FixedLogChannel:
    """One channel for every guild (the `.env` LOG_CHANNEL_ID, without per-guild settings)."""

    channel_id: int | None

    async def log_channel_id(self, guild_id: int) -> int | None:
        return self.channel_id


class WrongGuildError(Exception):
    """The configured channel belongs to another server: posting there would leak the log."""


class NotTextChannelError(Exception):
    """The configured channel cannot hold messages (a category, a forum...)."""


class LogPoster:
    """Posts to log channels. Nothing here raises: the moderator's action is already done, and a
    failed post is the outbox's to retry (audit rows) or a logged warning (settings changes)."""

    def __init__(
        self,
        bot: RollBot,
        *,
        sessions: async_sessionmaker[AsyncSession],
        links: WikiLinks,
        channels: LogChannels,
        clock: Callable[[], datetime] = utcnow,
        policy: RetryPolicy | None = None,
        send_timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self._bot = bot
        self._links = links
        self._channels = channels
        self._send_timeout = send_timeout
        self._warned: set[tuple[int, str]] = set()
        self.outbox = LogOutbox(
            sessions=sessions,
            sender=self,
            channels=channels,
            clock=clock,
            policy=policy,
            lease=timedelta(seconds=send_timeout) + _LEASE_MARGIN,
        )

    async def post(self, request: RollbackRequest) -> None:
        """Deliver this request's log post now if it is due. Never raises; if it cannot be
        delivered now, the row stays in the outbox and the sweep delivers it later."""
        if request.id is None:
            return
        try:
            await self.outbox.deliver(request.id)
        except Exception:  # the database failed (or a bug): the claim lapses, the sweep retries
            log.exception("could not deliver the log post of request %s now", request.id)

    async def deliver_due(self) -> int:
        """One outbox sweep (see `LogOutbox.deliver_due`)."""
        return await self.outbox.deliver_due()

    # ---- LogSender ---------------------------------------------------------------------------

    async def deliver(self, delivery: Delivery) -> SendResult:
        request = delivery.request
        try:
            embed = log_embed(request, self._links, folded=delivery.folded)
        except Exception:  # a rendering bug must not lose the post: say less instead
            log.exception("could not render the log embed of request %s", request.id)
            embed = discord.Embed(description=f"Request #{request.id}: {request.status}")
        try:
            async with asyncio.timeout(self._send_timeout):
                channel = await self._resolve(request.guild_id, delivery.channel_id)
                if delivery.edit_message_id is not None:
                    edited = await self._edit(channel, delivery.edit_message_id, embed)
                    if edited is not None:
                        return Posted(edited)
                message = await channel.send(
                    embed=embed,
                    nonce=delivery.nonce,  # discord.py adds enforce_nonce
                    allowed_mentions=discord.AllowedMentions.none(),
                )
        except Exception as exc:  # every failure is a retry or a recorded reason, never raised
            return self._failed(delivery.channel_id, exc, retried=True)
        return Posted(message.id)

    async def _edit(self, channel: LogChannel, message_id: int, embed: discord.Embed) -> int | None:
        """Edit the row's earlier post; None if that message was deleted (post anew)."""
        try:
            message = await channel.get_partial_message(message_id).edit(
                embed=embed, allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.NotFound as exc:
            if exc.code != _UNKNOWN_MESSAGE:
                raise
            return None
        return message.id

    # ---- settings changes (not audit rows: posted once, not retried) -------------------------

    async def send(
        self, guild_id: int, channel_id: int, embed: discord.Embed
    ) -> tuple[int | None, str | None]:
        """Post `embed` to `channel_id` of `guild_id`: (message id, None) or (None, reason)."""
        try:
            async with asyncio.timeout(self._send_timeout):
                channel = await self._resolve(guild_id, channel_id)
                message = await channel.send(
                    embed=embed, allowed_mentions=discord.AllowedMentions.none()
                )
        except Exception as exc:
            result = self._failed(channel_id, exc, retried=False)
            return None, result.reason if isinstance(result, GaveUp) else result.cause
        return message.id, None

    async def send_to_guild_log(self, guild_id: int, embed: discord.Embed) -> str | None:
        """Post to the guild's current log channel, if any; the reason if that failed."""
        channel_id = await self._channels.log_channel_id(guild_id)
        if channel_id is None:
            return None
        return (await self.send(guild_id, channel_id, embed))[1]

    # ---- internals -----------------------------------------------------------------------------

    async def _resolve(self, guild_id: int, channel_id: int) -> LogChannel:
        channel = self._bot.get_channel(channel_id)
        if channel is None:
            channel = await self._bot.fetch_channel(channel_id)
        if not isinstance(channel, LogChannel):
            raise NotTextChannelError(f"channel {channel_id} is not a text channel")
        if channel.guild.id != guild_id:
            raise WrongGuildError(f"channel {channel_id} belongs to another server")
        return channel

    def _failed(self, channel_id: int, exc: Exception, *, retried: bool) -> TryLater | GaveUp:
        result = classify(exc)
        cause = result.reason if isinstance(result, GaveUp) else result.cause
        if (channel_id, cause) in self._warned:  # once per channel and cause, not per post
            return result
        self._warned.add((channel_id, cause))
        if isinstance(result, GaveUp):
            log.warning("cannot post to log channel %s: %s", channel_id, cause)
        elif retried:
            log.warning(
                "log post to channel %s failed, will retry: %s (%r)", channel_id, cause, exc
            )
        else:
            log.warning("settings post to log channel %s failed: %s (%r)", channel_id, cause, exc)
        return result


def classify(exc: Exception) -> TryLater | GaveUp:
    """Whether a failed post is worth another try, and the words for the row and the log."""
    if isinstance(exc, WrongGuildError):
        return GaveUp("the log channel belongs to another server")
    if isinstance(exc, NotTextChannelError):
        return GaveUp(str(exc))
    if isinstance(exc, discord.NotFound):
        return GaveUp("log channel not found")
    if isinstance(exc, discord.Forbidden):
        return GaveUp("no permission to post in the log channel")
    if isinstance(exc, discord.RateLimited):  # only with Client(max_ratelimit_timeout=...)
        return TryLater("rate limited by Discord", exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:  # without Discord's Via header: Cloudflare's limit
            return TryLater("rate limited by Discord", _retry_after(exc.response))
        if exc.status >= 500 or exc.status == 408:
            return TryLater(f"Discord answered {exc.status}")
        return GaveUp(str(exc)[:500] or type(exc).__name__)  # the message itself was refused
    if isinstance(exc, TimeoutError):
        return TryLater("Discord did not answer in time")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return TryLater(f"connection to Discord failed ({type(exc).__name__})")
    return TryLater(f"unexpected {type(exc).__name__}")


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None


class AuditLogCog(commands.Cog):
    """Runs the outbox sweep: once when the bot is ready (what an earlier run left), then every
    `interval` seconds (retries that came due)."""

    def __init__(self, bot: RollBot, *, poster: LogPoster, interval: float = 5.0) -> None:
        self.bot = bot
        self.poster = poster
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._sweep_forever(), name="rollbot-log-outbox")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sweep_forever(self) -> None:
        await self.bot.wait_until_ready()  # channels are resolved from the gateway's cache
        while True:
            try:
                await self.poster.deliver_due()
            except Exception:  # the database is down: the rows wait, the next sweep retries
                log.exception("log outbox sweep failed; retrying")
            await asyncio.sleep(self._interval)
