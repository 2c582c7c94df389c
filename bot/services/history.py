"""Reviewing the audit log: turning `/rollback-log` input into filters, and answering it.

Nothing here imports discord. Input problems raise `FilterError`, whose message is written for
the member who typed the command.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import history, log_search
from bot.db.history import Cursor, SearchFilters, SearchPage, Stats
from bot.db.log_search import KEEP_SEARCHES, LogSearch, SavedSearch
from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from bot.wiki.names import capitalized_title, normalize_username

WHEN_HELP = (
    "Use a date (`2026-11-01`), a date and time in UTC (`2026-11-01T14:30`), "
    "or a time ago: `30m`, `24h`, `7d`, `2w`."
)
_RELATIVE = re.compile(r"(?P<amount>[0-9]{1,7})\s*(?P<unit>[mhdw])", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# The lengths of `target_user` and `page_title` in rollback_request and log_search.
_USER_MAX = 255
_TITLE_MAX = 512


class FilterError(ValueError):
    """A search option the bot cannot use; the message says which and how to fix it."""


def parse_when(text: str, *, now: datetime, bound: Literal["since", "until"]) -> datetime:
    """`since` / `until` as an aware UTC datetime.

    - `7d`, `24h`, `30m`, `2w`: that long before `now`;
    - `2026-11-01`: the start of that day (UTC) for `since`, and for `until` the end of it, so
      `since:2026-11-01 until:2026-11-01` is that whole day;
    - an ISO datetime (`2026-11-01T14:30`, `2026-11-01 14:30:00+02:00`, `…Z`); UTC if no zone.
    """
    value = text.strip()
    try:
        relative = _RELATIVE.fullmatch(value)
        if relative:
            delta = timedelta(**{_UNITS[relative["unit"].lower()]: int(relative["amount"])})
            return now - delta
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if bound == "until" else start
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise FilterError(f"`{bound}`: I can't read {value!r} as a time. {WHEN_HELP}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def build_filters(
    *,
    guild_id: int,
    now: datetime,
    user: str | None = None,
    page: str | None = None,
    moderator_id: int | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    wiki: str | None = None,
) -> SearchFilters:
    """The search options of a command as filters; user and page spelt as the wiki spells them."""
    try:
        target = normalize_username(user) if user and user.strip() else None
    except ValueError as exc:
        raise FilterError(f"`user`: {exc}") from None
    try:
        title = capitalized_title(page) if page and page.strip() else None
    except ValueError as exc:
        raise FilterError(f"`page`: {exc}") from None
    try:
        wanted = RollbackStatus(status) if status else None
    except ValueError:
        words = ", ".join(s.value for s in RollbackStatus)
        raise FilterError(f"`status`: must be one of {words}.") from None
    start = parse_when(since, now=now, bound="since") if since else None
    end = parse_when(until, now=now, bound="until") if until else None
    if start is not None and end is not None and start >= end:
        raise FilterError("`since` must be before `until`.")
    return SearchFilters(
        guild_id=guild_id,
        # Cut as the audit row cuts them (NFC can lengthen what was typed: 255 x U+0958 is 510
        # characters), so the saved search fits its columns and finds the rows stored cut.
        target_user=target[:_USER_MAX] if target else target,
        page_title=title[:_TITLE_MAX] if title else title,
        requester_id=moderator_id,
        status=wanted,
        since=start,
        until=end,
        wiki=wiki.strip().lower() if wiki and wiki.strip() else None,
    )


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A new search, saved (with its total) for its Prev / Next buttons, and its first page."""

    search: SavedSearch
    page: SearchPage


class ExportSink(Protocol):
    """Where exported rows go (the CSV writer). `write_row` returns False when it is full."""

    def write_row(self, row: Sequence[Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class ExportSummary:
    rows_written: int
    rows_left_out: int


class HistoryService:
    """Search, show, export and stats over one guild's audit rows."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    async def search(self, filters: SearchFilters, *, searcher_id: int) -> SearchResult:
        """The first page of a new search, which is saved for its Prev / Next buttons.

        The total is counted here, once, and stored with the search: turning pages never
        counts again. Searches older than `KEEP_SEARCHES` are pruned on the way.
        """
        async with self._sessions() as session:
            page = await history.search(session, filters)
            total = await history.count(session, filters)
        # Then a short write transaction of its own: on SQLite it holds the one write lock.
        now = self._clock()
        async with self._sessions.begin() as session:
            saved = await log_search.add_search(
                session,
                LogSearch.of(filters, searcher_id=searcher_id, total=total, created_at=now),
            )
            await log_search.prune_searches(session, made_before=now - KEEP_SEARCHES)
        return SearchResult(search=saved, page=page)

    async def saved_search(self, search_id: int) -> SavedSearch | None:
        """A search made by `search` (None once pruned, or if there never was one)."""
        async with self._sessions() as session:
            return await log_search.get_search(session, search_id)

    async def page(
        self,
        search: SavedSearch,
        *,
        older_than: Cursor | None = None,
        newer_than: Cursor | None = None,
    ) -> SearchPage:
        """Another page of a saved search (see `bot.db.history.search`); nothing is counted."""
        async with self._sessions() as session:
            return await history.search(
                session, search.filters, older_than=older_than, newer_than=newer_than
            )

    async def get(self, guild_id: int, request_id: int) -> RollbackRequest | None:
        async with self._sessions() as session:
            return await history.get_in_guild(session, request_id, guild_id=guild_id)

    async def stats(
        self, guild_id: int, *, since: datetime | None, wiki: str | None = None
    ) -> Stats:
        async with self._sessions() as session:
            return await history.stats(session, guild_id=guild_id, since=since, wiki=wiki)

    async def export(self, filters: SearchFilters, sink: ExportSink) -> ExportSummary:
        """Stream every matching row into `sink`, newest first, until it is full.

        When the sink fills up the newest rows are in it, and the summary says how many older
        ones were left out.
        """
        written = 0
        id_at = history.EXPORT_COLUMNS.index("id")
        created_at = history.EXPORT_COLUMNS.index("created_at")
        async with self._sessions() as session:
            last: Cursor | None = None
            async with aclosing(history.iter_export_rows(session, filters)) as rows:
                async for row in rows:
                    if not sink.write_row(row):
                        break
                    written += 1
                    last = Cursor(row[created_at], row[id_at])
                else:
                    return ExportSummary(rows_written=written, rows_left_out=0)
            if last is None:
                left_out = await history.count(session, filters, cap=None)
            else:
                left_out = await history.count(session, filters, cap=None, older_than=last)
        return ExportSummary(rows_written=written, rows_left_out=left_out.value)
