"""Saved searches (`bot.db.log_search`, `HistoryService.search / page`) on SQLite and PostgreSQL.

What the pager relies on: the filters come back exactly (snowflakes, microseconds, zones), the
total is stored, old searches are pruned and their ids never reused, and a cursor that went
through a custom_id still lands on the same rows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import history, log_search
from bot.db.history import Count, Cursor, SearchFilters
from bot.db.log_search import KEEP_SEARCHES, LogSearch
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.history import HistoryService
from bot.ui.history import PAGE_CUSTOM_ID, PageClick
from tests.db.factories import SNOWFLAKE, build_request
from tests.unit.services.fakes import Clock

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SEARCHER = SNOWFLAKE + 7


async def _add_rows(sessions: Sessions, *rows: RollbackRequest) -> list[int]:
    async with sessions.begin() as session:
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows if row.id is not None]


def _row(when: datetime, **overrides: Any) -> RollbackRequest:
    fields: dict[str, Any] = {"created_at": when, "updated_at": when}
    fields.update({"status": RollbackStatus.SUCCEEDED, **overrides})
    return build_request(**fields)


async def _save(sessions: Sessions, created_at: datetime, **filters: Any) -> int:
    search = LogSearch.of(
        SearchFilters(guild_id=SNOWFLAKE, **filters),
        searcher_id=SEARCHER,
        total=Count(3, capped=False),
        created_at=created_at,
    )
    async with sessions.begin() as session:
        return (await log_search.add_search(session, search)).id


async def test_a_saved_search_comes_back_exactly(session_factory: Sessions) -> None:
    filters = SearchFilters(
        guild_id=SNOWFLAKE,
        target_user="Some vandal",
        page_title="Main Page",
        requester_id=SNOWFLAKE + 2,
        status=RollbackStatus.FAILED,
        since=datetime(2026, 10, 1, 7, 30, 15, 123456, tzinfo=UTC),
        until=datetime(2026, 10, 2, 1, 2, 3, 999999, tzinfo=UTC),
    )
    async with session_factory.begin() as session:
        saved = await log_search.add_search(
            session,
            LogSearch.of(
                filters, searcher_id=SEARCHER, total=Count(10_000, capped=True), created_at=T0
            ),
        )
    async with session_factory() as session:
        again = await log_search.get_search(session, saved.id)
    assert again == saved
    assert again is not None
    assert again.filters == filters
    assert (again.searcher_id, again.guild_id, again.total) == (
        SEARCHER,
        SNOWFLAKE,
        Count(10_000, capped=True),
    )


async def test_unknown_and_out_of_range_ids_find_nothing(session_factory: Sessions) -> None:
    await _save(session_factory, T0)
    async with session_factory() as session:
        for search_id in (0, 999, 2**31, 9_999_999_999):  # PostgreSQL would reject 2**31
            assert await log_search.get_search(session, search_id) is None


async def test_pruning_removes_old_searches_and_their_ids_are_never_reused(
    session_factory: Sessions,
) -> None:
    old = [await _save(session_factory, T0 - timedelta(days=8)) for _ in range(3)]
    recent = await _save(session_factory, T0 - timedelta(days=6))
    async with session_factory.begin() as session:
        assert await log_search.prune_searches(session, made_before=T0 - KEEP_SEARCHES) == 3
    async with session_factory() as session:
        assert [await log_search.get_search(session, i) for i in old] == [None] * 3
        assert await log_search.get_search(session, recent) is not None
    async with session_factory.begin() as session:
        assert await log_search.prune_searches(session, made_before=T0) == 1  # now empty
    # An old button naming a pruned id must not find a new search.
    assert await _save(session_factory, T0) > recent


async def test_a_cursor_through_a_custom_id_finds_the_same_rows(session_factory: Sessions) -> None:
    """created_at goes into the custom_id as microseconds; the keyset must still compare equal
    (both backends keep microseconds)."""
    when = datetime(2026, 11, 3, 4, 5, 6, 789012, tzinfo=UTC)
    ids = await _add_rows(
        session_factory,
        _row(when - timedelta(microseconds=1)),
        *(_row(when) for _ in range(3)),  # three rows share the timestamp
        _row(when + timedelta(microseconds=1)),
    )
    filters = SearchFilters(guild_id=SNOWFLAKE)
    async with session_factory() as session:
        row = await session.get(RollbackRequest, ids[2])
        assert row is not None
        click = PageClick(1, "older", Cursor.of(row), 2)
        match = re.fullmatch(PAGE_CUSTOM_ID, click.custom_id)
        assert match is not None
        cursor = PageClick.from_match(match).cursor
        older = await history.search(session, filters, older_than=cursor)
        newer = await history.search(session, filters, newer_than=cursor)
    assert [r.id for r in older.rows] == [ids[1], ids[0]]
    assert [r.id for r in newer.rows] == [ids[4], ids[3]]


async def test_the_service_saves_the_total_once_and_prunes(session_factory: Sessions) -> None:
    await _add_rows(session_factory, *(_row(T0 + timedelta(minutes=i)) for i in range(12)))
    clock = Clock(T0)
    service = HistoryService(sessions=session_factory, clock=clock)
    filters = SearchFilters(guild_id=SNOWFLAKE)
    first = await service.search(filters, searcher_id=SEARCHER)
    assert first.search.total == Count(12, capped=False)
    assert len(first.page.rows) == history.PAGE_SIZE

    await _add_rows(session_factory, _row(T0 + timedelta(hours=1)))
    saved = await service.saved_search(first.search.id)
    assert saved is not None
    assert saved.total == Count(12, capped=False)  # as counted then
    assert first.page.last is not None
    second = await service.page(saved, older_than=first.page.last)
    assert len(second.rows) == 2

    clock.advance(KEEP_SEARCHES.total_seconds() + 1)
    later = await service.search(filters, searcher_id=SEARCHER)
    assert later.search.total == Count(13, capped=False)
    assert await service.saved_search(first.search.id) is None
