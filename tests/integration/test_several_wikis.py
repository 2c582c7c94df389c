"""Several wikis (issue 8) against two real MediaWikis and a real database.

`wiki` serves as the key `default` ("DevWiki") and `second_wiki` as `second` ("DevWiki second"):
two independent wikis built from different templates, with the same account names, the same
page titles, and (being fresh copies) the same revision ids. So a request acted on the wrong
wiki would find a page that looks the same: every test checks both wikis' own histories, not
only what the bot recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import devwiki
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import app
from bot.db import audit
from bot.db.history import EXPORT_COLUMNS
from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from bot.discord_bot import RollBot
from bot.services.authz import StaticRolePolicy
from bot.services.guild_settings import GuildDefaults, GuildSettingsService
from bot.services.history import HistoryService, build_filters
from bot.services.rollback import (
    LEASE,
    Actor,
    Claimed,
    Ready,
    Refused,
    RollbackService,
    Succeeded,
)
from bot.services.wiki import RollbackWiki, WikiAccess
from bot.wiki.client import ROLLBACK_TAG, WikiClient
from bot.wiki.retry import RetryPolicy
from tests.discord.harness import (
    AUTOCOMPLETE_RESULT,
    CHANNEL_ID,
    CONFIRM_TIMEOUT,
    GUILD_ID,
    LOG_CHANNEL_ID,
    MOD_ROLE_ID,
    OTHER_GUILD_ID,
    DiscordHarness,
    FakeDiscord,
    confirm_id,
    embed_field,
    text_channel_payload,
)
from tests.discord.harness import MOD as DISCORD_MOD
from tests.unit.services.fakes import Clock, FakeWiki

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]

MOD_ROLE = 4242
GUILD_A = 77
GUILD_B = 88  # a server the operator lets use the second wiki; GUILD_A may not
MOD = Actor(
    user_id=1001,
    display_name="Mod",
    role_ids=frozenset({MOD_ROLE}),
    guild_id=GUILD_A,
    channel_id=5,
)
MOD_B = replace(MOD, guild_id=GUILD_B)
TITLE = "Shared page"


async def no_sleep(_: float) -> None:
    return None


class Clients:
    """Real `WikiClient`s, closed after the test; retries do not sleep."""

    def __init__(self) -> None:
        self.made: list[WikiClient] = []

    def __call__(
        self, wiki: devwiki.RunningWiki, login: devwiki.BotLogin | None = None, **overrides: Any
    ) -> WikiClient:
        login = login or wiki.rollbot_login
        options: dict[str, Any] = {
            "api_url": wiki.api_url,
            "username": login.username,
            "password": SecretStr(login.password),
            "user_agent": wiki.user_agent,
            "retry": RetryPolicy(max_attempts=2, sleep=no_sleep, random=lambda: 0.0),
        }
        options.update(overrides)
        client = WikiClient(**options)
        self.made.append(client)
        return client

    def pair(self, a: devwiki.RunningWiki, b: devwiki.RunningWiki) -> dict[str, WikiClient]:
        return {"default": self(a), "second": self(b)}


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    made = Clients()
    yield made
    for client in made.made:
        await client.aclose()


def only_default_for_a(sessions: Sessions) -> GuildSettingsService:
    """The operator's choice: every server may use `default`; only GUILD_B may use `second`."""
    return GuildSettingsService(
        sessions=sessions,
        defaults=GuildDefaults(
            log_channel_id=None,
            rollback_role_ids=frozenset({MOD_ROLE}),
            wiki_guilds={"default": None, "second": frozenset({GUILD_B})},
        ),
    )


def make_service(
    wikis: Mapping[str, RollbackWiki],
    sessions: Sessions,
    *,
    access: WikiAccess | None = None,
    later: timedelta = timedelta(0),
) -> RollbackService:
    """The real service over several wikis; `later` runs its clock ahead (a process started
    after a crashed one's lease lapsed)."""
    return RollbackService(
        wikis=wikis,
        access=access,
        sessions=sessions,
        roles=StaticRolePolicy(rollback_roles=frozenset({MOD_ROLE})),
        confirm_timeout=timedelta(minutes=5),
        clock=lambda: utcnow() + later,
    )


async def stored(sessions: Sessions, request_id: int | None) -> RollbackRequest:
    assert request_id is not None
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


async def ready(
    service: RollbackService, wiki: str, *, actor: Actor = MOD, page: str = TITLE
) -> RollbackRequest:
    outcome = await service.request(
        actor, page=page, user="Vandal", summary=None, markbot=False, wiki=wiki
    )
    assert isinstance(outcome, Ready), outcome
    return outcome.request


async def claimed(
    service: RollbackService, request: RollbackRequest, actor: Actor = MOD
) -> Claimed:
    assert request.id is not None
    outcome = await service.claim(request.id, actor)
    assert isinstance(outcome, Claimed), outcome
    return outcome


async def rolled_back(
    service: RollbackService, wiki: str, *, actor: Actor = MOD, page: str = TITLE
) -> RollbackRequest:
    """request → claim → execute on `wiki`; the row as stored."""
    request = await ready(service, wiki, actor=actor, page=page)
    outcome = await service.execute(await claimed(service, request, actor))
    assert isinstance(outcome, Succeeded), outcome
    return request


def bot_rollbacks(wiki: devwiki.RunningWiki, title: str = TITLE) -> list[devwiki.Revision]:
    return [r for r in wiki.revisions(title) if r.user == "Rollbot" and ROLLBACK_TAG in r.tags]


def assert_rolled_back(
    wiki: devwiki.RunningWiki, row: RollbackRequest, page: devwiki.VandalisedPage
) -> None:
    """The row is this wiki's one bot rollback, and the good text is back on this wiki."""
    assert row.status is RollbackStatus.SUCCEEDED, (row.error_code, row.error_message)
    newest = wiki.revisions(page.title)[0]
    assert [r.revid for r in bot_rollbacks(wiki, page.title)] == [newest.revid]
    assert (row.revid, row.old_revid, row.last_revid) == (
        newest.revid,
        page.latest_revid,
        page.good_revid,
    )
    assert newest.content == page.good_text
    assert row.wiki_api_url == wiki.api_url


def assert_untouched(wiki: devwiki.RunningWiki, page: devwiki.VandalisedPage) -> None:
    history = wiki.revisions(page.title)
    assert [r.revid for r in history][: len(page.vandal_revids) + 1] == [
        *reversed(page.vandal_revids),
        page.good_revid,
    ]
    assert history[0].content == page.vandal_texts[-1]
    assert bot_rollbacks(wiki, page.title) == []


def vandalise_both(
    a: devwiki.RunningWiki, b: devwiki.RunningWiki, title: str = TITLE
) -> tuple[devwiki.VandalisedPage, devwiki.VandalisedPage]:
    return (
        a.make_vandalised_page(title, "Good text on A.", vandal_edits=2),
        b.make_vandalised_page(title, "Good text on B.", vandal_edits=2),
    )


# ---- 1. the same title on two wikis ----------------------------------------------------------


@pytest.mark.parametrize("key", ["default", "second"])
async def test_a_rollback_on_one_wiki_leaves_the_same_page_on_the_other_untouched(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    session_factory: Sessions,
    key: str,
) -> None:
    page_a, page_b = vandalise_both(wiki, second_wiki)
    # Fresh copies of two templates: the same revision ids, so only the wiki tells them apart.
    assert page_a.vandal_revids == page_b.vandal_revids
    service = make_service(clients.pair(wiki, second_wiki), session_factory)
    acted, other = (wiki, second_wiki) if key == "default" else (second_wiki, wiki)
    acted_page, other_page = (page_a, page_b) if key == "default" else (page_b, page_a)

    request = await rolled_back(service, key)

    row = await stored(session_factory, request.id)
    assert row.wiki == key
    assert_rolled_back(acted, row, acted_page)
    assert_untouched(other, other_page)


# ---- 2. a server allowed only one wiki ---------------------------------------------------------


# A forged `wiki` option (autocomplete is only a hint): the key itself, spellings of it, its
# site name, a key that does not exist.
FORGED = ("second", "SECOND", " Second ", "DevWiki second", "nosuch")


async def test_a_server_may_not_act_on_a_wiki_it_is_not_allowed(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    session_factory: Sessions,
) -> None:
    page_a, page_b = vandalise_both(wiki, second_wiki)
    access = only_default_for_a(session_factory)
    service = make_service(clients.pair(wiki, second_wiki), session_factory, access=access)
    assert service.wikis_for(GUILD_A) == ["default"]

    for asked in FORGED:
        key = await service.resolve_wiki(GUILD_A, asked)
        assert key is not None
        outcome = await service.request(
            MOD, page=TITLE, user="Vandal", summary=None, markbot=False, wiki=key
        )

        assert isinstance(outcome, Refused), (asked, outcome)
        row = await stored(session_factory, outcome.request.id)
        assert (row.status, row.error_code) == (RollbackStatus.DENIED, "wikinotallowed"), asked
        assert row.wiki == key
        assert row.top_revid is None  # no wiki was read
    assert_untouched(second_wiki, page_b)
    assert_untouched(wiki, page_a)

    # The same service serves GUILD_A's own wiki, and `second` to the server allowed it.
    assert await service.resolve_wiki(GUILD_A, None) == "default"
    done_b = await rolled_back(service, "second", actor=MOD_B)
    assert_rolled_back(second_wiki, await stored(session_factory, done_b.id), page_b)
    assert_untouched(wiki, page_a)
    done_a = await rolled_back(service, "default")
    assert_rolled_back(wiki, await stored(session_factory, done_a.id), page_a)


# ---- 3. a wiki down or refusing the login at start ----------------------------------------------


async def request_on(service: RollbackService, key: str) -> RollbackRequest:
    outcome = await service.request(
        MOD, page=TITLE, user="Vandal", summary=None, markbot=False, wiki=key
    )
    return outcome.request


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_a_wiki_down_at_start_answers_unavailable_and_serves_once_back(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    sqlite_session_factory: Sessions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    page_a, page_b = vandalise_both(wiki, second_wiki)
    second_wiki.stop()
    wikis = clients.pair(wiki, second_wiki)

    with caplog.at_level(logging.WARNING, logger="bot.app"):
        await app._log_in(wikis)  # as app.main does, before serving
    sites = await app._sites(wikis)

    assert wikis["default"].unavailable is None
    assert (wikis["second"].unavailable, wikis["second"].unavailable_is_transient) == (
        "the wiki could not be reached",
        True,
    )
    assert [w for w in warnings(caplog) if "second" in w and "not reachable" in w], caplog.text
    names = {key: site.name for key in sites.keys if (site := sites.site(key))}
    assert names == {"default": wiki.site_name, "second": "second"}  # down: named by its key
    service = make_service(wikis, sqlite_session_factory)

    down = await stored(sqlite_session_factory, (await request_on(service, "second")).id)
    assert (down.status, down.error_code, down.wiki) == (
        RollbackStatus.FAILED,
        "wikiunavailable",
        "second",
    )
    assert down.error_message == "wiki second is unavailable: the wiki could not be reached"
    done_a = await rolled_back(service, "default")
    assert_rolled_back(wiki, await stored(sqlite_session_factory, done_a.id), page_a)

    second_wiki.start()  # same port, same data
    done_b = await rolled_back(service, "second")  # ensure_available logs in first

    assert wikis["second"].unavailable is None
    assert_rolled_back(second_wiki, await stored(sqlite_session_factory, done_b.id), page_b)
    assert len(bot_rollbacks(wiki)) == 1  # A's, once


async def test_the_background_retry_logs_in_and_learns_the_site_name_once_back(
    wiki: devwiki.RunningWiki, second_wiki: devwiki.RunningWiki, clients: Clients
) -> None:
    second_wiki.stop()
    wikis = clients.pair(wiki, second_wiki)
    await app._log_in(wikis)
    sites = await app._sites(wikis)
    retry = asyncio.create_task(app._log_in_later("second", wikis["second"], sites, every=0.05))
    await asyncio.sleep(0.3)  # a few tries while the wiki is down
    assert not retry.done()
    assert wikis["second"].unavailable == "the wiki could not be reached"

    second_wiki.start()
    await asyncio.wait_for(retry, timeout=30)

    assert wikis["second"].unavailable is None
    site = sites.site("second")
    assert site is not None
    assert (site.name, site.home_url) == (
        second_wiki.site_name,
        f"{second_wiki.base_url}/index.php/Main_Page",
    )


async def test_a_wiki_refusing_the_login_at_start_is_unavailable_and_the_other_works(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    sqlite_session_factory: Sessions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    page_a, page_b = vandalise_both(wiki, second_wiki)
    # The first wiki's password given for the second: the second's account has its own.
    wikis = {"default": clients(wiki), "second": clients(second_wiki, wiki.rollbot_login)}

    with caplog.at_level(logging.WARNING, logger="bot.app"):
        await app._log_in(wikis)

    assert (wikis["second"].unavailable, wikis["second"].unavailable_is_transient) == (
        "the wiki refused the bot's login",
        False,
    )
    refused = [w for w in warnings(caplog) if "the wiki second refused" in w]
    assert len(refused) == 1, caplog.text
    assert "WIKI_SECOND_USERNAME/WIKI_SECOND_PASSWORD" in refused[0]
    assert wiki.rollbot_login.password not in caplog.text
    service = make_service(wikis, sqlite_session_factory)

    down = await stored(sqlite_session_factory, (await request_on(service, "second")).id)
    assert (down.status, down.error_code) == (RollbackStatus.FAILED, "wikiunavailable")
    assert down.error_message == "wiki second is unavailable: the wiki refused the bot's login"
    done_a = await rolled_back(service, "default")
    assert_rolled_back(wiki, await stored(sqlite_session_factory, done_a.id), page_a)
    assert_untouched(second_wiki, page_b)  # a refused login is not retried on use


async def test_every_wiki_refusing_the_login_stops_the_start(
    wiki: devwiki.RunningWiki, second_wiki: devwiki.RunningWiki, clients: Clients
) -> None:
    wikis = {
        "default": clients(wiki, second_wiki.rollbot_login),
        "second": clients(second_wiki, wiki.rollbot_login),
    }

    with pytest.raises(app.StartupError) as raised:
        await app._log_in(wikis)

    message = str(raised.value)
    assert "the wiki refused WIKI_USERNAME/WIKI_PASSWORD" in message
    assert "the wiki second refused WIKI_SECOND_USERNAME/WIKI_SECOND_PASSWORD" in message


# ---- 4. each wiki's siteinfo ------------------------------------------------------------------


async def test_each_wiki_names_itself_and_links_follow_its_article_path(
    wiki: devwiki.RunningWiki, second_wiki: devwiki.RunningWiki, clients: Clients
) -> None:
    assert wiki.site_name != second_wiki.site_name
    wikis = clients.pair(wiki, second_wiki)
    title = "Shared page/sub page"
    async with httpx.AsyncClient(headers={"User-Agent": wiki.user_agent}) as http:
        for key, running in (("default", wiki), ("second", second_wiki)):
            running.edit(title, f"This is {running.site_name}.")
            client = wikis[key]
            assert client.page_url(title) == f"{running.index_url}?title=Shared_page/sub_page"

            info = await client.siteinfo()

            assert info.name == running.site_name
            assert info.main_page_url == f"{running.base_url}/index.php/Main_Page"
            url = client.page_url(title)
            assert url == f"{running.base_url}{info.article_path}".replace(
                "$1", "Shared_page/sub_page"
            )
            assert url != f"{running.index_url}?title=Shared_page/sub_page"
            page = await http.get(url)
            assert page.status_code == 200
            assert f"This is {running.site_name}." in page.text
            contribs = await http.get(client.contribs_url("Editor"))
            assert contribs.status_code == 200
            assert "Shared page/sub page" in contribs.text
    sites = await app._sites(wikis)
    assert [(s.key, s.name) for s in map(sites.site, sites.keys) if s] == [
        ("default", wiki.site_name),
        ("second", second_wiki.site_name),
    ]


# ---- 5. the audit log per wiki ------------------------------------------------------------------


class Rows:
    """The export sink: every row it is given."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def write_row(self, row: Any) -> bool:
        self.rows.append(tuple(row))
        return True


async def test_log_search_stats_and_export_are_per_wiki(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    session_factory: Sessions,
) -> None:
    vandalise_both(wiki, second_wiki)
    service = make_service(clients.pair(wiki, second_wiki), session_factory)
    on_a = await rolled_back(service, "default")
    on_b = await rolled_back(service, "second")
    missing_b = await service.request(
        MOD, page="No such page", user="Vandal", summary=None, markbot=False, wiki="second"
    )
    assert isinstance(missing_b, Refused), missing_b
    history = HistoryService(sessions=session_factory)
    expected = {"default": [on_a.id], "second": [missing_b.request.id, on_b.id]}
    api_urls = {"default": wiki.api_url, "second": second_wiki.api_url}

    for key, ids in expected.items():
        filters = build_filters(guild_id=GUILD_A, now=history.now(), wiki=key.upper())
        found = await history.search(filters, searcher_id=MOD.user_id)
        assert [row.id for row in found.page.rows] == ids
        assert {row.wiki for row in found.page.rows} == {key}
        assert found.search.filters.wiki == key  # saved for Prev / Next
        assert [row.id for row in (await history.page(found.search)).rows] == ids

        stats = await history.stats(GUILD_A, since=None, wiki=key)
        assert stats.total == len(ids)
        assert stats.by_status[RollbackStatus.SUCCEEDED] == 1
        assert stats.top_pages == [(TITLE, 1)]

        sink = Rows()
        summary = await history.export(filters, sink)
        assert (summary.rows_written, summary.rows_left_out) == (len(ids), 0)
        columns = EXPORT_COLUMNS
        assert [row[columns.index("id")] for row in sink.rows] == ids
        assert {row[columns.index("wiki")] for row in sink.rows} == {key}
        assert {row[columns.index("wiki_api_url")] for row in sink.rows} == {api_urls[key]}

    everything = build_filters(guild_id=GUILD_A, now=history.now())
    assert len((await history.search(everything, searcher_id=MOD.user_id)).page.rows) == 3
    assert (await history.stats(GUILD_A, since=None)).total == 3


# ---- 6. reconcile reads the row's own wiki ----------------------------------------------------


@pytest.mark.parametrize("sent_on", ["second", "default"])
async def test_reconcile_settles_a_row_from_its_own_wikis_history(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    session_factory: Sessions,
    sent_on: str,
) -> None:
    """A `running` row on `second`, its process dead. The same rollback (same title, same
    revision ids) sent to the row's wiki is found; sent to the other wiki it is not this
    row's: the row is `interrupted` and `second` stays as it was."""
    page_a, page_b = vandalise_both(wiki, second_wiki)
    crashed = make_service(clients.pair(wiki, second_wiki), session_factory)
    request = await ready(crashed, "second")
    await claimed(crashed, request)
    target = second_wiki if sent_on == "second" else wiki
    sent = await clients(target).rollback(TITLE, "Vandal", summary="sent, then the bot died")
    assert (await stored(session_factory, request.id)).status is RollbackStatus.RUNNING

    restarted = make_service(
        clients.pair(wiki, second_wiki), session_factory, later=LEASE + timedelta(seconds=1)
    )
    settled = await restarted.reconcile()

    assert [row.id for row in settled] == [request.id]
    row = await stored(session_factory, request.id)
    assert row.wiki == "second"
    if sent_on == "second":
        assert_rolled_back(second_wiki, row, page_b)
        assert row.revid == sent.revid
        assert_untouched(wiki, page_a)
    else:
        assert (row.status, row.error_code, row.revid) == (
            RollbackStatus.FAILED,
            "interrupted",
            None,
        )
        assert_untouched(second_wiki, page_b)
        assert wiki.revisions(TITLE)[0].revid == sent.revid


async def test_revision_ids_are_per_wiki_when_settling(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    session_factory: Sessions,
) -> None:
    """The bot rolled back `Shared page` on `default` (revision N there); a request for the
    same page on `second` was cut off after its rollback, which the copy numbered N too.
    Revision N of `default` is not revision N of `second`: the row on `second` is settled
    `succeeded`, not taken for a duplicate of the first request."""
    page_a, page_b = vandalise_both(wiki, second_wiki)
    wikis = clients.pair(wiki, second_wiki)
    service = make_service(wikis, session_factory)
    on_a = await stored(session_factory, (await rolled_back(service, "default")).id)
    request = await ready(service, "second")
    await claimed(service, request)
    sent = await clients(second_wiki).rollback(TITLE, "Vandal", summary="sent, then cut off")
    assert sent.revid == on_a.revid  # the situation this test is about

    restarted = make_service(wikis, session_factory, later=LEASE + timedelta(seconds=1))
    settled = await restarted.reconcile()

    assert [row.id for row in settled] == [request.id]
    row = await stored(session_factory, request.id)
    assert (row.wiki, row.revid) == ("second", sent.revid)
    assert_rolled_back(second_wiki, row, page_b)
    assert_rolled_back(wiki, on_a, page_a)


# ---- the Discord layer: /rollback's `wiki` option and its autocomplete ---------------------------


class RealWikisHarness(DiscordHarness):
    """The real `RollBot` as app.main wires it (GuildSettingsService for roles and wikis, the
    sites from meta=siteinfo) over real `WikiClient`s; Discord is faked as in tests/discord.
    Built here rather than in harness.py, as tests/discord/test_history_commands.py does."""

    SETTLE_TIMEOUT = 60.0  # real wikis answer in tenths of a second, not at once

    @classmethod
    async def serving(
        cls,
        sessions: Sessions,
        wikis: dict[str, WikiClient],
        wiki_guilds: Mapping[str, frozenset[int] | None],
    ) -> RealWikisHarness:
        settings = GuildSettingsService(
            sessions=sessions,
            defaults=GuildDefaults(
                log_channel_id=LOG_CHANNEL_ID,
                rollback_role_ids=frozenset({MOD_ROLE_ID}),
                wiki_guilds=wiki_guilds,
            ),
        )
        service = RollbackService(
            wikis=wikis,
            access=settings,
            sessions=sessions,
            roles=settings,
            confirm_timeout=CONFIRM_TIMEOUT,
        )
        api = FakeDiscord()
        api.add_channel(text_channel_payload(CHANNEL_ID, "moderators", 0))
        api.add_channel(text_channel_payload(LOG_CHANNEL_ID, "rollback-log", 1))
        bot = RollBot(
            service=service,
            sessions=sessions,
            links=await app._sites(wikis),
            guild_ids=[GUILD_ID],
            guild_settings=settings,
            history=HistoryService(sessions=sessions),
            sweep_seconds=3600,
            log_sweep_seconds=3600,
        )
        # `wiki` (the FakeWiki of tests/discord) is unused: the service holds the real clients.
        h = cls(
            bot=bot,
            service=service,
            wiki=FakeWiki(),
            clock=Clock(),
            discord_api=api,
            sessions=sessions,
        )
        logging.getLogger("discord").addHandler(h._library_errors)
        await h._login()
        await h.connect()
        return h


@pytest.fixture
async def discord_on(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    clients: Clients,
    sqlite_session_factory: Sessions,
) -> AsyncIterator[Callable[..., Awaitable[RealWikisHarness]]]:
    """`await discord_on(second=<its servers>)`: a connected bot over both wikis; afterwards
    the harness's invariants (one answer per interaction, no mentions, no task died)."""
    started: list[RealWikisHarness] = []

    async def start(*, second: frozenset[int] | None) -> RealWikisHarness:
        h = await RealWikisHarness.serving(
            sqlite_session_factory,
            clients.pair(wiki, second_wiki),
            {"default": None, "second": second},
        )
        started.append(h)
        return h

    yield start
    for h in started:
        try:
            await h.settle()
            h.check_invariants()
        finally:
            await h.close()


async def wiki_choices_shown(h: DiscordHarness, typed: str) -> list[dict[str, str]]:
    payload = h.autocomplete_payload(
        DISCORD_MOD, focused="wiki", page=TITLE, user="Vandal", wiki=typed
    )
    run = h.send(payload)
    await h.settle()
    assert [r.callback_type for r in run.requests] == [AUTOCOMPLETE_RESULT]
    choices: list[dict[str, str]] = run.callback.json["data"]["choices"]
    return choices


async def test_discord_a_server_allowed_only_the_default_wiki_cannot_reach_the_second(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    discord_on: Callable[..., Awaitable[RealWikisHarness]],
) -> None:
    page_a, page_b = vandalise_both(wiki, second_wiki)
    h = await discord_on(second=frozenset({OTHER_GUILD_ID}))

    # Autocomplete offers the server's one wiki, whatever is typed.
    default_choice = {"name": f"default — {wiki.site_name}", "value": "default"}
    assert await wiki_choices_shown(h, "") == [default_choice]
    assert await wiki_choices_shown(h, "DevWiki") == [default_choice]
    assert await wiki_choices_shown(h, "sec") == []

    for asked in FORGED:
        run = await h.slash(DISCORD_MOD, page=TITLE, user="Vandal", wiki=asked)
        message = run.original_message
        assert not message.get("components"), asked  # no prompt, nothing to confirm
        [embed] = message["embeds"]
        assert embed["title"] == "Rollback not possible"
        assert "This server may not use that wiki" in embed["description"]
    rows = await h.rows()
    assert [(row.status, row.error_code) for row in rows] == [
        (RollbackStatus.DENIED, "wikinotallowed")
    ] * len(FORGED)
    assert_untouched(second_wiki, page_b)
    assert_untouched(wiki, page_a)

    # Without the option: the server's default wiki, for real.
    prompt = await h.open_prompt(DISCORD_MOD, page=TITLE, user="Vandal")
    await h.click(DISCORD_MOD, confirm_id(prompt.request_id), message=prompt.message)
    row = await h.row(prompt.request_id)
    assert row.wiki == "default"
    assert_rolled_back(wiki, row, page_a)
    assert_untouched(second_wiki, page_b)


async def test_discord_a_server_allowed_both_wikis_picks_one_by_the_option(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    discord_on: Callable[..., Awaitable[RealWikisHarness]],
) -> None:
    """The same command with both wikis allowed (so the refusal above comes from the
    server's allowance, not from the option): autocomplete lists both by site name, the
    option picks `second`, the prompt and the result name it."""
    page_a, page_b = vandalise_both(wiki, second_wiki)
    h = await discord_on(second=None)

    assert await wiki_choices_shown(h, "") == [
        {"name": f"default — {wiki.site_name}", "value": "default"},
        {"name": f"second — {second_wiki.site_name}", "value": "second"},
    ]
    assert await wiki_choices_shown(h, "second") == [
        {"name": f"second — {second_wiki.site_name}", "value": "second"}
    ]

    prompt = await h.open_prompt(DISCORD_MOD, page=TITLE, user="Vandal", wiki="Second")
    assert second_wiki.site_name in embed_field(prompt.message["embeds"][0], "Wiki")
    click = await h.click(DISCORD_MOD, confirm_id(prompt.request_id), message=prompt.message)

    row = await h.row(prompt.request_id)
    assert (row.wiki, row.status) == ("second", RollbackStatus.SUCCEEDED)
    assert_rolled_back(second_wiki, row, page_b)
    assert_untouched(wiki, page_a)
    [result] = click.original_message["embeds"]
    assert result["title"] == "Rolled back"
    assert second_wiki.site_name in embed_field(result, "Wiki")
    assert second_wiki.base_url in result["description"]  # links into the wiki acted on
    assert wiki.base_url not in result["description"]
