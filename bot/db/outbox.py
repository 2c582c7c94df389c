"""The log outbox: which ended requests still wait for their log-channel post, and their delivery.

A row enters the outbox when it ends (`bot.db.audit` sets `log_state='pending'` and `log_next_at`
in the statement that ends it). A poster claims a due row with a compare-and-set lease, tries
to post it, and records the result with another compare-and-set on that same claim, so of two
processes only one posts a row, and a poster whose lease lapsed cannot overwrite the result of
the one that took over. Rows with `log_state` NULL (nothing to post, or older than the outbox)
are never touched.

Functions take the caller's `AsyncSession` and never commit, like `bot.db.audit`.

Columns: `log_state` (`pending` → `posted` | `folded` | `failed`, or NULL: nothing to post),
`log_next_at` (when a pending row is due), `log_claim_until` (a poster's lease; its exact value
is the claim token), `log_attempts` (delivery attempts made), `log_channel_id` (the channel the
row was, or is being, posted to), `log_message_id`, `log_post_error`. `updated_at` is left
alone: it is when the request itself last changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.db.audit import LOG_PENDING, get_request
from bot.db.models import RollbackRequest, RollbackStatus

__all__ = [
    "LOG_FAILED",
    "LOG_FOLDED",
    "LOG_PENDING",
    "LOG_POSTED",
    "claim",
    "due",
    "folded_denials",
    "has_earlier_pending_denial",
    "last_settled_denial",
    "mark_failed",
    "mark_folded",
    "mark_posted",
    "mark_unposted",
    "release",
    "schedule_retry",
]

LOG_POSTED = "posted"
LOG_FOLDED = "folded"  # a denial counted into the same member's next denial post
LOG_FAILED = "failed"  # permanently: the reason is in `log_post_error`

_R = RollbackRequest


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(_R.log_state) == LOG_PENDING,
        col(_R.log_next_at) <= now,
        sa.or_(col(_R.log_claim_until).is_(None), col(_R.log_claim_until) < now),
    )


def _earlier_pending_denial() -> sa.Exists:
    """An earlier denial of the same member still waits: a member's denials go out in order,
    so that whether one is folded is decided once the one before it is settled."""
    earlier = aliased(RollbackRequest)
    return sa.exists().where(
        col(earlier.status) == RollbackStatus.DENIED,
        col(earlier.guild_id) == col(_R.guild_id),
        col(earlier.requester_id) == col(_R.requester_id),
        col(earlier.log_state) == LOG_PENDING,
        col(earlier.id) < col(_R.id),
    )


async def due(session: AsyncSession, *, now: datetime, limit: int) -> list[RollbackRequest]:
    """Up to `limit` rows to deliver now, oldest due first: pending, due, not claimed, and not
    waiting behind an earlier denial of the same member (those would only fill the batch)."""
    statement = (
        sa.select(RollbackRequest)
        .where(
            _claimable(_aware(now)),
            sa.not_(sa.and_(col(_R.status) == RollbackStatus.DENIED, _earlier_pending_denial())),
        )
        .order_by(col(_R.log_next_at), col(_R.id))
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    rows: Sequence[RollbackRequest] = (await session.execute(statement)).scalars().all()
    return list(rows)


async def claim(
    session: AsyncSession, request_id: int, *, now: datetime, lease: timedelta
) -> RollbackRequest | None:
    """Take the row for delivery until `now + lease` if it is due and nobody holds it.

    One `UPDATE … WHERE id AND log_state='pending' AND due AND claim free RETURNING id`: of two
    pollers exactly one gets the row. The returned row's `log_claim_until` is the claim token
    the `mark_*` functions need."""
    until = _aware(now) + lease
    statement = (
        sa.update(RollbackRequest)
        .where(col(_R.id) == request_id, _claimable(now))
        .values(log_claim_until=until)
        .returning(col(_R.id))
        .execution_options(synchronize_session=False)
    )
    if not (await session.execute(statement)).scalars().all():
        return None
    return await get_request(session, request_id)


async def has_earlier_pending_denial(session: AsyncSession, row: RollbackRequest) -> bool:
    statement = sa.select(
        sa.exists().where(
            col(_R.status) == RollbackStatus.DENIED,
            col(_R.guild_id) == row.guild_id,
            col(_R.requester_id) == row.requester_id,
            col(_R.log_state) == LOG_PENDING,
            col(_R.id) < row.id,
        )
    )
    return bool((await session.execute(statement)).scalar())


async def last_settled_denial(
    session: AsyncSession, row: RollbackRequest
) -> RollbackRequest | None:
    """The member's latest denial before `row` that was posted or tried (`posted`/`failed`):
    the one a new denial is folded into if it comes within the fold window."""
    statement = (
        sa.select(RollbackRequest)
        .where(
            col(_R.status) == RollbackStatus.DENIED,
            col(_R.guild_id) == row.guild_id,
            col(_R.requester_id) == row.requester_id,
            col(_R.log_state).in_([LOG_POSTED, LOG_FAILED]),
            col(_R.id) < row.id,
        )
        .order_by(col(_R.id).desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalars().first()


async def folded_denials(
    session: AsyncSession, row: RollbackRequest, *, after_id: int | None
) -> tuple[int, datetime | None]:
    """How many of the member's denials between `after_id` and `row` were folded, and when
    the earliest of them was made."""
    conditions = [
        col(_R.status) == RollbackStatus.DENIED,
        col(_R.guild_id) == row.guild_id,
        col(_R.requester_id) == row.requester_id,
        col(_R.log_state) == LOG_FOLDED,
        col(_R.id) < row.id,
    ]
    if after_id is not None:
        conditions.append(col(_R.id) > after_id)
    statement = sa.select(sa.func.count(), sa.func.min(col(_R.created_at))).where(*conditions)
    count, earliest = (await session.execute(statement)).one()
    return int(count), earliest


async def _settle(
    session: AsyncSession, request_id: int, claim_token: datetime, **values: object
) -> bool:
    """Write the delivery's result if the caller still holds its claim; False if not."""
    statement = (
        sa.update(RollbackRequest)
        .where(
            col(_R.id) == request_id,
            col(_R.log_state) == LOG_PENDING,
            col(_R.log_claim_until) == claim_token,
        )
        .values(log_claim_until=None, **values)
        .returning(col(_R.id))
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).scalars().all()) == 1


async def mark_posted(
    session: AsyncSession,
    request_id: int,
    *,
    claim_token: datetime,
    message_id: int,
    channel_id: int,
    status: RollbackStatus,
) -> bool:
    """Record the message that now shows the row as `status` (the outcome that was rendered).

    If the row was corrected to another outcome while it was being posted, it stays pending,
    now with its message id, so the next delivery edits that message to the new outcome."""
    rendered = RollbackStatus(status)
    return await _settle(
        session,
        request_id,
        claim_token,
        log_state=sa.case((col(_R.status) == rendered, LOG_POSTED), else_=LOG_PENDING),
        log_message_id=message_id,
        log_channel_id=channel_id,
        log_post_error=None,
        log_attempts=col(_R.log_attempts) + 1,
    )


async def schedule_retry(
    session: AsyncSession,
    request_id: int,
    *,
    claim_token: datetime,
    next_at: datetime,
    error: str,
    channel_id: int,
) -> bool:
    """Count a failed attempt and make the row due again at `next_at` (it stays pending).

    The channel is kept, so the retry goes where the first attempt went even if the log
    channel setting changes meanwhile; `error` shows in `/rollback-log show` until it posts."""
    return await _settle(
        session,
        request_id,
        claim_token,
        log_next_at=_aware(next_at),
        log_post_error=error[:500],
        log_channel_id=channel_id,
        log_attempts=col(_R.log_attempts) + 1,
    )


async def mark_failed(
    session: AsyncSession, request_id: int, *, claim_token: datetime, error: str, channel_id: int
) -> bool:
    """Give up: the channel is gone, forbidden, in another server, or refuses the message."""
    return await _settle(
        session,
        request_id,
        claim_token,
        log_state=LOG_FAILED,
        log_post_error=error[:500],
        log_channel_id=channel_id,
        log_attempts=col(_R.log_attempts) + 1,
    )


async def mark_folded(session: AsyncSession, request_id: int, *, claim_token: datetime) -> bool:
    return await _settle(session, request_id, claim_token, log_state=LOG_FOLDED)


async def mark_unposted(session: AsyncSession, request_id: int, *, claim_token: datetime) -> bool:
    """The guild has no log channel: nothing to post (`log_state` NULL, as before the outbox)."""
    return await _settle(session, request_id, claim_token, log_state=None)


async def release(session: AsyncSession, request_id: int, *, claim_token: datetime) -> bool:
    """Hand the row back untried (it must wait for an earlier one); no attempt is counted."""
    return await _settle(session, request_id, claim_token)
