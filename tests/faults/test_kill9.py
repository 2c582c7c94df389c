"""kill -9 of the bot between `running` and the wiki's answer, then a restart.

A real child process (bot_process.py: the real service, client and engine) presses Confirm; its
wiki traffic goes through the fault proxy, which holds the rollback POST either before forwarding
it (the wiki never acts) or after the wiki has acted (the answer never arrives). The test then
SIGKILLs the child. A fresh service on the same database, started "later" (its clock past every
prompt's expiry), must:

- answer a click on an overdue prompt with Expired, not an exception;
- reconcile the `running` row against the page history: `succeeded` with the wiki's revids if the
  wiki acted, `failed`/`interrupted` if not; and expire the other overdue prompt;
- answer clicks on the settled prompts with NotPending.

On a SQLite file and on PostgreSQL. One rollback POST at most, and at most one rollback revision.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackStatus, utcnow
from bot.services.rollback import Expired, NotPending
from bot.wiki.client import WikiClient
from tests.faults.checks import assert_rolled_back_once, assert_untouched
from tests.faults.processes import BotProcess
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.support import (
    CONFIRM_TIMEOUT,
    MODERATOR,
    make_client,
    make_service,
    ready_request,
)
from tests.integration.conftest import devwiki

EVENT_TIMEOUT = 30.0


@pytest.mark.parametrize(
    "fault", [Fault.HOLD_UNSENT, Fault.HOLD_ANSWER], ids=["before-wiki-acted", "after-wiki-acted"]
)
async def test_kill9_mid_rollback_is_reconciled_at_the_next_start(
    *,
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    database_url: str,
    engine: AsyncEngine,  # migrates the database
    tmp_path: Path,
    fault: Fault,
) -> None:
    page = wiki.make_vandalised_page("Killed mid-rollback", "Good text.", vandal_edits=2)
    other = wiki.make_vandalised_page("Left pending", "Other text.", vandal_edits=1)

    def direct_client() -> WikiClient:
        return make_client(
            wiki.api_url,
            username=wiki.rollbot_login.username,
            password=wiki.rollbot_login.password,
            user_agent=wiki.user_agent,
        )

    # The first run: three prompts; the moderator confirms the first in the bot process.
    async with direct_client() as client:
        first_run = make_service(client, create_session_factory(engine))
        killed_id = await ready_request(first_run, page.title)
        pending_ids = [await ready_request(first_run, other.title) for _ in range(2)]

    proxy.rollback_faults = [fault]
    bot = await BotProcess.start(
        db_url=database_url, api_url=proxy.api_url, wiki=wiki, stderr_path=tmp_path / "bot.err"
    )
    try:
        await bot.ready()
        bot.go(killed_id)
        moment = proxy.rollback_arrived if fault is Fault.HOLD_UNSENT else proxy.rollback_answered
        await asyncio.wait_for(moment.wait(), EVENT_TIMEOUT)
        assert await bot.kill() == -signal.SIGKILL
    finally:
        await bot.close()
    assert proxy.rollback_posts == 1
    assert proxy.rollbacks_forwarded == (1 if fault is Fault.HOLD_ANSWER else 0)

    # The next start, after every prompt's expiry: fresh engine, fresh client, straight to the wiki.
    def later() -> datetime:
        return utcnow() + CONFIRM_TIMEOUT + CONFIRM_TIMEOUT

    restarted_engine = create_engine(database_url)
    try:
        async with direct_client() as client:
            service = make_service(client, create_session_factory(restarted_engine), clock=later)
            row = await service.get(killed_id)
            assert row is not None
            assert row.status is RollbackStatus.RUNNING  # what the crash left

            # A click on an overdue prompt before the sweep: a clear answer.
            clicked = await service.claim(pending_ids[0], MODERATOR)
            assert isinstance(clicked, Expired)

            settled = await service.reconcile()
            assert sorted(r.id or 0 for r in settled) == sorted([killed_id, pending_ids[1]])

            # Clicks on the old prompts after the restart: answered, nothing sent.
            for request_id in (killed_id, *pending_ids):
                assert isinstance(await service.claim(request_id, MODERATOR), NotPending)
            row = await service.get(killed_id)
            swept = await service.get(pending_ids[1])
    finally:
        await restarted_engine.dispose()

    assert row is not None
    assert swept is not None
    assert swept.status is RollbackStatus.EXPIRED
    if fault is Fault.HOLD_ANSWER:
        assert_rolled_back_once(wiki, page, row)
    else:
        assert (row.status, row.error_code) == (RollbackStatus.FAILED, "interrupted")
        assert row.revid is None
        assert_untouched(wiki, page)
    assert proxy.rollback_posts == 1  # the restart re-sent nothing
