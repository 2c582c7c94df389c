"""`bot.db.history` on SQLite and PostgreSQL: filters, keyset pages, counts, export, stats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import history
from bot.db.history import Cursor, SearchFilters
from bot.db.models import RollbackRequest, RollbackStatus
from tests.db.factories import SNOWFLAKE, build_request

Sessions = async_sessionmaker[AsyncSession]

GUILD = SNOWFLAKE
OTHER_GUILD = SNOWFLAKE + 100
MOD_A = SNOWFLAKE + 2
MOD_B = SNOWFLAKE + 3
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
M1 = T0 + timedelta(minutes=1)


async def _add(sessions: Sessions, *rows: RollbackRequest) -> list[int]:
    async with sessions.begin() as session:
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows if row.id is not None]


def _row(minutes: int = 0, **overrides: Any) -> RollbackRequest:
    when = T0 + timedelta(minutes=minutes)
    fields: dict[str, Any] = {
        "guild_id": GUILD,
        "created_at": when,
        "updated_at": when,
        "status": RollbackStatus.SUCCEEDED,
    }
    fields.update(overrides)
    return build_request(**fields)


async def _page(sessions: Sessions, filters: SearchFilters, **kwargs: Any) -> history.SearchPage:
    async with sessions() as session:
        return await history.search(session, filters, **kwargs)


def _ids(rows: Sequence[RollbackRequest]) -> list[int | None]:
    return [row.id for row in rows]


async def _walk(sessions: Sessions, filters: SearchFilters) -> list[int | None]:
    """Every id by following Next from the first page."""
    seen: list[int | None] = []
    page = await _page(sessions, filters)
    seen.extend(_ids(page.rows))
    while page.has_older:
        page = await _page(sessions, filters, older_than=page.last)
        seen.extend(_ids(page.rows))
    return seen


# ---- pagination ------------------------------------------------------------------------------


async def test_empty(session_factory: Sessions) -> None:
    page = await _page(session_factory, SearchFilters(guild_id=GUILD))
    assert page.rows == []
    assert (page.has_newer, page.has_older) == (False, False)
    assert page.first is None
    async with session_factory() as session:
        assert await history.count(session, SearchFilters(guild_id=GUILD)) == history.Count(
            0, capped=False
        )


async def test_exactly_one_page(session_factory: Sessions) -> None:
    ids = await _add(session_factory, *(_row(i) for i in range(10)))
    page = await _page(session_factory, SearchFilters(guild_id=GUILD))
    assert _ids(page.rows) == ids[::-1]
    assert (page.has_newer, page.has_older) == (False, False)


async def test_eleven_rows_make_two_pages_and_prev_returns_to_the_first(
    session_factory: Sessions,
) -> None:
    ids = await _add(session_factory, *(_row(i) for i in range(11)))
    first = await _page(session_factory, SearchFilters(guild_id=GUILD))
    assert _ids(first.rows) == ids[:0:-1]
    assert first.has_older

    last = await _page(session_factory, SearchFilters(guild_id=GUILD), older_than=first.last)
    assert _ids(last.rows) == [ids[0]]
    assert (last.has_newer, last.has_older) == (True, False)

    back = await _page(session_factory, SearchFilters(guild_id=GUILD), newer_than=last.first)
    assert _ids(back.rows) == _ids(first.rows)
    assert (back.has_newer, back.has_older) == (False, True)


async def test_walking_every_page_sees_each_row_once_newest_first(
    session_factory: Sessions,
) -> None:
    # Ties on created_at (several rows in the same microsecond) are broken by id.
    rows = [_row(i // 4) for i in range(37)]
    ids = await _add(session_factory, *rows)
    assert await _walk(session_factory, SearchFilters(guild_id=GUILD)) == ids[::-1]


async def test_rows_added_between_pages_do_not_shift_the_next_page(
    session_factory: Sessions,
) -> None:
    ids = await _add(session_factory, *(_row(i) for i in range(15)))
    filters = SearchFilters(guild_id=GUILD)
    first = await _page(session_factory, filters)
    new_ids = await _add(session_factory, *(_row(100 + i) for i in range(3)))

    second = await _page(session_factory, filters, older_than=first.last)
    assert _ids(second.rows) == ids[4::-1]  # exactly the five oldest, no repeats
    # Prev from page 2 gives page 1 as it was, and says newer rows exist now.
    back = await _page(session_factory, filters, newer_than=second.first)
    assert _ids(back.rows) == _ids(first.rows)
    assert back.has_newer
    # A fresh search starts with the new rows.
    fresh = await _page(session_factory, filters)
    assert _ids(fresh.rows)[:3] == new_ids[::-1]


async def test_older_than_and_newer_than_together_are_refused(session_factory: Sessions) -> None:
    cursor = Cursor(T0, 1)
    with pytest.raises(ValueError, match="not both"):
        await _page(
            session_factory, SearchFilters(guild_id=GUILD), older_than=cursor, newer_than=cursor
        )


# ---- filters -------------------------------------------------------------------------------------


@pytest.fixture
async def varied(session_factory: Sessions) -> dict[str, int]:
    """A small mixed history in GUILD plus one look-alike row in another guild."""
    rows = {
        "a": _row(0, target_user="Vandal", page_title="Main Page", requester_id=MOD_A),
        "b": _row(1, target_user="Vandal", page_title="Sandbox", requester_id=MOD_B,
                  status=RollbackStatus.FAILED),
        "c": _row(2, target_user="Spammer", page_title="Main Page", requester_id=MOD_A,
                  status=RollbackStatus.DENIED),
        "d": _row(60 * 24, target_user="Vandal", page_title="Main Page", requester_id=MOD_A,
                  status=RollbackStatus.FAILED),
        "e": _row(60 * 48, target_user="Spammer", page_title="Sandbox", requester_id=MOD_B),
        "other": _row(3, guild_id=OTHER_GUILD, target_user="Vandal", page_title="Main Page",
                      requester_id=MOD_A),
    }  # fmt: skip
    ids = await _add(session_factory, *rows.values())
    return dict(zip(rows, ids, strict=True))


FILTER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("none", {}, ["e", "d", "c", "b", "a"]),
    ("user", {"target_user": "Vandal"}, ["d", "b", "a"]),
    ("page", {"page_title": "Sandbox"}, ["e", "b"]),
    ("moderator", {"requester_id": MOD_B}, ["e", "b"]),
    ("status", {"status": RollbackStatus.FAILED}, ["d", "b"]),
    ("since", {"since": T0 + timedelta(minutes=2)}, ["e", "d", "c"]),
    ("until", {"until": T0 + timedelta(minutes=2)}, ["b", "a"]),
    ("since+until", {"since": M1, "until": M1 + timedelta(days=1)}, ["d", "c", "b"]),
    ("user+status", {"target_user": "Vandal", "status": RollbackStatus.FAILED}, ["d", "b"]),
    ("mod+page+since", {"requester_id": MOD_A, "page_title": "Main Page", "since": M1}, ["d", "c"]),
    ("no match", {"target_user": "Vandal", "status": RollbackStatus.DENIED}, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "expected"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES]
)
async def test_filters(
    session_factory: Sessions, varied: dict[str, int], kwargs: dict[str, Any], expected: list[str]
) -> None:
    filters = SearchFilters(guild_id=GUILD, **kwargs)
    page = await _page(session_factory, filters)
    assert _ids(page.rows) == [varied[name] for name in expected]
    async with session_factory() as session:
        assert (await history.count(session, filters)).value == len(expected)


async def test_a_guild_sees_only_its_own_rows(
    session_factory: Sessions, varied: dict[str, int]
) -> None:
    page = await _page(session_factory, SearchFilters(guild_id=OTHER_GUILD))
    assert _ids(page.rows) == [varied["other"]]
    async with session_factory() as session:
        assert await history.get_in_guild(session, varied["a"], guild_id=OTHER_GUILD) is None
        found = await history.get_in_guild(session, varied["a"], guild_id=GUILD)
        assert found is not None
        assert found.id == varied["a"]


async def test_filters_reject_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SearchFilters(guild_id=GUILD, since=datetime(2026, 1, 1))  # noqa: DTZ001


# ---- count, export, stats -----------------------------------------------------------------------


async def test_count_is_capped(session_factory: Sessions) -> None:
    await _add(session_factory, *(_row(i) for i in range(7)))
    async with session_factory() as session:
        filters = SearchFilters(guild_id=GUILD)
        assert await history.count(session, filters, cap=5) == history.Count(5, capped=True)
        assert await history.count(session, filters, cap=7) == history.Count(7, capped=False)


async def test_export_rows_stream_in_batches_newest_first(session_factory: Sessions) -> None:
    ids = await _add(session_factory, *(_row(i // 2, summary=f"s{i}") for i in range(10)))
    await _add(session_factory, _row(0, guild_id=OTHER_GUILD))
    async with session_factory() as session:
        rows = [
            row
            async for row in history.iter_export_rows(
                session, SearchFilters(guild_id=GUILD), batch_size=3
            )
        ]
    id_at = history.EXPORT_COLUMNS.index("id")
    assert [row[id_at] for row in rows] == ids[::-1]
    assert all(len(row) == len(history.EXPORT_COLUMNS) for row in rows)
    created_at = rows[0][history.EXPORT_COLUMNS.index("created_at")]
    assert created_at.tzinfo is not None
    assert rows[0][history.EXPORT_COLUMNS.index("status")] == RollbackStatus.SUCCEEDED


async def test_stats(session_factory: Sessions, varied: dict[str, int]) -> None:
    async with session_factory() as session:
        everything = await history.stats(session, guild_id=GUILD, since=None)
        recent = await history.stats(session, guild_id=GUILD, since=T0 + timedelta(hours=1))
    assert everything.by_status == {
        RollbackStatus.SUCCEEDED: 2,
        RollbackStatus.FAILED: 2,
        RollbackStatus.DENIED: 1,
    }
    assert everything.total == 5
    assert [(m.requester_id, m.requests, m.succeeded) for m in everything.by_moderator] == [
        (MOD_A, 3, 1),
        (MOD_B, 2, 1),
    ]
    assert everything.top_users == [("Spammer", 1), ("Vandal", 1)]
    assert everything.top_pages == [("Main Page", 1), ("Sandbox", 1)]
    assert recent.by_status == {RollbackStatus.SUCCEEDED: 1, RollbackStatus.FAILED: 1}
