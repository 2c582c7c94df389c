"""Database faults: a rollback is never sent without a committed `running` row, a database that
comes back is used again, and a terminal update lost after the wiki acted is settled by
`reconcile()` at the next start.

SQLite: "database is locked" (another connection holds the write lock past the busy timeout).
PostgreSQL: every backend of the test's database terminated (as a restart does), or the database
refusing connections for a while.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import respx
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackStatus, utcnow
from bot.services.rollback import LEASE, Claimed, Succeeded
from bot.wiki.client import WikiClient
from tests.faults import fakewiki
from tests.faults.checks import assert_rolled_back_once
from tests.faults.databases import BreakableDatabase, BreakablePostgres, BreakableSQLite
from tests.faults.fakewiki import FakeMediaWiki
from tests.faults.proxy import FaultProxy
from tests.faults.support import MODERATOR, make_client, make_service, ready_request
from tests.integration.conftest import devwiki


@asynccontextmanager
async def sessions_on(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def fake_wiki_client() -> AsyncIterator[tuple[FakeMediaWiki, WikiClient]]:
    fake = FakeMediaWiki()
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.route(url=fakewiki.API).mock(side_effect=fake)
        async with make_client(
            fakewiki.API,
            username=fakewiki.BOT_LOGIN,
            password=fakewiki.PASSWORD,
            user_agent=fakewiki.USER_AGENT,
        ) as client:
            yield fake, client


def real_client(wiki: devwiki.RunningWiki, api_url: str | None = None) -> WikiClient:
    return make_client(
        api_url or wiki.api_url,
        username=wiki.rollbot_login.username,
        password=wiki.rollbot_login.password,
        user_agent=wiki.user_agent,
    )


async def test_sqlite_locked_at_claim_sends_nothing_and_a_later_click_works(
    breakable_sqlite: BreakableSQLite,
    fake_wiki_client: tuple[FakeMediaWiki, WikiClient],
) -> None:
    breakable_db = breakable_sqlite
    fake, client = fake_wiki_client
    async with sessions_on(breakable_db.url) as sessions:
        service = make_service(client, sessions)
        request_id = await ready_request(service, fakewiki.TITLE)

        await breakable_db.break_writes()
        with pytest.raises(DBAPIError, match="database is locked"):
            await service.claim(request_id, MODERATOR)
        row = await service.get(request_id)  # WAL: reading still works
        assert row is not None
        assert row.status is RollbackStatus.PENDING
        assert fake.rollback_posts == 0

        await breakable_db.restore()
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        outcome = await service.execute(claimed)
    assert isinstance(outcome, Succeeded)
    assert fake.rollback_posts == len(fake.bot_rollbacks) == 1


@pytest.mark.postgres
async def test_postgres_restart_mid_run_is_survived(
    breakable_postgres: BreakablePostgres,
    fake_wiki_client: tuple[FakeMediaWiki, WikiClient],
) -> None:
    """Backends killed before the click and again between the claim and the terminal update:
    the pool notices (pre_ping) and reconnects; one rollback, recorded."""
    breakable_db = breakable_postgres
    fake, client = fake_wiki_client
    async with sessions_on(breakable_db.url) as sessions:
        service = make_service(client, sessions)
        request_id = await ready_request(service, fakewiki.TITLE)

        assert await breakable_db.drop_connections() >= 1
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        assert await breakable_db.drop_connections() >= 1
        outcome = await service.execute(claimed)
    assert isinstance(outcome, Succeeded)
    assert outcome.request.status is RollbackStatus.SUCCEEDED
    assert fake.rollback_posts == len(fake.bot_rollbacks) == 1


@pytest.mark.postgres
async def test_postgres_down_at_claim_sends_nothing(
    breakable_postgres: BreakablePostgres,
    fake_wiki_client: tuple[FakeMediaWiki, WikiClient],
) -> None:
    breakable_db = breakable_postgres
    fake, client = fake_wiki_client
    async with sessions_on(breakable_db.url) as sessions:
        service = make_service(client, sessions)
        request_id = await ready_request(service, fakewiki.TITLE)
        await breakable_db.break_writes()
        with pytest.raises(DBAPIError):
            await service.claim(request_id, MODERATOR)
        assert fake.rollback_posts == 0
        await breakable_db.restore()
        row = await service.get(request_id)
        assert row is not None
        assert row.status is RollbackStatus.PENDING


async def test_database_lost_after_the_wiki_acted_is_settled_by_reconcile(
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    breakable_db: BreakableDatabase,
) -> None:
    """The wiki rolls back, then the database fails before `succeeded` is written: the row stays
    `running` (nothing claims otherwise), and the next start's reconcile() finds the rollback."""
    page = wiki.make_vandalised_page("Database lost", "Good text.", vandal_edits=2)
    async with sessions_on(breakable_db.url) as sessions, real_client(wiki, proxy.api_url) as c:
        service = make_service(c, sessions)
        request_id = await ready_request(service, page.title)
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        proxy.after_answer = breakable_db.break_writes  # the wiki has acted; the DB goes
        with pytest.raises(DBAPIError):
            await service.execute(claimed)
    assert proxy.rollback_posts == 1
    await breakable_db.restore()

    # The next start, once the lease lapsed: a fresh engine and client, straight to the wiki.
    async with sessions_on(breakable_db.url) as sessions, real_client(wiki) as client:
        service = make_service(
            client, sessions, clock=lambda: utcnow() + LEASE + timedelta(seconds=1)
        )
        row = await service.get(request_id)
        assert row is not None
        assert row.status is RollbackStatus.RUNNING
        settled = await service.reconcile()
        assert [r.id for r in settled] == [request_id]
        row = await service.get(request_id)
    assert row is not None
    assert_rolled_back_once(wiki, page, row)
    assert proxy.rollback_posts == 1
