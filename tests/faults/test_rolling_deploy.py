"""Issue 7 #2 with real processes: a second bot process starts (a rolling deploy) while the
first one's rollback POST is held by the wiki, on a SQLite file and on PostgreSQL.

The first process claims the request and sends the rollback; the fault proxy holds the POST.
The second process starts and runs its start-up settlement (`reconcile`). It must leave the
row alone: the first process holds a live lease on it. Then the wiki acts, and the first
process records `succeeded`. Before the fix (ed3f4f9) the second process settled the row
`failed`/`interrupted` (the history did not show the rollback yet), the first process's
compare-and-set then lost and the loss was ignored: the page was rolled back, the row said
`failed`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_session_factory
from bot.db.models import RollbackStatus
from tests.faults.checks import assert_rolled_back_once
from tests.faults.processes import BotProcess
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.support import make_client, make_service, ready_request
from tests.integration.conftest import devwiki

EVENT_TIMEOUT = 30.0


async def test_a_process_starting_mid_rollback_leaves_it_to_its_owner(
    *,
    wiki: devwiki.RunningWiki,
    proxy: FaultProxy,
    database_url: str,
    engine: AsyncEngine,  # migrates the database
    tmp_path: Path,
) -> None:
    page = wiki.make_vandalised_page("Rolling deploy", "Good text.", vandal_edits=2)
    async with make_client(
        wiki.api_url,
        username=wiki.rollbot_login.username,
        password=wiki.rollbot_login.password,
        user_agent=wiki.user_agent,
    ) as client:
        service = make_service(client, create_session_factory(engine))
        request_id = await ready_request(service, page.title)

        proxy.rollback_faults = [Fault.HOLD_UNTIL_RELEASED]
        old = await BotProcess.start(
            db_url=database_url, api_url=proxy.api_url, wiki=wiki, stderr_path=tmp_path / "a.err"
        )
        new = await BotProcess.start(
            db_url=database_url, api_url=proxy.api_url, wiki=wiki, stderr_path=tmp_path / "b.err"
        )
        try:
            await asyncio.gather(old.ready(), new.ready())
            old.go(request_id)
            async with asyncio.timeout(EVENT_TIMEOUT):
                await proxy.rollback_arrived.wait()  # the old process is waiting on the wiki

            new.reconcile()
            assert (await new.answer()) == {"settled": []}
            row = await service.get(request_id)
            assert row is not None
            assert row.status is RollbackStatus.RUNNING

            proxy.release.set()  # the wiki acts and answers
            report = await old.answer()
        finally:
            await asyncio.gather(old.close(), new.close())

        row = await service.get(request_id)
    assert report["outcome"] == "Succeeded", report
    assert row is not None
    assert proxy.rollback_posts == proxy.rollbacks_forwarded == 1
    assert_rolled_back_once(wiki, page, row)
