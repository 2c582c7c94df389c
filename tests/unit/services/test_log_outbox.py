"""The log outbox's decisions on a real database, with a scripted sender in place of Discord:
retries and their timing, permanent failures, the pinned channel, denial folding (also with
two processes delivering at once)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.log_outbox import (
    Delivery,
    FoldedDenials,
    GaveUp,
    LogOutbox,
    Posted,
    RetryPolicy,
    SendResult,
    TryLater,
    nonce_for,
)
from tests.unit.services.fakes import T0, Clock

Sessions = async_sessionmaker[AsyncSession]

GUILD = 999
CHANNEL = 555
MEMBER, OTHER_MEMBER = 3, 4
_message_ids = itertools.count(10_000)


@dataclass
class ScriptedSender:
    """Answers from `script` in order (then `Posted`), recording every delivery."""

    script: list[SendResult] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    posted: list[int] = field(default_factory=list)

    async def deliver(self, delivery: Delivery) -> SendResult:
        self.deliveries.append(delivery)
        await asyncio.sleep(0)  # a real send yields: let another poster interleave
        if self.script:
            return self.script.pop(0)
        self.posted.append(next(_message_ids))
        return Posted(self.posted[-1])


@dataclass
class Channels:
    channel_id: int | None = CHANNEL

    async def log_channel_id(self, guild_id: int) -> int | None:
        return self.channel_id


def make_outbox(
    sessions: Sessions,
    sender: ScriptedSender,
    clock: Clock,
    channels: Channels | None = None,
) -> LogOutbox:
    return LogOutbox(
        sessions=sessions,
        sender=sender,
        channels=channels or Channels(),
        clock=clock,
        policy=RetryPolicy(rng=lambda: 1.0),  # no jitter: the full back-off
    )


async def add(sessions: Sessions, clock: Clock, **fields: Any) -> int:
    """An ended request as the service records it (so it enters the outbox), made at `clock`."""
    values: dict[str, Any] = {
        "guild_id": GUILD,
        "requester_id": MEMBER,
        "requester_name": "Member",
        "wiki_api_url": "https://wiki.example/w/api.php",
        "page_title": "Main Page",
        "target_user": "Vandal",
        "status": RollbackStatus.SUCCEEDED,
        "created_at": clock(),
        "updated_at": clock(),
        **fields,
    }
    async with sessions.begin() as session:
        row = await audit.add_request(session, RollbackRequest(**values))
    assert row.id is not None
    return row.id


async def deny(sessions: Sessions, clock: Clock, member: int = MEMBER) -> int:
    return await add(sessions, clock, status=RollbackStatus.DENIED, requester_id=member)


async def read(sessions: Sessions, request_id: int) -> RollbackRequest:
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


# ---- retries ---------------------------------------------------------------------------------


async def test_a_transient_failure_is_retried_after_the_back_off_then_posted(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    sender = ScriptedSender([TryLater("Discord answered 502"), TryLater("Discord answered 502")])
    poster = make_outbox(session_factory, sender, clock)
    request_id = await add(session_factory, clock)

    assert await poster.deliver(request_id) == "pending"
    row = await read(session_factory, request_id)
    assert (row.log_attempts, row.log_next_at) == (1, T0 + timedelta(seconds=2))
    assert row.log_post_error == "Discord answered 502; retrying"
    assert await poster.deliver_due() == 0  # not due yet: nothing sent
    assert len(sender.deliveries) == 1

    clock.advance(2)
    await poster.deliver_due()
    assert (await read(session_factory, request_id)).log_next_at == clock() + timedelta(seconds=4)
    clock.advance(4)
    assert await poster.deliver_due() == 1

    row = await read(session_factory, request_id)
    assert (row.log_state, row.log_attempts, row.log_post_error) == ("posted", 3, None)
    assert (row.log_message_id, row.log_channel_id) == (sender.posted[0], CHANNEL)
    assert [d.nonce for d in sender.deliveries] == [nonce_for(row)] * 3  # the same every time
    assert await poster.deliver_due() == 0


async def test_one_sweep_delivers_a_backlog_batch_by_batch(session_factory: Sessions) -> None:
    clock = Clock()
    sender = ScriptedSender([TryLater("Discord answered 503")])  # the oldest one fails again
    poster = LogOutbox(
        sessions=session_factory, sender=sender, channels=Channels(), clock=clock, batch=3
    )
    ids = [await add(session_factory, clock, requester_id=n) for n in range(10)]

    assert await poster.deliver_due() == 9
    assert [d.request.id for d in sender.deliveries] == ids  # each once, oldest first
    assert (await read(session_factory, ids[0])).log_state == "pending"


async def test_discords_retry_after_is_honoured(session_factory: Sessions) -> None:
    clock = Clock()
    sender = ScriptedSender([TryLater("rate limited by Discord", retry_after=42.0)])
    poster = make_outbox(session_factory, sender, clock)
    request_id = await add(session_factory, clock)

    await poster.deliver(request_id)
    assert (await read(session_factory, request_id)).log_next_at >= T0 + timedelta(seconds=42)
    clock.advance(41)
    await poster.deliver_due()
    assert len(sender.deliveries) == 1
    clock.advance(2)
    await poster.deliver_due()
    assert (await read(session_factory, request_id)).log_state == "posted"


async def test_a_permanent_failure_is_recorded_and_never_retried(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    sender = ScriptedSender([GaveUp("no permission to post in the log channel")])
    poster = make_outbox(session_factory, sender, clock)
    request_id = await add(session_factory, clock)

    assert await poster.deliver(request_id) == "failed"
    clock.advance(3600)
    await poster.deliver_due()
    row = await read(session_factory, request_id)
    assert (row.log_state, row.log_post_error, row.log_channel_id) == (
        "failed",
        "no permission to post in the log channel",
        CHANNEL,
    )
    assert len(sender.deliveries) == 1


async def test_a_retry_goes_to_the_channel_of_the_first_attempt(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    channels = Channels()
    sender = ScriptedSender([TryLater("Discord answered 500")])
    poster = make_outbox(session_factory, sender, clock, channels)
    request_id = await add(session_factory, clock)
    await poster.deliver(request_id)

    channels.channel_id = CHANNEL + 1  # an admin moved the log meanwhile
    clock.advance(60)
    await poster.deliver_due()
    assert [d.channel_id for d in sender.deliveries] == [CHANNEL, CHANNEL]
    assert (await read(session_factory, request_id)).log_channel_id == CHANNEL


async def test_nothing_is_posted_without_a_log_channel_or_for_rows_outside_the_outbox(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    sender = ScriptedSender()
    request_id = await add(session_factory, clock)
    assert (
        await make_outbox(session_factory, sender, clock, Channels(None)).deliver(request_id)
        is None
    )
    row = await read(session_factory, request_id)
    assert (row.log_state, row.log_post_error, row.log_message_id) == (None, None, None)

    legacy = await add(session_factory, clock)
    async with session_factory.begin() as session:  # as rows from before migration 0003
        await audit.update_request(session, legacy, log_state=None)
    poster = make_outbox(session_factory, sender, clock)
    assert await poster.deliver(legacy) is None
    assert await poster.deliver_due() == 0
    assert sender.deliveries == []


async def test_a_row_corrected_after_its_post_edits_that_message(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    sender = ScriptedSender()
    poster = make_outbox(session_factory, sender, clock)
    request_id = await add(session_factory, clock, status=RollbackStatus.RUNNING)
    async with session_factory.begin() as session:
        await audit.transition(
            session,
            request_id,
            from_statuses=[RollbackStatus.RUNNING],
            to=RollbackStatus.FAILED,
            updated_at=clock(),
        )
    await poster.deliver(request_id)
    posted = await read(session_factory, request_id)

    clock.advance(600)  # the re-check found the rollback in the page history
    async with session_factory.begin() as session:
        await audit.transition(
            session,
            request_id,
            from_statuses=[RollbackStatus.FAILED],
            to=RollbackStatus.SUCCEEDED,
            updated_at=clock(),
        )
    await poster.deliver_due()

    first, second = sender.deliveries
    assert first.edit_message_id is None
    assert second.edit_message_id == posted.log_message_id
    assert second.request.status == RollbackStatus.SUCCEEDED
    assert first.nonce != second.nonce  # a new outcome is never mistaken for the old post
    assert (await read(session_factory, request_id)).log_state == "posted"


# ---- denial folding ----------------------------------------------------------------------------


async def test_a_members_quick_denials_fold_into_their_next_post(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    sender = ScriptedSender()
    poster = make_outbox(session_factory, sender, clock)
    states = []
    for _ in range(5):
        states.append(await poster.deliver(await deny(session_factory, clock)))
        clock.advance(1)
    other = await deny(session_factory, clock, member=OTHER_MEMBER)  # someone else: own count
    states.append(await poster.deliver(other))
    assert states == ["posted", "folded", "folded", "folded", "folded", "posted"]

    clock.advance(60)  # 65 s after the first post
    sixth = await deny(session_factory, clock)
    assert await poster.deliver(sixth) == "posted"
    assert [d.folded for d in sender.deliveries] == [
        None,
        None,
        FoldedDenials(count=4, span=timedelta(seconds=65)),
    ]
    clock.advance(61)
    await poster.deliver(await deny(session_factory, clock))
    assert sender.deliveries[-1].folded is None  # the four were counted once


async def test_a_denial_waits_while_the_members_earlier_one_is_retried(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    sender = ScriptedSender([TryLater("connection to Discord failed")])
    poster = make_outbox(session_factory, sender, clock)
    first = await deny(session_factory, clock)
    assert await poster.deliver(first) == "pending"
    second = await deny(session_factory, clock)
    assert await poster.deliver(second) is None  # undecided until the first is settled
    row = await read(session_factory, second)
    assert (row.log_state, row.log_attempts, row.log_claim_until) == ("pending", 0, None)

    clock.advance(2)
    await poster.deliver_due()
    assert (await read(session_factory, first)).log_state == "posted"
    await poster.deliver_due()
    assert (await read(session_factory, second)).log_state == "folded"
    assert len(sender.deliveries) == 2


async def test_two_processes_fold_a_flood_into_one_post_per_member(
    database_url: str, engine: AsyncEngine
) -> None:
    other_engine = create_engine(database_url)
    try:
        clock = Clock()
        sessions = [create_session_factory(engine), create_session_factory(other_engine)]
        sender = ScriptedSender()  # one Discord, two posting processes
        posters = [make_outbox(s, sender, clock) for s in sessions]
        members = [MEMBER, OTHER_MEMBER, 5]
        ids = [await deny(sessions[0], clock, member) for _ in range(8) for member in members]

        for _ in range(10):  # sweeps of both processes at once, until nothing is left
            await asyncio.gather(*(poster.deliver_due() for poster in posters))
        states = [(await read(sessions[1], i)).log_state for i in ids]
        assert states.count("posted") == 3
        assert states.count("folded") == 21
        assert sorted(d.request.requester_id for d in sender.deliveries) == sorted(members)
    finally:
        await other_engine.dispose()


# ---- the back-off ------------------------------------------------------------------------------


@given(
    attempts=st.integers(min_value=1, max_value=40),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
    retry_after=st.none() | st.floats(min_value=0, max_value=3600),
)
def test_the_back_off_doubles_is_capped_jittered_and_never_earlier_than_retry_after(
    attempts: int, jitter: float, retry_after: float | None
) -> None:
    policy = RetryPolicy(base=2.0, cap=300.0, rng=lambda: jitter)
    seconds = policy.delay(attempts, retry_after).total_seconds()
    backoff = min(300.0, 2.0 * 2 ** (attempts - 1))
    microsecond = 1e-6  # the delay is rounded up to whole microseconds
    assert seconds >= backoff / 2
    if retry_after is None:
        assert seconds <= backoff + microsecond
    else:
        assert seconds >= retry_after
        assert seconds <= max(backoff, retry_after + 1) + microsecond


@pytest.mark.parametrize("status", [RollbackStatus.SUCCEEDED, RollbackStatus.DENIED])
def test_the_nonce_fits_discord_and_depends_on_row_and_outcome(status: RollbackStatus) -> None:
    row = RollbackRequest(id=123456789012, guild_id=2**62, status=status)
    nonce = nonce_for(row)
    assert len(nonce) <= 25
    assert nonce == nonce_for(RollbackRequest(id=123456789012, guild_id=2**62, status=status))
    assert nonce != nonce_for(RollbackRequest(id=123456789013, guild_id=2**62, status=status))
    assert nonce != nonce_for(
        RollbackRequest(id=123456789012, guild_id=2**62, status=RollbackStatus.FAILED)
    )
