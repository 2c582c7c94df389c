"""Composition root: settings → logging → database → wiki client → bot. Owns every lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from datetime import timedelta

from pydantic import ValidationError

from bot.db.engine import create_engine, create_session_factory, redact_url, upgrade_to_head
from bot.discord_bot import RollBot
from bot.logging_setup import configure_logging
from bot.services.authz import StaticRolePolicy
from bot.services.rollback import RollbackService
from bot.settings import Settings
from bot.wiki.client import WikiClient

log = logging.getLogger(__name__)


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
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(settings))


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
            service = RollbackService(
                wiki=wiki,
                sessions=create_session_factory(engine),
                roles=StaticRolePolicy(
                    rollback_roles=frozenset(settings.rollback_role_ids),
                    log_viewer_roles=frozenset(settings.log_viewer_role_ids),
                ),
                confirm_timeout=timedelta(seconds=settings.confirm_timeout_seconds),
            )
            bot = RollBot(
                service=service,
                links=wiki,
                log_channel_id=settings.log_channel_id,
                guild_ids=settings.discord_guild_ids,
            )
            async with bot:
                _close_on_signals(bot)
                await bot.start(settings.discord_token.get_secret_value())
    finally:
        await engine.dispose()
        log.info("rollbot stopped")


def _close_on_signals(bot: RollBot) -> None:
    """SIGINT/SIGTERM close the gateway; the `async with` blocks then close the rest."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
