"""Issue 7 #3 on the real wiki: the rollback's answer is lost and the wiki commits it only
after the bot's follow-up read (a commit in flight, a lagging replica).

The fault proxy resets the client's connection at once, keeps the rollback POST, and forwards
it to the wiki after N more reads were answered. The record must say `succeeded` with the
revision the wiki made, and the page history must hold exactly one rollback by the bot.
Before the fix the client re-sent after its first read, got `alreadyrolled`, and the row was
recorded `failed: alreadyrolled` while the page was rolled back.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RollbackStatus
from bot.services.rollback import Claimed, Succeeded
from bot.services.settlement import SPREAD_DELAYS
from bot.wiki.client import WikiClient
from tests.faults.checks import assert_rolled_back_once
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.support import MODERATOR, Sleeps, make_client, make_service, ready_request
from tests.integration.conftest import devwiki


def _client(wiki: devwiki.RunningWiki, proxy: FaultProxy, sleeps: Sleeps) -> WikiClient:
    return make_client(
        proxy.api_url,
        username=wiki.rollbot_login.username,
        password=wiki.rollbot_login.password,
        user_agent=wiki.user_agent,
        timeout=2.0,
        sleeps=sleeps,
    )


@pytest.mark.parametrize(
    "case",
    [
        # Commits right after the first follow-up read: a later re-check within the window
        # sees it; nothing is sent again.
        (1, 1),
        # Commits only after every read of the window: the bot sends again, the wiki answers
        # `alreadyrolled`, and the history then shows the bot's own (first) rollback.
        (1 + len(SPREAD_DELAYS), 2),
    ],
    ids=["commit-after-first-read", "commit-after-whole-window"],
)
async def test_a_lost_answer_committed_after_the_next_read_is_recorded_succeeded(
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    sqlite_session_factory: async_sessionmaker[AsyncSession],
    sleeps: Sleeps,
    case: tuple[int, int],
) -> None:
    reads, posts = case  # commit after this many reads; POSTs the bot sends
    page = wiki.make_vandalised_page(f"Late commit {reads}", "Good text.", vandal_edits=2)
    async with _client(wiki, proxy, sleeps) as client:
        service = make_service(client, sqlite_session_factory, sleeps=sleeps)
        request_id = await ready_request(service, page.title)
        proxy.rollback_faults = [Fault.RESET_LATE_COMMIT]
        proxy.late_commit_after_reads = reads
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        outcome = await service.execute(claimed)

    assert isinstance(outcome, Succeeded), outcome
    row = outcome.request
    assert (row.status, row.error_code) == (RollbackStatus.SUCCEEDED, None)
    assert proxy.rollback_posts == posts
    assert proxy.rollbacks_forwarded == posts  # the late one, plus the re-send if any
    assert_rolled_back_once(wiki, page, row)
