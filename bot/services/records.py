"""The request's audit row as the workflow moves it: every move is a compare-and-set whose
loss is handled, never dropped.

A lost compare-and-set is information: another process (or a sweep) decided the row first.
The loser logs it at ERROR, re-reads the row, and — when it holds proof from the wiki that the
rollback happened — corrects a `failed` row to `succeeded` (the one correction the lifecycle
allows). It never overwrites a `succeeded` row with a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.codes import BotCode
from bot.services.outcomes import Refused, Succeeded
from bot.wiki.results import RollbackResult

log = logging.getLogger(__name__)

# When a `failed` row whose answer was lost is looked at again: soon (a commit in flight or a
# lagging replica shows up within seconds to minutes), then twice more, then never.
RECHECK_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
)


class RequestRecords:
    """Moves of `rollback_request` rows, each in its own transaction, on the service's clock."""

    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def get(self, request_id: int) -> RollbackRequest | None:
        async with self._sessions() as session:
            return await audit.get_request(session, request_id)

    async def move(
        self,
        request_id: int,
        *,
        from_statuses: Collection[RollbackStatus],
        to: RollbackStatus,
        **values: object,
    ) -> tuple[bool, RollbackRequest]:
        """Compare-and-set the row's status; return (changed, the row as it is now)."""
        async with self._sessions() as session, session.begin():
            changed = await audit.transition(
                session,
                request_id,
                from_statuses=from_statuses,
                to=to,
                updated_at=self._clock(),
                **values,
            )
            row = await audit.get_request(session, request_id)
        if row is None:
            raise LookupError(f"audit row {request_id} disappeared")
        return changed, row

    async def update(self, request_id: int, **values: object) -> None:
        async with self._sessions() as session, session.begin():
            await audit.update_request(session, request_id, updated_at=self._clock(), **values)

    async def succeed(
        self,
        request_id: int,
        result: RollbackResult,
        *,
        from_statuses: Collection[RollbackStatus] = (RollbackStatus.RUNNING,),
    ) -> Succeeded:
        """Record the wiki's rollback. If the row was meanwhile ended `failed` by someone who
        could not see it (a settle sweep, another process), correct it: the wiki is the truth."""
        won, row = await self.move(
            request_id, from_statuses=from_statuses, to=RollbackStatus.SUCCEEDED, **_facts(result)
        )
        if won:
            log.info("request %s succeeded: revid %s", request_id, result.revid)
            return Succeeded(row, result)
        log.error(
            "compare-and-set lost: request %s is %s, but the wiki made its rollback (revid %s)",
            request_id,
            row.status,
            result.revid,
        )
        if row.status == RollbackStatus.FAILED:
            return await self.correct(request_id, result)
        return Succeeded(row, result_of(row) or result)

    async def correct(self, request_id: int, result: RollbackResult) -> Succeeded:
        """`failed` → `succeeded`: the page history proved this request's rollback. The
        outcome goes to the log outbox again (edited in place when it was posted)."""
        won, row = await self.move(
            request_id,
            from_statuses=[RollbackStatus.FAILED],
            to=RollbackStatus.SUCCEEDED,
            error_code=None,
            error_message=None,
            recheck_at=None,
            **_facts(result),
        )
        if won:
            log.warning(
                "request %s corrected from failed to succeeded: the page history shows its "
                "rollback (revid %s)",
                request_id,
                result.revid,
            )
        elif row.status != RollbackStatus.SUCCEEDED:
            log.error("request %s could not be corrected: it is %s", request_id, row.status)
        return Succeeded(row, result_of(row) or result)

    async def end(
        self,
        request_id: int,
        from_status: RollbackStatus,
        code: str,
        message: str,
        *,
        recheck: bool = False,
        facts: Mapping[str, object] | None = None,
    ) -> Succeeded | Refused:
        """End the row `failed`. A lost compare-and-set never turns a success into a failure:
        the row as decided elsewhere is what the caller reports."""
        values: dict[str, object] = {
            "error_code": code[:100],
            "error_message": message[:2000],
            **(facts or {}),
        }
        if recheck:
            values["recheck_at"] = self._clock() + RECHECK_DELAYS[0]
        won, row = await self.move(
            request_id, from_statuses=[from_status], to=RollbackStatus.FAILED, **values
        )
        if won:
            log.info("request %s failed: %s", request_id, code)
            return Refused(row, code, message)
        log.error(
            "compare-and-set lost: request %s was to fail (%s) from %s but is %s",
            request_id,
            code,
            from_status,
            row.status,
        )
        result = result_of(row)
        if row.status == RollbackStatus.SUCCEEDED and result is not None:
            return Succeeded(row, result)
        return Refused(
            row, row.error_code or code, row.error_message or BotCode(BotCode.INTERNAL).sentence
        )

    async def decided_elsewhere(self, request_id: int) -> Succeeded | Refused:
        """The row as another process (or a sweep) decided it, as an outcome to report."""
        row = await self.get(request_id)
        if row is None:
            raise LookupError(f"audit row {request_id} disappeared")
        result = result_of(row)
        if row.status == RollbackStatus.SUCCEEDED and result is not None:
            return Succeeded(row, result)
        if row.status == RollbackStatus.RUNNING:
            # Lost the lease without anyone settling yet (the database was unreachable): end it
            # as not sent; nothing was POSTed since the lease lapsed.
            return await self.end(
                request_id,
                RollbackStatus.RUNNING,
                BotCode.INTERRUPTED,
                "The bot lost its claim on this request before sending it; nothing was sent.",
                recheck=True,
            )
        return Refused(row, row.error_code or BotCode.INTERNAL, row.error_message or "")

    async def push_recheck(self, row: RollbackRequest) -> bool:
        """Claim this due re-check (compare-and-set on its time) and schedule the next one."""
        if row.id is None or row.recheck_at is None:
            return False
        now = self._clock()
        following = row.recheck_count + 1
        next_at = now + RECHECK_DELAYS[following] if following < len(RECHECK_DELAYS) else None
        async with self._sessions() as session, session.begin():
            return await audit.push_recheck(
                session, row.id, seen=row.recheck_at, next_at=next_at, now=now
            )


def _facts(result: RollbackResult) -> dict[str, object]:
    return {
        "revid": result.revid,
        "old_revid": result.old_revid,
        "last_revid": result.last_revid,
        "page_id": result.pageid,
        "result_summary": result.summary[:1000] or None,
    }


def result_of(row: RollbackRequest) -> RollbackResult | None:
    """The rollback a `succeeded` row records, rebuilt from its columns."""
    if row.revid is None:
        return None
    return RollbackResult(
        title=row.page_title,
        pageid=row.page_id or 0,
        summary=row.result_summary or "",
        revid=row.revid,
        old_revid=row.old_revid or 0,
        last_revid=row.last_revid or 0,
    )


def row_id(row: RollbackRequest) -> int:
    if row.id is None:
        raise ValueError("audit row was not flushed")
    return row.id
