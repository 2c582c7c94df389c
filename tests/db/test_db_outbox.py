"""The log outbox repository: which rows are due, the claim compare-and-set, recording results."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import audit, outbox
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackRequest, RollbackStatus
from tests.db.factories import SNOWFLAKE, RequestFactory

Sessions = async_sessionmaker[AsyncSession]

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
CHANNEL = SNOWFLAKE + 20


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def add(sessions: Sessions, make_request: RequestFactory, **fields: Any) -> int:
    """An ended row as the service writes it (it enters the outbox), with `fields` on top."""
    fields.setdefault("status", RollbackStatus.SUCCEEDED)
    fields.setdefault("created_at", fields.get("updated_at", NOW))
    fields.setdefault("updated_at", fields["created_at"])
    async with sessions.begin() as session:
        row = await audit.add_request(session, make_request(**fields))
    assert row.id is not None
    return row.id


async def read(sessions: Sessions, request_id: int) -> RollbackRequest:
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


async def due_ids(sessions: Sessions, *, now: datetime = NOW, limit: int = 100) -> list[int]:
    async with sessions() as session:
        return [row.id for row in await outbox.due(session, now=now, limit=limit) if row.id]


async def claim(sessions: Sessions, request_id: int, *, now: datetime = NOW) -> datetime | None:
    """The claim token, or None if the row could not be claimed."""
    async with sessions.begin() as session:
        row = await outbox.claim(session, request_id, now=now, lease=LEASE)
    return None if row is None else row.log_claim_until


async def test_due_rows_are_pending_due_unclaimed_and_oldest_first(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    sessions = session_factory
    newest = await add(sessions, make_request, updated_at=at(-1))
    oldest = await add(sessions, make_request, updated_at=at(-3))
    middle = await add(sessions, make_request, updated_at=at(-2))
    lapsed_claim = await add(sessions, make_request, updated_at=at(-200))
    assert await claim(sessions, lapsed_claim, now=at(-200)) == at(-200) + LEASE  # < NOW
    live_claim = await add(sessions, make_request, updated_at=at(-2.5))
    assert await claim(sessions, live_claim) is not None
    await add(sessions, make_request, updated_at=at(5))  # not due yet
    for state in (outbox.LOG_POSTED, outbox.LOG_FOLDED, outbox.LOG_FAILED):
        await add(sessions, make_request, updated_at=at(-9), log_state=state)
    async with sessions.begin() as session:  # a row from before the outbox: log_state NULL
        session.add(make_request(status=RollbackStatus.SUCCEEDED, updated_at=at(-9)))

    assert await due_ids(sessions) == [lapsed_claim, oldest, middle, newest]
    assert await due_ids(sessions, limit=2) == [lapsed_claim, oldest]


async def test_a_members_denials_wait_behind_their_earlier_pending_denial(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    sessions = session_factory
    member, other = SNOWFLAKE + 2, SNOWFLAKE + 3
    denied = {"status": RollbackStatus.DENIED}
    first = await add(sessions, make_request, requester_id=member, updated_at=at(-5), **denied)
    token = await claim(sessions, first)
    assert token is not None
    async with sessions.begin() as session:  # its post failed; the retry is due in 10 s
        assert await outbox.schedule_retry(
            session, first, claim_token=token, next_at=at(10), error="x", channel_id=CHANNEL
        )
    second = await add(sessions, make_request, requester_id=member, updated_at=at(-4), **denied)
    others = await add(sessions, make_request, requester_id=other, updated_at=at(-3), **denied)
    rollback = await add(sessions, make_request, requester_id=member, updated_at=at(-2))

    assert await due_ids(sessions) == [others, rollback]  # not `second`: it waits for `first`
    async with sessions() as session:
        assert await outbox.has_earlier_pending_denial(session, await read(sessions, second))

    token = await claim(sessions, first, now=at(10))
    assert token is not None
    async with sessions.begin() as session:
        await outbox.mark_posted(
            session,
            first,
            claim_token=token,
            message_id=77,
            channel_id=CHANNEL,
            status=RollbackStatus.DENIED,
        )
    assert await due_ids(sessions, now=at(10)) == [second, others, rollback]


async def test_a_retry_is_recorded_under_the_claim_and_due_at_its_time(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    sessions = session_factory
    request_id = await add(sessions, make_request)
    token = await claim(sessions, request_id)
    assert token == NOW + LEASE
    assert await claim(sessions, request_id) is None  # held

    async with sessions.begin() as session:
        assert await outbox.schedule_retry(
            session,
            request_id,
            claim_token=token,
            next_at=at(4),
            error="Discord answered 502; retrying",
            channel_id=CHANNEL,
        )
    row = await read(sessions, request_id)
    assert (row.log_state, row.log_attempts, row.log_next_at) == ("pending", 1, at(4))
    assert (row.log_claim_until, row.log_channel_id) == (None, CHANNEL)
    assert row.log_post_error == "Discord answered 502; retrying"
    assert row.updated_at == NOW  # the request itself did not change
    assert await claim(sessions, request_id, now=at(3)) is None  # not due yet

    token = await claim(sessions, request_id, now=at(4))
    assert token is not None
    async with sessions.begin() as session:
        assert await outbox.mark_posted(
            session,
            request_id,
            claim_token=token,
            message_id=SNOWFLAKE + 99,
            channel_id=CHANNEL,
            status=RollbackStatus.SUCCEEDED,
        )
    row = await read(sessions, request_id)
    assert (row.log_state, row.log_attempts, row.log_message_id) == ("posted", 2, SNOWFLAKE + 99)
    assert (row.log_post_error, row.log_claim_until) == (None, None)
    assert await claim(sessions, request_id, now=at(99)) is None  # posted: never again


async def test_a_poster_whose_claim_lapsed_cannot_record_over_the_next_one(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    sessions = session_factory
    request_id = await add(sessions, make_request)
    slow = await claim(sessions, request_id)
    assert slow is not None
    later = NOW + LEASE + timedelta(seconds=1)
    fast = await claim(sessions, request_id, now=later)  # the slow one's lease lapsed
    assert fast is not None
    async with sessions.begin() as session:
        assert await outbox.mark_failed(
            session, request_id, claim_token=fast, error="log channel not found", channel_id=1
        )
    async with sessions.begin() as session:
        assert not await outbox.mark_posted(
            session,
            request_id,
            claim_token=slow,
            message_id=5,
            channel_id=1,
            status=RollbackStatus.SUCCEEDED,
        )
        assert not await outbox.mark_folded(session, request_id, claim_token=slow)
    row = await read(sessions, request_id)
    assert (row.log_state, row.log_post_error, row.log_message_id) == (
        "failed",
        "log channel not found",
        None,
    )


@pytest.mark.parametrize(
    ("mark", "state"),
    [(outbox.mark_folded, "folded"), (outbox.mark_unposted, None), (outbox.release, "pending")],
)
async def test_folded_unposted_and_released_rows(
    session_factory: Sessions, make_request: RequestFactory, mark: Any, state: str | None
) -> None:
    sessions = session_factory
    request_id = await add(sessions, make_request, status=RollbackStatus.DENIED)
    token = await claim(sessions, request_id)
    async with sessions.begin() as session:
        assert await mark(session, request_id, claim_token=token)
    row = await read(sessions, request_id)
    assert (row.log_state, row.log_attempts, row.log_claim_until) == (state, 0, None)
    # Released (handed back untried): claimable again at once; the others never.
    assert (await claim(sessions, request_id) is not None) is (state == "pending")


async def test_two_processes_claim_each_row_once(
    database_url: str, engine: AsyncEngine, make_request: RequestFactory
) -> None:
    other_process = create_engine(database_url)
    factories = [create_session_factory(engine), create_session_factory(other_process)]
    try:
        ids = [await add(factories[0], make_request) for _ in range(30)]

        async def contend(sessions: Sessions, request_id: int, start: asyncio.Barrier) -> bool:
            await start.wait()
            return await claim(sessions, request_id) is not None

        for request_id in ids:
            start = asyncio.Barrier(4)
            won = await asyncio.gather(
                *(contend(factories[i % 2], request_id, start) for i in range(4))
            )
            assert won.count(True) == 1, (request_id, won)
        assert await due_ids(factories[1]) == []  # all held
    finally:
        await other_process.dispose()


async def test_a_row_corrected_while_it_was_being_posted_stays_due_for_an_edit(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    sessions = session_factory
    request_id = await add(sessions, make_request, status=RollbackStatus.FAILED)
    token = await claim(sessions, request_id)
    assert token is not None
    async with sessions.begin() as session:  # settlement corrects it mid-post
        assert await audit.transition(
            session,
            request_id,
            from_statuses=[RollbackStatus.FAILED],
            to=RollbackStatus.SUCCEEDED,
            updated_at=at(1),
        )
    async with sessions.begin() as session:  # the post of the old outcome comes back
        assert await outbox.mark_posted(
            session,
            request_id,
            claim_token=token,
            message_id=SNOWFLAKE + 7,
            channel_id=CHANNEL,
            status=RollbackStatus.FAILED,
        )
    row = await read(sessions, request_id)
    assert (row.log_state, row.log_message_id, row.log_claim_until) == (
        "pending",
        SNOWFLAKE + 7,
        None,
    )
    assert await due_ids(sessions, now=at(1)) == [request_id]  # next: edit it to "succeeded"
