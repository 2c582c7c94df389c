"""Two bot processes on one PostgreSQL receive the same Confirm: exactly one rollback.

Two real OS processes (bot_process.py: the real service, client and engine each), both logged in
to the real wiki through the counting proxy. For each of REQUESTS prompts the test sends the same
"go <id>" to both at once (the order alternating), so both run claim() concurrently; the
database's compare-and-set lets one win. Checked per request and in total: one Claimed + one
NotPending, one `action=rollback` POST, one rollback revision in the page's history, the row
`succeeded` with the revids the history shows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackStatus
from tests.conftest import migrated_engine, postgres_base_url, scratch_postgres_database
from tests.faults.checks import assert_rolled_back_once
from tests.faults.processes import BotProcess
from tests.faults.proxy import FaultProxy
from tests.faults.support import make_client, make_service, ready_request
from tests.integration.conftest import devwiki

REQUESTS = 20

pytestmark = pytest.mark.postgres


async def test_two_processes_same_confirm_roll_back_once(
    wiki: devwiki.RunningWiki, proxy: FaultProxy, tmp_path: Path
) -> None:
    pages = [
        wiki.make_vandalised_page(f"Raced {i}", f"Good text {i}.", vandal_edits=1)
        for i in range(REQUESTS)
    ]
    async with scratch_postgres_database(postgres_base_url()) as url:
        async with (
            migrated_engine(url) as engine,
            make_client(
                wiki.api_url,
                username=wiki.rollbot_login.username,
                password=wiki.rollbot_login.password,
                user_agent=wiki.user_agent,
            ) as client,
        ):
            service = make_service(client, create_session_factory(engine))
            request_ids = [await ready_request(service, page.title) for page in pages]

        bots = [
            await BotProcess.start(
                db_url=url, api_url=proxy.api_url, wiki=wiki, stderr_path=tmp_path / f"bot{n}.err"
            )
            for n in range(2)
        ]
        wins = [0, 0]
        lost_in_database = 0  # the loser got as far as the UPDATE (else it saw `running` first)
        try:
            await asyncio.gather(*(bot.ready() for bot in bots))
            for i, request_id in enumerate(request_ids):
                order = bots if i % 2 == 0 else bots[::-1]
                for bot in order:  # back to back: both processes wake to claim together
                    bot.go(request_id)
                reports = await asyncio.gather(*(bot.answer() for bot in bots))
                claims = sorted(report["claim"] for report in reports)
                assert claims == ["Claimed", "NotPending"], reports
                winner = next(n for n, r in enumerate(reports) if r["claim"] == "Claimed")
                assert reports[winner]["outcome"] == "Succeeded", reports
                wins[winner] += 1
                lost_in_database += reports[1 - winner]["lost_cas"]
        finally:
            await asyncio.gather(*(bot.close() for bot in bots))

        check_engine = create_engine(url)
        try:
            service = make_service(client, create_session_factory(check_engine))
            rows = [await service.get(request_id) for request_id in request_ids]
        finally:
            await check_engine.dispose()

    assert proxy.rollback_posts == proxy.rollbacks_forwarded == REQUESTS
    for page, row in zip(pages, rows, strict=True):
        assert row is not None
        assert row.status is RollbackStatus.SUCCEEDED
        assert_rolled_back_once(wiki, page, row)
    print(
        f"two processes, {REQUESTS} races: wins per process {wins}, "
        f"{lost_in_database} decided by the database's compare-and-set"
    )
