"""Wiki faults on the real wiki, injected by a TCP proxy in front of it: timeouts and resets
before the wiki received the rollback and after it acted, and a wiki that cannot be reached.

Real WikiClient, real RollbackService, real SQLite file database; only `sleep` is faked. Each
test checks the audit row, the number of `action=rollback` POSTs the proxy saw (and forwarded),
and the wiki's own history: never two rollbacks.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RollbackStatus
from bot.services.rollback import Claimed, Refused, Succeeded
from bot.services.settlement import SPREAD_DELAYS
from bot.wiki.client import WikiClient
from tests.faults.checks import assert_rolled_back_once, assert_untouched
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.support import MODERATOR, Sleeps, make_client, make_service, ready_request
from tests.integration.conftest import devwiki

# Short enough to keep the held cases quick, ample for a local wiki (~50 ms per request).
CLIENT_TIMEOUT = 0.5


def _client(
    wiki: devwiki.RunningWiki, proxy: FaultProxy, sleeps: Sleeps, attempts: int = 4
) -> WikiClient:
    return make_client(
        proxy.api_url,
        username=wiki.rollbot_login.username,
        password=wiki.rollbot_login.password,
        user_agent=wiki.user_agent,
        timeout=CLIENT_TIMEOUT,
        sleeps=sleeps,
        max_attempts=attempts,
    )


@pytest.mark.parametrize("fault", [Fault.HOLD_ANSWER, Fault.RESET_ANSWER], ids=["timeout", "reset"])
async def test_lost_answer_after_the_wiki_acted_is_found_in_the_history(
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    sqlite_session_factory: async_sessionmaker[AsyncSession],
    sleeps: Sleeps,
    fault: Fault,
) -> None:
    page = wiki.make_vandalised_page("Acted then lost", "Good text.", vandal_edits=2)
    async with _client(wiki, proxy, sleeps) as client:
        service = make_service(client, sqlite_session_factory, sleeps=sleeps)
        request_id = await ready_request(service, page.title)
        proxy.rollback_faults = [fault]
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        outcome = await service.execute(claimed)

    assert isinstance(outcome, Succeeded)
    assert proxy.rollback_posts == proxy.rollbacks_forwarded == 1  # never re-sent
    assert sleeps.delays == []
    assert_rolled_back_once(wiki, page, outcome.request)


@pytest.mark.parametrize("fault", [Fault.HOLD_UNSENT, Fault.RESET_UNSENT], ids=["timeout", "reset"])
async def test_lost_request_before_the_wiki_acted_is_sent_again_once(
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    sqlite_session_factory: async_sessionmaker[AsyncSession],
    sleeps: Sleeps,
    fault: Fault,
) -> None:
    page = wiki.make_vandalised_page("Lost before", "Good text.", vandal_edits=2)
    async with _client(wiki, proxy, sleeps) as client:
        service = make_service(client, sqlite_session_factory, sleeps=sleeps)
        request_id = await ready_request(service, page.title)
        proxy.rollback_faults = [fault]
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        outcome = await service.execute(claimed)

    # The history showed the vandal still on top over the whole settlement window, so
    # re-sending was safe: once.
    assert isinstance(outcome, Succeeded)
    assert (proxy.rollback_posts, proxy.rollbacks_forwarded) == (2, 1)
    assert sleeps.delays == list(SPREAD_DELAYS)
    assert_rolled_back_once(wiki, page, outcome.request)


@pytest.mark.parametrize("fault", [Fault.HOLD_UNSENT, Fault.RESET_UNSENT], ids=["timeout", "reset"])
async def test_lost_twice_fails_and_changes_nothing(
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    sqlite_session_factory: async_sessionmaker[AsyncSession],
    sleeps: Sleeps,
    fault: Fault,
) -> None:
    page = wiki.make_vandalised_page("Lost, no retry", "Good text.", vandal_edits=2)
    async with _client(wiki, proxy, sleeps, attempts=1) as client:
        service = make_service(client, sqlite_session_factory, sleeps=sleeps)
        request_id = await ready_request(service, page.title)
        proxy.rollback_faults = [fault, fault]
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        outcome = await service.execute(claimed)

    assert isinstance(outcome, Refused)
    assert outcome.request.status is RollbackStatus.FAILED
    # A read timeout is recorded (and explained to the moderator) as a timeout, a reset as
    # transport trouble; the history showed the rollback was not applied either way.
    expected = "timeout" if fault is Fault.HOLD_UNSENT else "transport"
    assert outcome.request.error_code == expected, outcome.request.error_message
    assert (proxy.rollback_posts, proxy.rollbacks_forwarded) == (2, 0)  # sent, checked, once more
    assert outcome.request.recheck_at is not None  # and the sweep looks at the history again
    assert_untouched(wiki, page)


async def test_wiki_unreachable_at_confirm_fails_without_sending(
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    sqlite_session_factory: async_sessionmaker[AsyncSession],
    sleeps: Sleeps,
) -> None:
    """Connection refused: the proxy stops listening between the preview and the click."""
    page = wiki.make_vandalised_page("Unreachable", "Good text.", vandal_edits=1)
    async with _client(wiki, proxy, sleeps) as client:
        service = make_service(client, sqlite_session_factory, sleeps=sleeps)
        request_id = await ready_request(service, page.title)
        await proxy.close()
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        outcome = await service.execute(claimed)

    assert isinstance(outcome, Refused)
    assert outcome.request.status is RollbackStatus.FAILED
    assert outcome.request.error_code == "transport"
    assert len(sleeps.delays) == 3  # connect errors are retried (safe), then given up
    assert proxy.rollback_posts == 0
    assert_untouched(wiki, page)
