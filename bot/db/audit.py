"""The audit repository: every read and write of `RollbackRequest` rows goes through here.

Functions take the caller's `AsyncSession` and never commit: the caller owns the unit of work
(typically `async with session_factory.begin() as session:`). They flush where a caller needs
the database's answer (an id, a row count) inside that unit of work.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.db.lifecycle import check_move
from bot.db.models import RollbackRequest, RollbackStatus, utcnow

# Columns a caller may set through `transition`/`update_request`. The id and creation time never
# change, and the status changes only through `transition`'s compare-and-set.
_COLUMNS: frozenset[str] = frozenset(sa.inspect(RollbackRequest).columns.keys())
_NOT_UPDATABLE: frozenset[str] = frozenset({"id", "created_at", "status"})

# `log_state` values (see RollbackRequest): a terminal row waits in the outbox as `pending`.
LOG_PENDING = "pending"
_TERMINAL_WORDS = frozenset(status.value for status in RollbackStatus if status.is_terminal)


async def add_request(session: AsyncSession, request: RollbackRequest) -> RollbackRequest:
    """Insert `request` and flush, so `request.id` is assigned; the caller commits.

    A row inserted already terminal (a denial) enters the log outbox at once."""
    terminal = request.status in _TERMINAL_WORDS  # a misspelt word fails at the flush
    if terminal and request.log_state is None:
        request.log_state = LOG_PENDING
        request.log_next_at = request.updated_at
    session.add(request)
    await session.flush()
    return request


async def get_request(session: AsyncSession, request_id: int) -> RollbackRequest | None:
    """The row as the database has it now (not a copy cached earlier in this session)."""
    return await session.get(RollbackRequest, request_id, populate_existing=True)


async def transition(
    session: AsyncSession,
    request_id: int,
    *,
    from_statuses: Collection[RollbackStatus],
    to: RollbackStatus,
    **values: object,
) -> bool:
    """Compare-and-set the status: move to `to` only if the row is still in `from_statuses`.

    One `UPDATE … WHERE id = :id AND status IN (:from)`, so of two racing callers (two clicks,
    two processes) exactly one gets True; the loser's row is left untouched. `values` are further
    columns to set in the same statement (e.g. `confirmed_by_id`, `error_code`).
    """
    if isinstance(from_statuses, str):
        # A bare RollbackStatus is a str, i.e. a collection of characters: refuse, don't guess.
        raise TypeError("from_statuses must be a collection of statuses, not a single status")
    allowed = [RollbackStatus(status) for status in from_statuses]
    if not allowed:
        raise ValueError("from_statuses must not be empty")
    target = RollbackStatus(to)
    check_move(allowed, target)
    columns = _updatable(values)
    if target.is_terminal and target is not RollbackStatus.EXPIRED:
        # The prompt's token is needed no longer (an expired prompt is greyed out first).
        columns.setdefault("prompt_token", None)
    if target.is_terminal and "log_state" not in columns:
        # Every outcome enters the log outbox in the same statement that ends the row, so a
        # crash between the two cannot lose the post.
        columns["log_state"] = LOG_PENDING
        columns.setdefault("log_next_at", columns["updated_at"])
        columns.setdefault("log_attempts", 0)
    statement = (
        sa.update(RollbackRequest)
        .where(col(RollbackRequest.id) == request_id, col(RollbackRequest.status).in_(allowed))
        .values(status=target, **columns)
        # RETURNING tells us which row changed, on SQLite (3.35+) and PostgreSQL alike, and lets
        # the session refresh its copy of exactly that row ("fetch"), never a stale one.
        .returning(col(RollbackRequest.id))
        .execution_options(synchronize_session="fetch")
    )
    changed = (await session.execute(statement)).scalars().all()
    return len(changed) == 1


async def update_request(session: AsyncSession, request_id: int, **values: object) -> None:
    """Set non-status columns (e.g. `prompt_message_id`, `log_post_error`) and `updated_at`."""
    if not values:
        raise ValueError("nothing to update")
    statement = (
        sa.update(RollbackRequest)
        .where(col(RollbackRequest.id) == request_id)
        .values(**_updatable(values))
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(statement)


async def expired_pending(session: AsyncSession, *, now: datetime) -> list[RollbackRequest]:
    """Pending requests whose confirmation window closed before `now`, oldest first."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    statement = (
        sa.select(RollbackRequest)
        .where(
            col(RollbackRequest.status) == RollbackStatus.PENDING,
            col(RollbackRequest.expires_at) < now,
        )
        .order_by(col(RollbackRequest.id))
    )
    return await _all(session, statement)


async def running_requests(session: AsyncSession) -> list[RollbackRequest]:
    """Requests left `running` (e.g. by a crash mid-rollback), oldest first, to reconcile."""
    statement = (
        sa.select(RollbackRequest)
        .where(col(RollbackRequest.status) == RollbackStatus.RUNNING)
        .order_by(col(RollbackRequest.id))
    )
    return await _all(session, statement)


async def renew_lease(
    session: AsyncSession, request_id: int, *, owner: str, until: datetime, now: datetime
) -> bool:
    """Extend `owner`'s lease on a `running` row; False if the row is no longer its own."""
    statement = (
        sa.update(RollbackRequest)
        .where(
            col(RollbackRequest.id) == request_id,
            col(RollbackRequest.status) == RollbackStatus.RUNNING,
            col(RollbackRequest.lease_owner) == owner,
        )
        .values(lease_until=until, updated_at=now)
        .returning(col(RollbackRequest.id))
        .execution_options(synchronize_session="fetch")
    )
    return len((await session.execute(statement)).scalars().all()) == 1


def _lapsed(now: datetime, legacy_cutoff: datetime) -> sa.ColumnElement[bool]:
    # Rows claimed before leases existed (NULL) count as lapsed once clearly abandoned.
    return sa.or_(
        col(RollbackRequest.lease_until) < now,
        sa.and_(
            col(RollbackRequest.lease_until).is_(None),
            sa.func.coalesce(col(RollbackRequest.confirmed_at), col(RollbackRequest.created_at))
            < legacy_cutoff,
        ),
    )


async def lapsed_running(
    session: AsyncSession, *, now: datetime, legacy_cutoff: datetime
) -> list[RollbackRequest]:
    """`running` rows whose owner stopped renewing its lease (it died or lost the database)."""
    statement = (
        sa.select(RollbackRequest)
        .where(col(RollbackRequest.status) == RollbackStatus.RUNNING, _lapsed(now, legacy_cutoff))
        .order_by(col(RollbackRequest.id))
    )
    return await _all(session, statement)


async def take_lapsed_lease(
    session: AsyncSession,
    request_id: int,
    *,
    owner: str,
    until: datetime,
    now: datetime,
    legacy_cutoff: datetime,
) -> bool:
    """Take over a lapsed lease (compare-and-set): of two settling processes, one wins."""
    statement = (
        sa.update(RollbackRequest)
        .where(
            col(RollbackRequest.id) == request_id,
            col(RollbackRequest.status) == RollbackStatus.RUNNING,
            _lapsed(now, legacy_cutoff),
        )
        .values(lease_owner=owner, lease_until=until, updated_at=now)
        .returning(col(RollbackRequest.id))
        .execution_options(synchronize_session="fetch")
    )
    return len((await session.execute(statement)).scalars().all()) == 1


async def due_rechecks(
    session: AsyncSession, *, now: datetime, limit: int = 20
) -> list[RollbackRequest]:
    """`failed` rows whose lost answer is due to be checked against the page history again."""
    statement = (
        sa.select(RollbackRequest)
        .where(
            col(RollbackRequest.status) == RollbackStatus.FAILED,
            col(RollbackRequest.recheck_at) <= now,
        )
        .order_by(col(RollbackRequest.recheck_at))
        .limit(limit)
    )
    return await _all(session, statement)


async def push_recheck(
    session: AsyncSession,
    request_id: int,
    *,
    seen: datetime,
    next_at: datetime | None,
    now: datetime,
) -> bool:
    """Move a row's re-check from `seen` to `next_at` (None: no more); False if another
    process already did (compare-and-set on the time it read)."""
    statement = (
        sa.update(RollbackRequest)
        .where(
            col(RollbackRequest.id) == request_id,
            col(RollbackRequest.status) == RollbackStatus.FAILED,
            col(RollbackRequest.recheck_at) == seen,
        )
        .values(
            recheck_at=next_at,
            recheck_count=col(RollbackRequest.recheck_count) + 1,
            updated_at=now,
        )
        .returning(col(RollbackRequest.id))
        .execution_options(synchronize_session="fetch")
    )
    return len((await session.execute(statement)).scalars().all()) == 1


async def succeeded_with_revid(
    session: AsyncSession, revid: int, *, wiki: str, other_than: int
) -> RollbackRequest | None:
    """Another request already recorded as having made revision `revid` of `wiki`, if any
    (revision ids are numbered per wiki)."""
    statement = sa.select(RollbackRequest).where(
        col(RollbackRequest.wiki) == wiki,
        col(RollbackRequest.revid) == revid,
        col(RollbackRequest.id) != other_than,
        col(RollbackRequest.status) == RollbackStatus.SUCCEEDED,
    )
    rows = await _all(session, statement.limit(1))
    return rows[0] if rows else None


def _updatable(values: Mapping[str, object]) -> dict[str, object]:
    """Checked column values plus a fresh `updated_at` (unless the caller gave one)."""
    unknown = values.keys() - _COLUMNS
    if unknown:
        raise ValueError(f"not columns of rollback_request: {', '.join(sorted(unknown))}")
    forbidden = values.keys() & _NOT_UPDATABLE
    if forbidden:
        raise ValueError(f"cannot be set here: {', '.join(sorted(forbidden))}")
    return {"updated_at": utcnow(), **values}


async def _all(
    session: AsyncSession, statement: sa.Select[RollbackRequest]
) -> list[RollbackRequest]:
    # populate_existing: rows already in this session are refreshed, not returned stale.
    result = await session.execute(statement.execution_options(populate_existing=True))
    rows: Sequence[RollbackRequest] = result.scalars().all()
    return list(rows)
