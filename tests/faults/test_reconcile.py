"""reconcile() against the real wiki's history, in-process and deterministic: what the kill -9
tests (test_kill9.py) rely on, pinned down.

A `running` row is made by a real claim; "the bot sent the rollback and died" is the real client's
rollback call with no service around it. MediaWiki stores whole seconds and its clock is not the
bot's, so a rollback made just after the confirmation can carry an earlier timestamp; an older
rollback of the same vandal by the bot must not be taken for this one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RollbackStatus, utcnow
from bot.services.rollback import LEASE, Claimed, RollbackService
from bot.wiki.client import WikiClient
from tests.faults.checks import assert_rolled_back_once, bot_rollbacks
from tests.faults.support import MODERATOR, make_client, make_service, ready_request
from tests.integration.conftest import devwiki


def _client(wiki: devwiki.RunningWiki) -> WikiClient:
    return make_client(
        wiki.api_url,
        username=wiki.rollbot_login.username,
        password=wiki.rollbot_login.password,
        user_agent=wiki.user_agent,
    )


def _restarted(client: WikiClient, sessions: async_sessionmaker[AsyncSession]) -> RollbackService:
    """The next process, started once the dead one's lease lapsed."""
    return make_service(client, sessions, clock=lambda: utcnow() + LEASE + timedelta(seconds=1))


async def test_rollback_stamped_before_the_confirmation_is_found(
    wiki: devwiki.RunningWiki, sqlite_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The bot's clock runs 0.9 s ahead of the wiki's (or: the same second, truncated)."""
    page = wiki.make_vandalised_page("Skewed clock", "Good text.", vandal_edits=2)
    async with _client(wiki) as client:
        service = make_service(
            client, sqlite_session_factory, clock=lambda: utcnow() + timedelta(seconds=0.9)
        )
        request_id = await ready_request(service, page.title)
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        await client.rollback(page.title, "Vandal", summary="sent, then the bot died")

        settled = await _restarted(client, sqlite_session_factory).reconcile()
    assert [row.id for row in settled] == [request_id]
    assert_rolled_back_once(wiki, page, settled[0])


async def test_an_older_rollback_of_the_same_vandal_is_not_taken_for_this_one(
    wiki: devwiki.RunningWiki, sqlite_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Rolled back a minute ago, vandalised again, confirmed, then the bot died before sending:
    the page history has a bot rollback of this vandal, but not this request's."""
    page = wiki.make_vandalised_page("Vandalised twice", "Good text.", vandal_edits=1)
    async with _client(wiki) as client:
        earlier = await client.rollback(page.title, "Vandal", summary="the first time")
        again = wiki.edit(page.title, "VANDALISM again", user="Vandal")
        service = make_service(client, sqlite_session_factory)
        request_id = await ready_request(service, page.title)
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        assert claimed.request.top_revid == again

        settled = await _restarted(client, sqlite_session_factory).reconcile()
    assert [row.id for row in settled] == [request_id]
    row = settled[0]
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "interrupted")
    assert row.revid is None
    assert [r.revid for r in bot_rollbacks(wiki, page.title)] == [earlier.revid]
    assert wiki.revisions(page.title)[0].revid == again
