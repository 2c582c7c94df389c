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
from bot.services.suggest import Suggestions
from bot.settings import DEFAULT_WIKI, Settings, WikiConfig, WikiConfigError, wiki_configs
from bot.ui.sites import Site, WikiSites
from bot.wiki.client import WikiClient
from bot.wiki.errors import LoginError, WikiError
from bot.wiki.results import SiteInfo
from bot.wiki.suggest_reads import SuggestReads

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A problem the operator must fix; printed as one line, without a traceback."""


_CONFIG_ERROR_HEAD = "rollbot: invalid configuration (see .env.example):"


def load_settings() -> Settings:
    """Settings, or exit with one short line per problem (no traceback)."""
    try:
        return Settings()  # values come from the environment and .env
    except ValidationError as exc:
        lines = [_CONFIG_ERROR_HEAD]
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper() or "?"
            problem = "missing" if error["type"] == "missing" else error["msg"]
            lines.append(f"  {name}: {problem}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def load_wikis(settings: Settings) -> list[WikiConfig]:
    """The wikis (default + WIKIS), or exit with one short line per problem."""
    try:
        return wiki_configs(settings)
    except WikiConfigError as exc:
        print("\n".join([_CONFIG_ERROR_HEAD, *exc.lines]), file=sys.stderr)
        raise SystemExit(2) from None


def run() -> None:
    settings = load_settings()
    wikis = load_wikis(settings)
    configure_logging(
        settings.log_level,
        secrets=[
            settings.discord_token.get_secret_value(),
            *(wiki.password.get_secret_value() for wiki in wikis),
        ],
    )
    # rollbot never joins voice: the voice libraries' absence is not worth a warning.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main(settings, wikis))
    except StartupError as exc:
        log.error("cannot start: %s", exc)  # noqa: TRY400 - an operator's problem, not a bug
        raise SystemExit(1) from None


async def main(settings: Settings, wikis: list[WikiConfig] | None = None) -> None:
    configs = wikis if wikis is not None else wiki_configs(settings)
    engine = create_engine(settings.database_url)
    try:
        log.info("database %s: upgrading to the latest schema", redact_url(settings.database_url))
        await upgrade_to_head(engine)
        async with contextlib.AsyncExitStack() as stack:
            clients: dict[str, WikiClient] = {}
            for config in configs:  # one long-lived HTTP client (and login) per wiki
                clients[config.key] = await stack.enter_async_context(
                    WikiClient(
                        api_url=config.api_url,
                        username=config.username,
                        password=config.password,
                        user_agent=config.user_agent,
                        max_concurrency=settings.wiki_max_concurrency,
                        timeout=settings.wiki_timeout_seconds,
                        temp_account_pattern=config.temp_account_pattern,
                    )
                )
            await _log_in(clients)
            sites = await _sites(clients)
            retries = [
                asyncio.create_task(_log_in_later(key, client, sites), name=f"rollbot-login-{key}")
                for key, client in clients.items()
                if client.unavailable is not None and client.unavailable_is_transient
            ]
            stack.callback(lambda: [task.cancel() for task in retries])
            sessions = create_session_factory(engine)
            # Per-guild settings from /rollbot-config, falling back to these .env values.
            guild_settings = GuildSettingsService(
                sessions=sessions,
                defaults=GuildDefaults(
                    log_channel_id=settings.log_channel_id,
                    rollback_role_ids=frozenset(settings.rollback_role_ids),
                    log_viewer_role_ids=frozenset(settings.log_viewer_role_ids),
                    wiki_guilds={config.key: config.guild_ids for config in configs},
                ),
            )
            service = RollbackService(
                wikis=clients,
                access=guild_settings,
                sessions=sessions,
                roles=guild_settings,
                confirm_timeout=timedelta(seconds=settings.confirm_timeout_seconds),
            )
            bot = RollBot(
                service=service,
                sessions=sessions,
                links=sites,
                guild_ids=settings.discord_guild_ids,
                guild_settings=guild_settings,
                history=HistoryService(sessions=sessions),
                export_max_bytes=settings.export_max_bytes,
                suggestions=Suggestions(
                    wikis={key: SuggestReads(client) for key, client in clients.items()},
                    chooser=service,
                ),
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


def _variables(key: str) -> str:
    if key == DEFAULT_WIKI:
        return "WIKI_USERNAME/WIKI_PASSWORD"
    prefix = f"WIKI_{key.upper().replace('-', '_')}_"
    return f"{prefix}USERNAME/{prefix}PASSWORD"


async def _log_in(clients: dict[str, WikiClient]) -> None:
    """Log in to every wiki at once. A wiki that is down or refuses the login is marked
    unavailable (its commands say so) and the others serve; if every wiki refuses its
    credentials, nothing could work: stop with one line."""
    results = await asyncio.gather(
        *(client.login() for client in clients.values()), return_exceptions=True
    )
    refused: list[str] = []
    for (key, client), result in zip(clients.items(), results, strict=True):
        if isinstance(result, LoginError):
            wiki = "the wiki" if key == DEFAULT_WIKI else f"the wiki {key}"
            refused.append(f"{wiki} refused {_variables(key)} ({result.code}): {result.info}")
            client.mark_unavailable("the wiki refused the bot's login", transient=False)
        elif isinstance(result, WikiError):
            log.warning("wiki %s not reachable at start (%s); will retry on first use", key, result)
            client.mark_unavailable("the wiki could not be reached", transient=True)
        elif isinstance(result, BaseException):
            raise result
        else:
            log.info("logged in to %s (%s) as %s", key, client.api_url, client.account_name)
    if refused and len(refused) == len(clients):
        raise StartupError("; ".join(refused))
    for line in refused:
        log.warning("%s; its commands answer that it is unavailable", line)


async def _log_in_later(
    key: str, client: WikiClient, sites: WikiSites, every: float = 60.0
) -> None:
    """Retry the login of a wiki that was down at start until it answers (a command may log
    in first: `ensure_available`), then learn its site name."""
    while client.unavailable is not None:
        await asyncio.sleep(every)
        if client.unavailable is None:
            break
        try:
            await client.login()
        except LoginError as exc:
            client.mark_unavailable("the wiki refused the bot's login", transient=False)
            log.warning("wiki %s refused the login (%s); not retrying", key, exc.code)
            return
        except WikiError as exc:
            log.info("wiki %s still unreachable (%s)", key, exc)
        else:
            client.mark_available()
            log.info("wiki %s is reachable again; logged in", key)
    with contextlib.suppress(WikiError):
        info = await client.siteinfo()
        sites.set_name(key, info.name, info.main_page_url or None, info.article_url)


async def _sites(clients: dict[str, WikiClient]) -> WikiSites:
    """Each wiki's links and site name (meta=siteinfo); a wiki that cannot say goes by its key."""
    # A wiki that is down is not asked (its retries would hold the start); `_log_in_later`
    # learns its name once it is back.
    reachable = {key: client for key, client in clients.items() if client.unavailable is None}
    infos = dict(
        zip(
            reachable,
            await asyncio.gather(
                *(client.siteinfo() for client in reachable.values()), return_exceptions=True
            ),
            strict=True,
        )
    )
    sites: dict[str, Site] = {}
    for key, client in clients.items():
        info = infos.get(key)
        if isinstance(info, SiteInfo):
            sites[key] = Site(
                key=key,
                links=client,
                name=info.name,
                home_url=info.main_page_url,
                api_url=client.api_url,
                article_url=info.article_url,
            )
        else:
            if info is not None:
                log.warning("wiki %s did not say its site name (%s); named by its key", key, info)
            sites[key] = Site(key=key, links=client, name=key, api_url=client.api_url)
    return WikiSites(sites)


def _close_on_signals(bot: RollBot) -> None:
    """SIGINT/SIGTERM close the gateway; the `async with` blocks then close the rest."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
