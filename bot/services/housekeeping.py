"""Housekeeping sweeps: expire overdue prompts, settle rows whose process died, and look again
at failed rows whose wiki answer was lost. Every decision about the wiki comes from
`settlement`; every move goes through `records`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.codes import BotCode
from bot.services.leases import Leases
from bot.services.outcomes import Refused, Succeeded
from bot.services.records import RequestRecords, row_id
from bot.services.settlement import Settlement, Verdict
from bot.wiki.errors import WikiError

log = logging.getLogger(__name__)


class Housekeeping:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        records: RequestRecords,
        settlement: Settlement,
        leases: Leases,
        in_flight: Collection[int],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._records = records
        self._settlement = settlement
        self._leases = leases
        # Requests this process is carrying out now (the service's live set).
        self._in_flight = in_flight

    async def reconcile(self) -> list[RollbackRequest]:
        """At start-up: settle abandoned `running` rows and expire stale prompts. Rows another
        live process is carrying out (its lease holds) are left alone."""
        settled = await self.settle_abandoned()
        settled.extend(await self.expire_due())
        return settled

    async def expire_due(self) -> list[RollbackRequest]:
        """End every `pending` request whose prompt has timed out."""
        async with self._sessions() as session:
            due = await audit.expired_pending(session, now=self._clock())
        expired: list[RollbackRequest] = []
        for row in due:
            # A click may end the row first; only the rows this sweep changed are reported.
            changed, fresh = await self._records.move(
                row_id(row), from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.EXPIRED
            )
            if changed:
                expired.append(fresh)
        return expired

    async def settle_abandoned(self) -> list[RollbackRequest]:
        """Settle `running` rows whose owner's lease lapsed, from the page history."""
        settled: list[RollbackRequest] = []
        for row in await self._leases.lapsed():
            request_id = row_id(row)
            if request_id in self._in_flight:
                continue
            if not await self._leases.take_over(request_id):
                continue  # another process is settling it
            try:
                finding = await self._settlement.look(row)
            except WikiError as exc:
                log.warning("could not settle request %s yet: %s", request_id, exc)
                continue  # the lease lapses again and the next sweep retries
            if finding.verdict is Verdict.APPLIED and finding.result is not None:
                outcome: Succeeded | Refused = await self._records.succeed(
                    request_id, finding.result
                )
            else:
                # A POST still in flight from the dead process may land later: re-checked.
                outcome = await self._records.end(
                    request_id,
                    RollbackStatus.RUNNING,
                    BotCode.INTERRUPTED,
                    "The bot was interrupted while this rollback was in progress and the page "
                    "history shows no rollback by the bot; it was not applied.",
                    recheck=True,
                )
            settled.append(outcome.request)
        return settled

    async def recheck_due(self) -> list[RollbackRequest]:
        """Look again at `failed` rows whose answer was lost; correct those the wiki made."""
        async with self._sessions() as session:
            due = await audit.due_rechecks(session, now=self._clock())
        corrected: list[RollbackRequest] = []
        for row in due:
            if not await self._records.push_recheck(row):
                continue  # another process took this re-check
            try:
                finding = await self._settlement.look(row)
            except WikiError as exc:
                log.warning("re-check of request %s failed: %s", row.id, exc)
                continue
            if finding.verdict is Verdict.APPLIED and finding.result is not None:
                corrected.append((await self._records.correct(row_id(row), finding.result)).request)
        return corrected
