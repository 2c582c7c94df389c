"""The audit repository on both databases: CAS semantics, round-trips, queries, no commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from tests.db.factories import SNOWFLAKE, RequestFactory

Sessions = async_sessionmaker[AsyncSession]


async def _add(sessions: Sessions, request: RollbackRequest) -> int:
    async with sessions.begin() as session:
        await audit.add_request(session, request)
    assert request.id is not None
    return request.id


async def _get(sessions: Sessions, request_id: int) -> RollbackRequest:
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


async def test_add_assigns_id_and_get_reads_it_back(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    async with session_factory.begin() as session:
        request = await audit.add_request(session, make_request(summary="rv vandalism"))
        assert request.id is not None  # flushed, not yet committed
    row = await _get(session_factory, request.id)
    assert row.summary == "rv vandalism"
    assert row.status is RollbackStatus.PENDING  # the enum, not a bare str
    assert not row.status.is_terminal


async def test_get_missing_request_is_none(session_factory: Sessions) -> None:
    async with session_factory() as session:
        assert await audit.get_request(session, 999_999) is None


async def test_repository_never_commits(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    async with session_factory() as session:
        request = await audit.add_request(session, make_request())
        request_id = request.id
        assert request_id is not None
        await session.rollback()
    async with session_factory() as session:
        assert await audit.get_request(session, request_id) is None


async def test_transition_from_allowed_status(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    request_id = await _add(session_factory, make_request())
    before = await _get(session_factory, request_id)
    confirmed_at = utcnow()
    async with session_factory.begin() as session:
        loaded = await audit.get_request(session, request_id)
        assert loaded is not None
        changed = await audit.transition(
            session,
            request_id,
            from_statuses={RollbackStatus.PENDING},
            to=RollbackStatus.RUNNING,
            confirmed_by_id=SNOWFLAKE + 3,
            confirmed_at=confirmed_at,
        )
        assert changed is True
        # The session's copy of the row follows the UPDATE.
        assert loaded.status is RollbackStatus.RUNNING
        assert loaded.confirmed_by_id == SNOWFLAKE + 3
    after = await _get(session_factory, request_id)
    assert after.status is RollbackStatus.RUNNING
    assert after.confirmed_by_id == SNOWFLAKE + 3
    assert after.confirmed_at == confirmed_at
    assert after.updated_at > before.updated_at
    assert after.created_at == before.created_at


async def test_transition_from_wrong_status_changes_nothing(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    request_id = await _add(session_factory, make_request(status=RollbackStatus.CANCELLED))
    before = await _get(session_factory, request_id)
    async with session_factory.begin() as session:
        changed = await audit.transition(
            session,
            request_id,
            from_statuses=[RollbackStatus.PENDING],
            to=RollbackStatus.RUNNING,
            confirmed_by_id=1,
        )
    assert changed is False
    after = await _get(session_factory, request_id)
    assert after.status is RollbackStatus.CANCELLED
    assert after.confirmed_by_id is None
    assert after.updated_at == before.updated_at


async def test_transition_of_missing_row_is_false(session_factory: Sessions) -> None:
    async with session_factory.begin() as session:
        assert not await audit.transition(
            session, 424242, from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.EXPIRED
        )


async def test_transition_accepts_several_from_statuses(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    request_id = await _add(session_factory, make_request(status=RollbackStatus.RUNNING))
    async with session_factory.begin() as session:
        assert await audit.transition(
            session,
            request_id,
            from_statuses=(RollbackStatus.PENDING, RollbackStatus.RUNNING),
            to=RollbackStatus.FAILED,
            error_code="badtoken",
            error_message="Invalid CSRF token.",
        )
    row = await _get(session_factory, request_id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "badtoken")
    assert row.status.is_terminal


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"no_such_column": 1}, "not columns of rollback_request: no_such_column"),
        ({"status": "succeeded"}, "cannot be set here: status"),
        ({"id": 7}, "cannot be set here: id"),
        ({"created_at": datetime(2020, 1, 1, tzinfo=UTC)}, "cannot be set here: created_at"),
    ],
)
async def test_transition_and_update_validate_columns(
    sqlite_session_factory: Sessions,
    make_request: RequestFactory,
    values: dict[str, object],
    message: str,
) -> None:
    request_id = await _add(sqlite_session_factory, make_request())
    async with sqlite_session_factory() as session:
        with pytest.raises(ValueError, match=message):
            await audit.transition(
                session,
                request_id,
                from_statuses=[RollbackStatus.PENDING],
                to=RollbackStatus.RUNNING,
                **values,
            )
        with pytest.raises(ValueError, match=message):
            await audit.update_request(session, request_id, **values)


async def test_transition_rejects_a_bare_status_and_an_empty_set(
    sqlite_session_factory: Sessions,
) -> None:
    async with sqlite_session_factory() as session:
        with pytest.raises(TypeError):
            await audit.transition(
                session,
                1,
                from_statuses=RollbackStatus.PENDING,  # type: ignore[arg-type]
                to=RollbackStatus.RUNNING,
            )
        with pytest.raises(ValueError, match="must not be empty"):
            await audit.transition(session, 1, from_statuses=[], to=RollbackStatus.RUNNING)


async def test_update_request_sets_values_and_updated_at_only(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    request_id = await _add(session_factory, make_request())
    before = await _get(session_factory, request_id)
    async with session_factory.begin() as session:
        await audit.update_request(
            session,
            request_id,
            prompt_message_id=SNOWFLAKE + 10,
            log_message_id=SNOWFLAKE + 11,
            log_post_error="Missing Access",
        )
    after = await _get(session_factory, request_id)
    assert after.prompt_message_id == SNOWFLAKE + 10
    assert after.log_message_id == SNOWFLAKE + 11
    assert after.log_post_error == "Missing Access"
    assert after.status is RollbackStatus.PENDING
    assert after.updated_at > before.updated_at
    async with session_factory() as session:
        with pytest.raises(ValueError, match="nothing to update"):
            await audit.update_request(session, request_id)


async def test_get_request_rereads_a_row_another_session_changed(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    request_id = await _add(session_factory, make_request())
    async with session_factory() as reader:
        first = await audit.get_request(reader, request_id)
        assert first is not None
        await reader.commit()  # end the read transaction; the object stays in the session
        async with session_factory.begin() as writer:
            assert await audit.transition(
                writer, request_id, from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.DENIED
            )
        again = await audit.get_request(reader, request_id)
        assert again is first
        assert again.status is RollbackStatus.DENIED


async def test_datetimes_round_trip_as_aware_utc(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    plus_two = timezone(timedelta(hours=2))
    expires = datetime(2030, 6, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    request_id = await _add(session_factory, make_request(expires_at=expires))
    row = await _get(session_factory, request_id)
    assert row.expires_at == expires
    assert row.expires_at is not None
    assert row.expires_at.utcoffset() == timedelta(0)
    assert row.expires_at.hour == 12  # stored and returned as UTC
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == timedelta(0)


async def test_naive_datetime_is_refused(
    sqlite_session_factory: Sessions, make_request: RequestFactory
) -> None:
    async with sqlite_session_factory() as session:
        with pytest.raises(StatementError, match="naive datetime"):
            await audit.add_request(session, make_request(expires_at=datetime(2030, 1, 1)))  # noqa: DTZ001
        with pytest.raises(ValueError, match="timezone-aware"):
            await audit.expired_pending(session, now=datetime(2030, 1, 1))  # noqa: DTZ001


async def test_snowflakes_and_big_revision_ids_round_trip(
    session_factory: Sessions, make_request: RequestFactory
) -> None:
    big = 2**62 + 12345  # well past 32 bits; Wikidata revision ids are past 2**31 already
    fields = {
        "channel_id": SNOWFLAKE + 1,
        "page_id": big,
        "top_revid": big + 1,
        "restored_revid": big + 2,
        "revid": big + 3,
        "old_revid": big + 4,
        "last_revid": big + 5,
        "confirmed_by_id": SNOWFLAKE + 6,
        "prompt_message_id": SNOWFLAKE + 7,
        "log_message_id": SNOWFLAKE + 8,
    }
    request_id = await _add(session_factory, make_request(**fields))
    row = await _get(session_factory, request_id)
    assert row.guild_id == SNOWFLAKE
    assert row.requester_id == SNOWFLAKE + 2
    assert {name: getattr(row, name) for name in fields} == fields


async def test_unknown_status_word_is_refused(
    sqlite_session_factory: Sessions, make_request: RequestFactory
) -> None:
    async with sqlite_session_factory() as session:
        with pytest.raises(StatementError, match="is not a valid RollbackStatus"):
            await audit.add_request(session, make_request(status="done"))


async def test_expired_pending(session_factory: Sessions, make_request: RequestFactory) -> None:
    now = utcnow()
    past, future = now - timedelta(seconds=1), now + timedelta(minutes=5)
    expired_a = await _add(session_factory, make_request(expires_at=past - timedelta(hours=1)))
    await _add(session_factory, make_request(expires_at=future))
    await _add(session_factory, make_request(expires_at=None))
    await _add(session_factory, make_request(expires_at=past, status=RollbackStatus.CANCELLED))
    await _add(session_factory, make_request(expires_at=past, status=RollbackStatus.RUNNING))
    expired_b = await _add(session_factory, make_request(expires_at=past))
    await _add(session_factory, make_request(expires_at=now))  # not strictly before now
    async with session_factory() as session:
        rows = await audit.expired_pending(session, now=now)
    assert [row.id for row in rows] == [expired_a, expired_b]
    assert all(row.status is RollbackStatus.PENDING for row in rows)


async def test_running_requests(session_factory: Sessions, make_request: RequestFactory) -> None:
    ids = {
        status: await _add(session_factory, make_request(status=status))
        for status in RollbackStatus
    }
    second_running = await _add(session_factory, make_request(status=RollbackStatus.RUNNING))
    async with session_factory() as session:
        rows = await audit.running_requests(session)
    assert [row.id for row in rows] == [ids[RollbackStatus.RUNNING], second_running]
