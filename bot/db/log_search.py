"""Saved `/rollback-log search`es: what Prev / Next need, kept in the database.

A search's filters do not fit in a button's 100-character custom_id, so each search is a row
here and its buttons carry only the row id and a keyset cursor; a click after a restart finds
everything it needs. The total is counted once, when the search is made, and stored with it.

Like `bot.db.audit`, functions take the caller's session first and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from bot.db.history import Count, SearchFilters
from bot.db.models import RollbackStatus, RollbackStatusType, UTCDateTime, utcnow

# Pager buttons older than this answer "search again"; an ephemeral reply rarely lives as long.
KEEP_SEARCHES = timedelta(days=7)
MAX_ID = 2**31 - 1  # an INTEGER primary key


@dataclass(frozen=True, slots=True)
class SavedSearch:
    """A search as its buttons need it: whose, in which guild, what, and how many matched."""

    id: int
    guild_id: int
    searcher_id: int
    filters: SearchFilters
    total: Count


class LogSearch(SQLModel, table=True):
    """One `/rollback-log search` (pruned after `KEEP_SEARCHES`)."""

    __tablename__ = "log_search"
    # AUTOINCREMENT: SQLite would otherwise hand a pruned search's id to a new one, and an old
    # button would then page through someone else's (or another) search.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False, index=True)
    )
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    searcher_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    # The filters, normalised as `SearchFilters` holds them.
    target_user: str | None = Field(default=None, max_length=255)
    page_title: str | None = Field(default=None, max_length=512)
    requester_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    status: RollbackStatus | None = Field(default=None, sa_column=sa.Column(RollbackStatusType))
    since: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    until: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    wiki: str | None = Field(default=None, max_length=32)
    # The capped total of `bot.db.history.count`, counted when the search was made.
    total: int
    total_capped: bool

    @classmethod
    def of(
        cls, filters: SearchFilters, *, searcher_id: int, total: Count, created_at: datetime
    ) -> LogSearch:
        return cls(
            created_at=created_at,
            guild_id=filters.guild_id,
            searcher_id=searcher_id,
            target_user=filters.target_user,
            page_title=filters.page_title,
            requester_id=filters.requester_id,
            status=filters.status,
            since=filters.since,
            until=filters.until,
            wiki=filters.wiki,
            total=total.value,
            total_capped=total.capped,
        )

    def saved(self) -> SavedSearch:
        if self.id is None:
            raise ValueError("search not saved yet")
        filters = SearchFilters(
            guild_id=self.guild_id,
            target_user=self.target_user,
            page_title=self.page_title,
            requester_id=self.requester_id,
            status=self.status,
            since=self.since,
            until=self.until,
            wiki=self.wiki,
        )
        return SavedSearch(
            id=self.id,
            guild_id=self.guild_id,
            searcher_id=self.searcher_id,
            filters=filters,
            total=Count(self.total, capped=self.total_capped),
        )


async def add_search(session: AsyncSession, search: LogSearch) -> SavedSearch:
    session.add(search)
    await session.flush()
    return search.saved()


async def get_search(session: AsyncSession, search_id: int) -> SavedSearch | None:
    if not 0 < search_id <= MAX_ID:  # e.g. a forged custom_id; PostgreSQL would reject it
        return None
    search = await session.get(LogSearch, search_id, populate_existing=True)
    return None if search is None else search.saved()


async def prune_searches(session: AsyncSession, *, made_before: datetime) -> int:
    """Delete searches made before `made_before`; how many went."""
    result = await session.execute(
        sa.delete(LogSearch).where(col(LogSearch.created_at) < made_before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
