"""Delivering the log outbox: each ended request is posted to its guild's log channel once.

Discord-free: the Discord side is a `LogSender` that posts (or edits) one message and says
whether that worked, failed for a while (retry later) or failed for good. This module decides
what to send, when to try again, and which denials to fold, and records it on the row
(`bot.db.outbox`), so every decision holds across restarts and across processes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import outbox
from bot.db.models import RollbackRequest, RollbackStatus, utcnow

log = logging.getLogger(__name__)

# A member's denials are posted at most once per window; the ones in between are folded into
# their next denial post as a count.
FOLD_WINDOW = timedelta(seconds=60)


class LogChannels(Protocol):
    """Which channel a guild's log goes to (`GuildSettingsService`; None: nowhere)."""

    async def log_channel_id(self, guild_id: int) -> int | None: ...


@dataclass(frozen=True, slots=True)
class FoldedDenials:
    """Denials of the same member that were not posted since their previous denial post."""

    count: int
    span: timedelta  # from the previous post's denial (or the first folded one) to this one


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed row to put in the log channel."""

    request: RollbackRequest
    channel_id: int
    # The row was posted before (then corrected): edit that message instead of posting anew.
    edit_message_id: int | None
    # Attempt-stable: every retry of this post sends the same nonce, so Discord answers a
    # retry whose first try did land with that message instead of posting a second one.
    nonce: str
    folded: FoldedDenials | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    message_id: int


@dataclass(frozen=True, slots=True)
class TryLater:
    """A transient failure. `cause` is short and stable (warnings are per channel and cause)."""

    cause: str
    retry_after: float | None = None  # seconds, when Discord said how long to wait


@dataclass(frozen=True, slots=True)
class GaveUp:
    """A permanent failure; `reason` goes to the row's `log_post_error`."""

    reason: str


SendResult = Posted | TryLater | GaveUp


class LogSender(Protocol):
    async def deliver(self, delivery: Delivery) -> SendResult:
        """Post or edit; never raise (every failure is a `TryLater` or a `GaveUp`)."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential back-off with jitter; Discord's retry_after is a floor."""

    base: float = 2.0
    cap: float = 300.0
    rng: Callable[[], float] = random.random  # jitter only; not security-relevant

    def delay(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1 for the first)."""
        backoff = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        # Half fixed, half random: processes that failed together do not retry together.
        seconds = backoff * (0.5 + 0.5 * self.rng())
        if retry_after is not None:
            seconds = max(seconds, retry_after + self.rng())
        # Rounded up: never a microsecond before what Discord asked for.
        return timedelta(microseconds=math.ceil(seconds * 1_000_000))


def nonce_for(request: RollbackRequest) -> str:
    """Discord's message nonce (≤ 25 characters) for posting this row with this outcome.

    Derived from the row and its status only, so it is the same on every attempt and in every
    process; a row corrected to another outcome gets a new one."""
    key = f"{request.guild_id}:{request.id}:{RollbackStatus(request.status).value}"
    return "rb" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


class _Blocked:
    """An earlier denial of the same member still waits: decide this one after it."""


class _Fold:
    """Within the fold window of the member's previous denial post: count it, don't post it."""


_BLOCKED = _Blocked()
_FOLD = _Fold()


class LogOutbox:
    """Claims due rows, has the sender deliver them, records each outcome on the row."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sender: LogSender,
        channels: LogChannels,
        clock: Callable[[], datetime] = utcnow,
        policy: RetryPolicy | None = None,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
        fold_window: timedelta = FOLD_WINDOW,
    ) -> None:
        self._sessions = sessions
        self._sender = sender
        self._channels = channels
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._lease = lease
        self._batch = batch
        self._fold_window = fold_window

    async def deliver(self, request_id: int) -> str | None:
        """Deliver this row now if it is due and unclaimed. Returns the row's new `log_state`
        (`"pending"` for a scheduled retry), or None if nothing was done."""
        async with self._sessions() as session, session.begin():
            row = await outbox.claim(session, request_id, now=self._clock(), lease=self._lease)
        if row is None:
            return None
        token = row.log_claim_until
        if token is None:  # cannot happen: the claim just set it
            raise RuntimeError(f"claimed row {request_id} has no claim")
        channel_id = row.log_channel_id or await self._channels.log_channel_id(row.guild_id)
        if channel_id is None:
            await self._settle(outbox.mark_unposted, request_id, token)
            return None
        folded: FoldedDenials | None = None
        if row.status == RollbackStatus.DENIED and row.log_message_id is None:
            decision = await self._fold_decision(row)
            if decision is _BLOCKED:
                await self._settle(outbox.release, request_id, token)
                return None
            if decision is _FOLD:
                await self._settle(outbox.mark_folded, request_id, token)
                return outbox.LOG_FOLDED
            if isinstance(decision, FoldedDenials):
                folded = decision
        delivery = Delivery(
            request=row,
            channel_id=channel_id,
            edit_message_id=row.log_message_id,
            nonce=nonce_for(row),
            folded=folded,
        )
        result = await self._sender.deliver(delivery)
        if isinstance(result, Posted):
            if row.log_attempts:
                log.info("log post of request %s went through after a retry", request_id)
            await self._settle(
                outbox.mark_posted,
                request_id,
                token,
                message_id=result.message_id,
                channel_id=channel_id,
                status=row.status,
            )
            return outbox.LOG_POSTED
        if isinstance(result, GaveUp):
            await self._settle(
                outbox.mark_failed, request_id, token, error=result.reason, channel_id=channel_id
            )
            return outbox.LOG_FAILED
        wait = self._policy.delay(row.log_attempts + 1, result.retry_after)
        await self._settle(
            outbox.schedule_retry,
            request_id,
            token,
            next_at=self._clock() + wait,
            error=f"{result.cause}; retrying",
            channel_id=channel_id,
        )
        return outbox.LOG_PENDING

    async def deliver_due(self, *, max_batches: int = 20) -> int:
        """One sweep: deliver the due rows, oldest first, a batch at a time. Returns how many
        were settled (posted, folded or failed for good).

        Every row tried leaves the due set (settled, retried later, or held by another
        process), so each batch is new rows; `max_batches` bounds one sweep after an outage."""
        settled = 0
        for _ in range(max_batches):
            async with self._sessions() as session:
                rows = await outbox.due(session, now=self._clock(), limit=self._batch)
            for row in rows:
                state = await self.deliver(row.id) if row.id is not None else None
                if state not in (None, outbox.LOG_PENDING):
                    settled += 1
            if len(rows) < self._batch:
                break
        return settled

    async def _fold_decision(self, row: RollbackRequest) -> _Blocked | _Fold | FoldedDenials | None:
        async with self._sessions() as session:
            if await outbox.has_earlier_pending_denial(session, row):
                return _BLOCKED
            previous = await outbox.last_settled_denial(session, row)
            if previous is not None and row.created_at < previous.created_at + self._fold_window:
                return _FOLD
            count, earliest = await outbox.folded_denials(
                session, row, after_id=previous.id if previous is not None else None
            )
        if not count:
            return None
        since = previous.created_at if previous is not None else earliest
        return FoldedDenials(count=count, span=row.created_at - (since or row.created_at))

    async def _settle(
        self,
        mark: Callable[..., Awaitable[bool]],
        request_id: int,
        token: datetime,
        **values: object,
    ) -> None:
        async with self._sessions() as session, session.begin():
            held = await mark(session, request_id, claim_token=token, **values)
        if not held:
            # Our lease lapsed (a very slow send) and another poster took the row over; it sends
            # the same nonce, so Discord gives it the message we may have made.
            log.error(
                "log outbox: lost the claim on request %s before recording %s",
                request_id,
                getattr(mark, "__name__", mark),
            )
