"""Sending a claimed request's rollback, and settling a lost answer from the page history.

The client sends once and reports a lost answer; here the settlement step decides what it
means: applied (record it), superseded (someone else edited: fail, re-checked later), or not
applied over the whole window (send once more). An `alreadyrolled` answer to that second send
means "look for our own first rollback".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.codes import BotCode
from bot.services.leases import Leases
from bot.services.outcomes import Refused, Succeeded
from bot.services.records import RequestRecords, row_id
from bot.services.settlement import Settlement, Verdict
from bot.services.wiki import RollbackWiki, error_fields
from bot.wiki.errors import WikiAPIError, WikiError, WikiTransportError

log = logging.getLogger(__name__)

# A lost answer is re-sent at most this many times in all (only after the history showed,
# over the whole settlement window, that the first send was not applied).
_MAX_SENDS = 2


class RollbackSender:
    def __init__(
        self,
        *,
        wikis: Mapping[str, RollbackWiki],
        records: RequestRecords,
        settlement: Settlement,
        leases: Leases,
    ) -> None:
        self._wikis = wikis
        self._records = records
        self._settlement = settlement
        self._leases = leases

    async def send(
        self, row: RollbackRequest, request_id: int, summary: str
    ) -> Succeeded | Refused:
        """POST the rollback; after a lost answer, settle it from the history (and send again
        only when the history showed, over the whole window, that it was not applied)."""
        running = RollbackStatus.RUNNING
        sends = 0
        while True:
            if not await self._leases.holds(request_id):
                return await self._records.decided_elsewhere(request_id)
            sends += 1
            try:
                result = await self._wikis[row.wiki].rollback(
                    row.page_title, row.target_user, summary=summary, markbot=row.markbot
                )
            except WikiTransportError as exc:
                if not exc.ambiguous:
                    return await self._ended(request_id, *error_fields(exc))
                settled = await self._after_lost_answer(row, exc, resend_allowed=sends < _MAX_SENDS)
                if settled is not None:
                    return settled
                log.warning("request %s: not applied after a lost answer; sending again", row.id)
                if exc.retry_after:
                    await self._settlement.pause(exc.retry_after)
                continue
            except WikiAPIError as exc:
                if exc.code == "alreadyrolled" and sends > 1:
                    # Our earlier send may be what rolled it back: look for it.
                    return await self._after_alreadyrolled(row, exc)
                return await self._ended(request_id, *error_fields(exc))
            except WikiError as exc:
                return await self._ended(request_id, *error_fields(exc))
            except Exception as exc:
                # Raised before any answer from the wiki: a bug of ours, not an ambiguous send.
                log.exception("request %s crashed", request_id, exc_info=exc)
                return await self._records.end(
                    request_id, running, BotCode.INTERNAL, f"{type(exc).__name__}: {exc}"
                )
            return await self._records.succeed(request_id, result)

    async def _after_lost_answer(
        self, row: RollbackRequest, exc: WikiTransportError, *, resend_allowed: bool
    ) -> Succeeded | Refused | None:
        """The wiki did not answer clearly: settle from the page history. None: the history
        shows (over the whole window) that the rollback was not applied, so send it again."""
        request_id = row_id(row)
        log.warning(
            "request %s: the wiki's answer was lost (%s); checking the history", row.id, exc
        )
        try:
            finding = await self._settlement.look_spread(row)
        except WikiError as check_exc:
            return await self._records.end(
                request_id,
                RollbackStatus.RUNNING,
                BotCode.UNVERIFIED,
                f"The wiki did not answer ({exc}) and the page history could not be read "
                f"({check_exc}); check the page history before trying again.",
                recheck=True,
            )
        if finding.verdict is Verdict.APPLIED and finding.result is not None:
            log.info("request %s: the lost rollback had been applied", row.id)
            return await self._records.succeed(request_id, finding.result)
        if finding.verdict is Verdict.NOT_APPLIED and resend_allowed:
            return None
        return await self._records.end(
            request_id, RollbackStatus.RUNNING, *error_fields(exc), recheck=True
        )

    async def _after_alreadyrolled(
        self, row: RollbackRequest, exc: WikiAPIError
    ) -> Succeeded | Refused:
        request_id = row_id(row)
        try:
            finding = await self._settlement.look_spread(row)
        except WikiError as check_exc:
            log.warning("request %s: history unreadable after alreadyrolled: %s", row.id, check_exc)
            finding = None
        if finding is not None and finding.verdict is Verdict.APPLIED and finding.result:
            log.info("request %s: alreadyrolled by its own earlier send", row.id)
            return await self._records.succeed(request_id, finding.result)
        # The read may lag behind the wiki's answer: let the re-check sweep look again.
        lagging = finding is None or finding.verdict is Verdict.NOT_APPLIED
        return await self._records.end(
            request_id, RollbackStatus.RUNNING, exc.code, exc.info, recheck=lagging
        )

    async def _ended(self, request_id: int, code: str, message: str) -> Succeeded | Refused:
        # A timeout while the rollback itself was being sent may hide an applied rollback.
        return await self._records.end(
            request_id, RollbackStatus.RUNNING, code, message, recheck=code == BotCode.TIMEOUT
        )
