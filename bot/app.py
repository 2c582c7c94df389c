"""Composition root: settings → logging → database → wiki client → bot. Owns every lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from datetime import timedelta

import aiohttp
import discord
from pydantic import ValidationError

from bot.db.engine import create_engine, create_session_factory, redact_url, upgrade_to_head
from bot.discord_bot import RollBot
from bot.logging_setup import configure_logging
from bot.services.guild_settings import GuildDefaults, GuildSettingsService
from bot.services.history import HistoryService
from bot.services.rollback import RollbackService
from bot.settings import Settings
from bot.wiki.client import WikiClient
from bot.wiki.errors import LoginError, WikiError

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A problem the operator must fix; printed as one line, without a traceback."""


def load_settings() -> Settings:
    """Settings, or exit with one short line per problem (no traceback)."""
    try:
        return Settings()  # values come from the environment and .env
    except ValidationError as exc:
        lines = ["rollbot: invalid configuration (see .env.example):"]
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper() or "?"
            problem = "missing" if error["type"] == "missing" else error["msg"]
            lines.append(f"  {name}: {problem}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def run() -> None:
    settings = load_settings()
    configure_logging(
        settings.log_level,
        secrets=[
            settings.discord_token.get_secret_value(),
            settings.wiki_password.get_secret_value(),
        ],
    )
    # rollbot never joins voice: the voice libraries' absence is not worth a warning.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main(settings))
    except StartupError as exc:
        log.error("cannot start: %s", exc)  # noqa: TRY400 - an operator's problem, not a bug
        raise SystemExit(1) from None


async def main(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        log.info("database %s: upgrading to the latest schema", redact_url(settings.database_url))
        await upgrade_to_head(engine)
        async with WikiClient(
            api_url=settings.wiki_api_url,
            username=settings.wiki_username,
            password=settings.wiki_password,
            user_agent=settings.wiki_user_agent,
            max_concurrency=settings.wiki_max_concurrency,
            timeout=settings.wiki_timeout_seconds,
        ) as wiki:
            await _check_wiki_login(wiki)
            sessions = create_session_factory(engine)
            # Per-guild settings from /rollbot-config, falling back to these .env values.
            guild_settings = GuildSettingsService(
                sessions=sessions,
                defaults=GuildDefaults(
                    log_channel_id=settings.log_channel_id,
                    rollback_role_ids=frozenset(settings.rollback_role_ids),
                    log_viewer_role_ids=frozenset(settings.log_viewer_role_ids),
                ),
            )
            service = RollbackService(
                wiki=wiki,
                sessions=sessions,
                roles=guild_settings,
                confirm_timeout=timedelta(seconds=settings.confirm_timeout_seconds),
            )
            bot = RollBot(
                service=service,
                sessions=sessions,
                links=wiki,
                guild_ids=settings.discord_guild_ids,
                guild_settings=guild_settings,
                history=HistoryService(sessions=sessions),
                export_max_bytes=settings.export_max_bytes,
            )
            async with bot:
                _close_on_signals(bot)
                try:
                    await bot.start(settings.discord_token.get_secret_value())
                except discord.LoginFailure:
                    raise StartupError(
                        "Discord rejected DISCORD_TOKEN (reset it in the developer portal)"
                    ) from None
                except discord.PrivilegedIntentsRequired:
                    raise StartupError("Discord refused the requested intents") from None
                except (aiohttp.ClientError, OSError) as exc:
                    raise StartupError(f"cannot reach Discord: {exc}") from None
    finally:
        await engine.dispose()
        log.info("rollbot stopped")


async def _check_wiki_login(wiki: WikiClient) -> None:
    """Wrong wiki credentials stop the bot now; a wiki that is merely down does not."""
    try:
        await wiki.login()
    except LoginError as exc:
        raise StartupError(
            f"the wiki refused WIKI_USERNAME/WIKI_PASSWORD ({exc.code}): {exc.info}"
        ) from None
    except WikiError as exc:
        log.warning("wiki not reachable at start (%s); will retry on first use", exc)
    else:
        log.info("logged in to %s as %s", wiki.api_url, wiki.account_name)


def _close_on_signals(bot: RollBot) -> None:
    """SIGINT/SIGTERM close the gateway; the `async with` blocks then close the rest."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
