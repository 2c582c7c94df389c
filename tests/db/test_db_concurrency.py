"""Confirm is exactly-once: racing compare-and-set transitions have exactly one winner.

Two engines on one database stand in for two bot processes (or the bot and its expiry sweeper);
each contender uses its own session, reads the row as a click handler would, then all of them
fire the UPDATE together.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackStatus
from tests.db.factories import RequestFactory

ROWS = 50
CONTENDERS = 4  # contender 0 is the expiry sweeper; the others are Confirm clicks


async def _contend(
    sessions: async_sessionmaker[AsyncSession],
    request_id: int,
    contender: int,
    start: asyncio.Barrier,
) -> bool:
    target = RollbackStatus.EXPIRED if contender == 0 else RollbackStatus.RUNNING
    async with sessions.begin() as session:
        row = await audit.get_request(session, request_id)  # the click-time check
        assert row is not None
        assert row.status is RollbackStatus.PENDING
        await start.wait()
        return await audit.transition(
            session,
            request_id,
            from_statuses=[RollbackStatus.PENDING],
            to=target,
            confirmed_by_id=contender,
        )


async def test_racing_transitions_have_exactly_one_winner(
    database_url: str, engine: AsyncEngine, make_request: RequestFactory
) -> None:
    other_process = create_engine(database_url)
    factories = [create_session_factory(engine), create_session_factory(other_process)]
    try:
        async with factories[0].begin() as session:
            requests = [await audit.add_request(session, make_request()) for _ in range(ROWS)]
        request_ids = [request.id for request in requests if request.id is not None]
        assert len(request_ids) == ROWS

        winners: list[int] = []
        for request_id in request_ids:
            start = asyncio.Barrier(CONTENDERS)
            results = await asyncio.gather(
                *(
                    _contend(factories[contender % 2], request_id, contender, start)
                    for contender in range(CONTENDERS)
                )
            )
            assert results.count(True) == 1, f"request {request_id}: {results}"
            winners.append(results.index(True))

        async with factories[1]() as session:
            for request_id, winner in zip(request_ids, winners, strict=True):
                row = await audit.get_request(session, request_id)
                assert row is not None
                expected = RollbackStatus.EXPIRED if winner == 0 else RollbackStatus.RUNNING
                assert (row.status, row.confirmed_by_id) == (expected, winner)
    finally:
        await other_process.dispose()
