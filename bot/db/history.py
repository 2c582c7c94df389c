"""Read-only queries over the audit table for `/rollback-log`: search, count, export, stats.

Every query is scoped to one guild. Results are ordered newest first on (created_at, id), and
pages are found by *keyset* ("rows older than this one"), never by OFFSET: with the composite
indexes of migration 0002, ending in (created_at, id), page 1,000 costs what page 1 costs.

Functions take the caller's `AsyncSession` first and never write.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from bot.db.models import RollbackRequest, RollbackStatus

PAGE_SIZE = 10
# Counting every match of a broad filter over a million rows takes far longer than showing a
# page, so the total is counted up to this many and shown as "10,000+" beyond.
COUNT_CAP = 10_000
EXPORT_BATCH = 1_000
TOP_N = 10

_TABLE: sa.Table = RollbackRequest.__table__  # type: ignore[attr-defined]
# Export columns: every recorded fact, in the table's order before migration 0003, then the
# facts added since. New ones are appended, never inserted: spreadsheets and scripts read the
# file by column position.
EXPORT_COLUMNS: tuple[str, ...] = (
    *("id", "created_at", "updated_at", "guild_id", "channel_id", "requester_id"),
    *("requester_name", "wiki_api_url", "page_title", "page_id", "target_user", "summary"),
    *("markbot", "status", "expires_at", "edits_to_revert", "top_revid", "restored_revid"),
    *("revid", "old_revid", "last_revid", "error_code", "error_message", "confirmed_by_id"),
    *("confirmed_at", "prompt_message_id", "log_message_id", "log_post_error"),
    "result_summary",  # 0003: the summary the wiki saved
    "wiki",  # 0005: the wiki key
)
# Not exported: how the bot carries out a request and delivers its log post (leases,
# re-checks, the outbox), not what happened.
NOT_EXPORTED: frozenset[str] = frozenset(
    {
        *("lease_owner", "lease_until", "recheck_at", "recheck_count", "log_channel_id"),
        *("log_state", "log_attempts", "log_next_at", "log_claim_until"),
        "prompt_token",  # a credential for the prompt message, never exported
    }
)
_EXPORT_SELECTION = tuple(_TABLE.c[name] for name in EXPORT_COLUMNS)


def _created() -> Mapped[datetime]:
    return col(RollbackRequest.created_at)


def _id() -> Mapped[int | None]:
    return col(RollbackRequest.id)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What to look for, already normalised (the service cleans up user input)."""

    guild_id: int
    target_user: str | None = None
    page_title: str | None = None
    requester_id: int | None = None
    status: RollbackStatus | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    wiki: str | None = None  # a wiki key

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            when = getattr(self, name)
            if when is not None and when.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware (UTC)")


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the newest-first order: the (created_at, id) of a row."""

    created_at: datetime
    id: int

    @classmethod
    def of(cls, row: RollbackRequest) -> Cursor:
        if row.id is None:
            raise ValueError("row has no id")
        return cls(row.created_at, row.id)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Up to `PAGE_SIZE` rows, newest first, and whether there is more on either side."""

    rows: list[RollbackRequest]
    has_newer: bool
    has_older: bool

    @property
    def first(self) -> Cursor | None:
        return Cursor.of(self.rows[0]) if self.rows else None

    @property
    def last(self) -> Cursor | None:
        return Cursor.of(self.rows[-1]) if self.rows else None


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    capped: bool  # True: there are more than `value` matches


@dataclass(frozen=True, slots=True)
class ModeratorCount:
    requester_id: int
    requester_name: str
    requests: int
    succeeded: int


@dataclass(frozen=True, slots=True)
class Stats:
    by_status: dict[RollbackStatus, int]
    by_moderator: list[ModeratorCount] = field(default_factory=list)
    top_users: list[tuple[str, int]] = field(default_factory=list)  # succeeded rollbacks
    top_pages: list[tuple[str, int]] = field(default_factory=list)  # succeeded rollbacks

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def _conditions(filters: SearchFilters) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [col(RollbackRequest.guild_id) == filters.guild_id]
    if filters.target_user is not None:
        conditions.append(col(RollbackRequest.target_user) == filters.target_user)
    if filters.page_title is not None:
        conditions.append(col(RollbackRequest.page_title) == filters.page_title)
    if filters.requester_id is not None:
        conditions.append(col(RollbackRequest.requester_id) == filters.requester_id)
    if filters.status is not None:
        conditions.append(col(RollbackRequest.status) == filters.status)
    if filters.wiki is not None:
        conditions.append(col(RollbackRequest.wiki) == filters.wiki)
    if filters.since is not None:
        conditions.append(_created() >= filters.since)
    if filters.until is not None:
        conditions.append(_created() < filters.until)
    return conditions


def _older_than(cursor: Cursor) -> sa.ColumnElement[bool]:
    # `created_at <= c` is the index range both planners use; the OR only drops the few rows
    # sharing the cursor's timestamp. (A row-value `(created_at, id) < (c, i)` would say the
    # same, but planners differ in how well they use it.)
    created, id_ = _created(), _id()
    return sa.and_(
        created <= cursor.created_at, sa.or_(created < cursor.created_at, id_ < cursor.id)
    )


def _newer_than(cursor: Cursor) -> sa.ColumnElement[bool]:
    created, id_ = _created(), _id()
    return sa.and_(
        created >= cursor.created_at, sa.or_(created > cursor.created_at, id_ > cursor.id)
    )


async def search(
    session: AsyncSession,
    filters: SearchFilters,
    *,
    older_than: Cursor | None = None,
    newer_than: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> SearchPage:
    """One page, newest first: the newest matches, or those just older/newer than a cursor.

    `older_than` is "Next" (the last row of the page shown), `newer_than` is "Prev" (its first
    row). Rows added meanwhile never shift a page: they are newer than every cursor.
    """
    if older_than is not None and newer_than is not None:
        raise ValueError("give older_than or newer_than, not both")
    if limit < 1:
        raise ValueError("limit must be positive")
    conditions = _conditions(filters)
    statement = sa.select(RollbackRequest)
    if newer_than is not None:
        # Walk the index upwards from the cursor, then show the rows newest first.
        conditions.append(_newer_than(newer_than))
        statement = statement.where(*conditions).order_by(_created().asc(), _id().asc())
        rows = await _rows(session, statement.limit(limit + 1))
        more = len(rows) > limit
        return SearchPage(rows=rows[:limit][::-1], has_newer=more, has_older=True)
    if older_than is not None:
        conditions.append(_older_than(older_than))
    statement = statement.where(*conditions).order_by(_created().desc(), _id().desc())
    rows = await _rows(session, statement.limit(limit + 1))
    return SearchPage(
        rows=rows[:limit], has_newer=older_than is not None, has_older=len(rows) > limit
    )


async def count(
    session: AsyncSession,
    filters: SearchFilters,
    *,
    cap: int | None = COUNT_CAP,
    older_than: Cursor | None = None,
) -> Count:
    """How many rows match (and are older than `older_than`), counted up to `cap`.

    With a cap this is an index range scan of at most cap+1 entries; `cap=None` counts all.
    """
    conditions = _conditions(filters)
    if older_than is not None:
        conditions.append(_older_than(older_than))
    matches = sa.select(sa.literal(1)).where(*conditions)
    if cap is not None:
        matches = matches.limit(cap + 1)
    subquery = matches.subquery()
    total = (await session.execute(sa.select(sa.func.count()).select_from(subquery))).scalar_one()
    if cap is None:
        return Count(value=total, capped=False)
    return Count(value=min(total, cap), capped=total > cap)


async def get_in_guild(
    session: AsyncSession, request_id: int, *, guild_id: int
) -> RollbackRequest | None:
    """The row `request_id` if it belongs to `guild_id` (a guild sees only its own rows)."""
    statement = sa.select(RollbackRequest).where(
        _id() == request_id, col(RollbackRequest.guild_id) == guild_id
    )
    rows = await _rows(session, statement)
    return rows[0] if rows else None


async def iter_export_rows(
    session: AsyncSession, filters: SearchFilters, *, batch_size: int = EXPORT_BATCH
) -> AsyncGenerator[Sequence[Any]]:
    """Every matching row, newest first, as plain tuples in `EXPORT_COLUMNS` order.

    Reads `batch_size` rows per query by keyset, so memory stays flat whatever the total, the
    same way on both backends, with no server-side cursor to keep open.
    Plain Core rows, not ORM objects: the session's identity map does not grow either.
    """
    conditions = _conditions(filters)
    cursor: Cursor | None = None
    id_index = EXPORT_COLUMNS.index("id")
    created_index = EXPORT_COLUMNS.index("created_at")
    while True:
        where = [*conditions, _older_than(cursor)] if cursor is not None else conditions
        statement = (
            sa.select(*_EXPORT_SELECTION)
            .where(*where)
            .order_by(_created().desc(), _id().desc())
            .limit(batch_size)
        )
        batch = (await session.execute(statement)).all()
        for row in batch:
            yield tuple(row)
        if len(batch) < batch_size:
            return
        last = batch[-1]
        cursor = Cursor(last[created_index], last[id_index])


async def stats(
    session: AsyncSession, *, guild_id: int, since: datetime | None, wiki: str | None = None
) -> Stats:
    """Counts by outcome, by moderator, and the most rolled-back users and pages (top 10)."""
    base = SearchFilters(guild_id=guild_id, since=since, wiki=wiki)
    conditions = _conditions(base)
    status_column = col(RollbackRequest.status)
    by_status_rows = await session.execute(
        sa.select(status_column, sa.func.count()).where(*conditions).group_by(status_column)
    )
    by_status = {RollbackStatus(status): int(n) for status, n in by_status_rows.all()}

    succeeded = sa.func.sum(sa.case((status_column == RollbackStatus.SUCCEEDED.value, 1), else_=0))
    requester = col(RollbackRequest.requester_id)
    moderator_rows = await session.execute(
        sa.select(
            requester,
            sa.func.max(col(RollbackRequest.requester_name)),
            sa.func.count().label("n"),
            succeeded,
        )
        .where(*conditions)
        .group_by(requester)
        .order_by(sa.desc("n"), requester)
        .limit(TOP_N)
    )
    by_moderator = [
        ModeratorCount(int(rid), str(name), int(n), int(ok or 0))
        for rid, name, n, ok in moderator_rows.all()
    ]
    done = [*conditions, status_column == RollbackStatus.SUCCEEDED]
    return Stats(
        by_status=by_status,
        by_moderator=by_moderator,
        top_users=await _top(session, col(RollbackRequest.target_user), done),
        top_pages=await _top(session, col(RollbackRequest.page_title), done),
    )


async def _top(
    session: AsyncSession, column: Mapped[str], conditions: list[sa.ColumnElement[bool]]
) -> list[tuple[str, int]]:
    result = await session.execute(
        sa.select(column, sa.func.count().label("n"))
        .where(*conditions)
        .group_by(column)
        .order_by(sa.desc("n"), column)
        .limit(TOP_N)
    )
    return [(str(value), int(n)) for value, n in result.all()]


async def _rows(session: AsyncSession, statement: sa.Select[Any]) -> list[RollbackRequest]:
    result = await session.execute(statement.execution_options(populate_existing=True))
    rows: Sequence[RollbackRequest] = result.scalars().all()
    return list(rows)
