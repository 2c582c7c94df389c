"""The rollback workflow: request → preview → confirm/cancel/expire → rollback → audit.

Every public method ends the request's audit row in a truthful state or leaves it `pending`
with an expiry. The row is committed before any wiki write, and the `pending → running`
claim is a compare-and-set in the database, so a double click (even from two processes)
rolls back once. The claiming process holds a lease on the `running` row and renews it while
it works; no other process settles the row until the lease lapses. Whether a rollback
happened after a lost answer is decided by `settlement`, from the page history. Nothing here
imports discord: the Discord layer renders the outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from bot.services.authz import RolePolicy, holds_any
from bot.services.codes import BotCode
from bot.services.housekeeping import Housekeeping
from bot.services.leases import LEASE, Leases
from bot.services.outcomes import (
    Actor,
    Cancelled,
    CancelOutcome,
    Claimed,
    ClaimOutcome,
    ClickRefusal,
    Denied,
    ExecuteOutcome,
    Expired,
    Missing,
    NotPending,
    NotYours,
    Ready,
    Refused,
    RequestOutcome,
    Stale,
    Succeeded,
    WrongGuild,
)
from bot.services.records import RequestRecords, row_id
from bot.services.sending import RollbackSender
from bot.services.settlement import Settlement
from bot.services.summary import build_summary
from bot.services.wiki import RollbackWiki, error_fields
from bot.wiki.errors import WikiError
from bot.wiki.names import capitalized_title, normalize_title, normalize_username
from bot.wiki.results import PreviewProblem, RollbackPreview

# The outcomes are re-exported: callers and tests name them from the workflow they come from.
__all__ = [
    "LEASE",
    "Actor",
    "CancelOutcome",
    "Cancelled",
    "ClaimOutcome",
    "Claimed",
    "ClickRefusal",
    "Denied",
    "ExecuteOutcome",
    "Expired",
    "Missing",
    "NotPending",
    "NotYours",
    "Ready",
    "Refused",
    "RequestOutcome",
    "RollbackService",
    "RollbackWiki",
    "Stale",
    "Succeeded",
    "WrongGuild",
]

log = logging.getLogger(__name__)

_MAX_SUMMARY_INPUT = 1000


class RollbackService:
    """The workflow. Owns no resources: the wiki client and session factory are injected."""

    def __init__(
        self,
        *,
        wiki: RollbackWiki,
        sessions: async_sessionmaker[AsyncSession],
        roles: RolePolicy,
        confirm_timeout: timedelta,
        clock: Callable[[], datetime] = utcnow,
        settlement: Settlement | None = None,
        lease: timedelta = LEASE,
        owner: str | None = None,
    ) -> None:
        self._wiki = wiki
        self._sessions = sessions
        self._roles = roles
        self._confirm_timeout = confirm_timeout
        self._clock = clock
        self._records = RequestRecords(sessions=sessions, clock=clock)
        self._settlement = settlement or Settlement(wiki=wiki, sessions=sessions)
        self._leases = Leases(sessions=sessions, clock=clock, owner=owner, duration=lease)
        self.owner = self._leases.owner
        # Requests this process is carrying out now; the sweeps leave them alone.
        self._in_flight: set[int] = set()
        self._sender = RollbackSender(
            wiki=wiki, records=self._records, settlement=self._settlement, leases=self._leases
        )
        self._housekeeping = Housekeeping(
            sessions=sessions,
            clock=clock,
            records=self._records,
            settlement=self._settlement,
            leases=self._leases,
            in_flight=self._in_flight,
        )

    @property
    def records(self) -> RequestRecords:
        return self._records

    @property
    def settlement(self) -> Settlement:
        return self._settlement

    # ---- /rollback ----------------------------------------------------------------------

    async def is_authorized(self, actor: Actor) -> bool:
        return holds_any(actor.role_ids, await self._roles.rollback_role_ids(actor.guild_id))

    async def deny(
        self, actor: Actor, *, page: str, user: str, summary: str | None, markbot: bool
    ) -> Denied:
        """Record a refused request. No wiki request is made for a denied member."""
        row = self._new_row(actor, page=page, user=user, summary=summary, markbot=markbot)
        row.status = RollbackStatus.DENIED
        row.expires_at = None
        row.error_code = BotCode.MISSINGROLE
        row.error_message = "The member holds none of the rollback roles."
        async with self._sessions() as session, session.begin():
            await audit.add_request(session, row)
        required = await self._roles.rollback_role_ids(actor.guild_id)
        log.info("denied request %s by %s", row.id, actor.user_id)
        return Denied(row, required)

    async def request(
        self, actor: Actor, *, page: str, user: str, summary: str | None, markbot: bool
    ) -> RequestOutcome:
        """Record the request, read the page history, and offer a preview (or say why not).

        The caller has already deferred the interaction: this reads from the wiki. The row is
        inserted with its expiry, so a crash during the preview is settled by the sweep.
        """
        if not await self.is_authorized(actor):
            return await self.deny(actor, page=page, user=user, summary=summary, markbot=markbot)
        row = self._new_row(actor, page=page, user=user, summary=summary, markbot=markbot)
        async with self._sessions() as session, session.begin():
            await audit.add_request(session, row)
        request_id = row_id(row)

        try:
            title = normalize_title(page)
        except ValueError as exc:
            return await self._ended(request_id, RollbackStatus.PENDING, "invalidtitle", str(exc))
        try:
            target = normalize_username(user)
        except ValueError as exc:
            return await self._ended(request_id, RollbackStatus.PENDING, "baduser", str(exc))

        try:
            preview = await self._wiki.preview(title, target)
        except WikiError as exc:
            return await self._ended(request_id, RollbackStatus.PENDING, *error_fields(exc))
        except Exception as exc:
            return await self._crashed(request_id, RollbackStatus.PENDING, exc)
        return await self._offer(request_id, preview, from_status=RollbackStatus.PENDING)

    # ---- buttons -------------------------------------------------------------------------

    async def claim(self, request_id: int, actor: Actor) -> ClaimOutcome:
        """Confirm clicked: check who, where, when and what, then win `pending → running`.

        Returns quickly (database only) so the click can be acknowledged; `execute` does
        the wiki work.
        """
        checked = await self._check_click(request_id, actor)
        if not isinstance(checked, RollbackRequest):
            return checked
        if not await self.is_authorized(actor):
            # The role was removed after the preview: the request ends here.
            changed, row = await self._records.move(
                request_id,
                from_statuses=[RollbackStatus.PENDING],
                to=RollbackStatus.DENIED,
                error_code=BotCode.MISSINGROLE,
                error_message="The member lost the rollback role before confirming.",
            )
            if not changed:
                return NotPending(row)
            return Denied(row, await self._roles.rollback_role_ids(actor.guild_id))
        now = self._clock()
        won, row = await self._records.move(
            request_id,
            from_statuses=[RollbackStatus.PENDING],
            to=RollbackStatus.RUNNING,
            confirmed_by_id=actor.user_id,
            confirmed_at=now,
            **self._leases.claim_values(now),
        )
        if not won:
            return NotPending(row)
        return Claimed(row)

    async def execute(self, claimed: Claimed) -> ExecuteOutcome:
        """Carry out a claimed request: re-check the page, roll back, record the result."""
        request_id = row_id(claimed.request)
        self._in_flight.add(request_id)
        try:
            async with self._leases.kept(request_id):
                return await self._execute(claimed.request, request_id)
        finally:
            self._in_flight.discard(request_id)

    async def cancel(self, request_id: int, actor: Actor) -> CancelOutcome:
        checked = await self._check_click(request_id, actor)
        if not isinstance(checked, RollbackRequest):
            return checked
        done, row = await self._records.move(
            request_id, from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.CANCELLED
        )
        return Cancelled(row) if done else NotPending(row)

    # ---- housekeeping ----------------------------------------------------------------------

    async def expire_due(self) -> list[RollbackRequest]:
        """End every `pending` request whose prompt has timed out."""
        return await self._housekeeping.expire_due()

    async def reconcile(self) -> list[RollbackRequest]:
        """At start-up: settle abandoned `running` rows and expire stale prompts."""
        return await self._housekeeping.reconcile()

    async def settle_abandoned(self) -> list[RollbackRequest]:
        """Settle `running` rows whose owner's lease lapsed, from the page history."""
        return await self._housekeeping.settle_abandoned()

    async def recheck_due(self) -> list[RollbackRequest]:
        """Look again at `failed` rows whose answer was lost; correct those the wiki made."""
        return await self._housekeeping.recheck_due()

    async def record_prompt_message(
        self, request_id: int, message_id: int, *, token: str | None = None
    ) -> None:
        await self._records.update(request_id, prompt_message_id=message_id, prompt_token=token)

    async def forget_prompt(self, request_id: int) -> None:
        await self._records.update(request_id, prompt_token=None)

    async def get(self, request_id: int) -> RollbackRequest | None:
        return await self._records.get(request_id)

    # ---- carrying out a claimed request ----------------------------------------------------

    async def _execute(self, row: RollbackRequest, request_id: int) -> ExecuteOutcome:
        running = RollbackStatus.RUNNING
        try:
            fresh = await self._wiki.preview(row.page_title, row.target_user)
        except WikiError as exc:
            return await self._ended(request_id, running, *error_fields(exc))
        except Exception as exc:
            return await self._crashed(request_id, running, exc)
        if fresh.problem is not None or fresh.top is None or fresh.top.revid != row.top_revid:
            outcome = await self._offer(request_id, fresh, from_status=running)
            if isinstance(outcome, Ready):
                return Stale(outcome.request, outcome.preview)
            return outcome

        summary = build_summary(
            row.summary,
            requester_name=row.requester_name,
            default_message=await self._default_summary(),
            restored_user=fresh.restored.user if fresh.restored else None,
            target_user=row.target_user,
        )
        return await self._sender.send(row, request_id, summary)

    # ---- internals -------------------------------------------------------------------------

    def _new_row(
        self, actor: Actor, *, page: str, user: str, summary: str | None, markbot: bool
    ) -> RollbackRequest:
        now = self._clock()
        return RollbackRequest(
            created_at=now,
            updated_at=now,
            guild_id=actor.guild_id,
            channel_id=actor.channel_id,
            requester_id=actor.user_id,
            requester_name=actor.display_name[:100],
            wiki_api_url=self._wiki.api_url,
            # Normalised now, so that even rows that never reach the wiki (denied, invalid)
            # are found by a search for the name; the wiki's own spelling replaces it later.
            page_title=_best_effort(capitalized_title, page)[:512],
            target_user=_best_effort(normalize_username, user)[:255],
            summary=(summary.strip()[:_MAX_SUMMARY_INPUT] or None) if summary else None,
            markbot=markbot,
            status=RollbackStatus.PENDING,
            expires_at=now + self._confirm_timeout,
        )

    async def _check_click(
        self, request_id: int, actor: Actor
    ) -> RollbackRequest | NotYours | WrongGuild | NotPending | Missing | Expired:
        row = await self._records.get(request_id)
        if row is None:
            return Missing(request_id)
        if row.guild_id != actor.guild_id:
            # Roles are per server: a role held elsewhere says nothing about this request.
            return WrongGuild(row)
        if row.requester_id != actor.user_id:
            return NotYours(row)
        if row.status != RollbackStatus.PENDING:
            return NotPending(row)
        if row.expires_at is not None and row.expires_at <= self._clock():
            done, row = await self._records.move(
                request_id, from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.EXPIRED
            )
            return Expired(row) if done else NotPending(row)
        return row

    async def _offer(
        self, request_id: int, preview: RollbackPreview, *, from_status: RollbackStatus
    ) -> Ready | Refused | Succeeded:
        facts: dict[str, object] = {
            "page_title": preview.title[:512],
            "page_id": preview.pageid,
            "target_user": preview.target_user[:255],
            "edits_to_revert": preview.edits_to_revert,
            "top_revid": preview.top.revid if preview.top else None,
            "restored_revid": preview.restored.revid if preview.restored else None,
        }
        if preview.problem is not None:
            code, message = _problem_fields(preview)
            outcome = await self._records.end(request_id, from_status, code, message, facts=facts)
            if isinstance(outcome, Refused) and outcome.request.status == RollbackStatus.FAILED:
                return Refused(outcome.request, outcome.code, outcome.message, preview)
            return outcome
        won, row = await self._records.move(
            request_id,
            from_statuses=[from_status],
            to=RollbackStatus.PENDING,
            expires_at=self._clock() + self._confirm_timeout,
            lease_owner=None,
            lease_until=None,
            **facts,
        )
        if not won:
            log.error(
                "compare-and-set lost: request %s was to be offered again but is %s",
                request_id,
                row.status,
            )
            return await self._records.decided_elsewhere(request_id)
        return Ready(row, preview)

    async def _default_summary(self) -> str:
        try:
            return await self._wiki.default_rollback_summary()
        except WikiError:
            # MediaWiki's own English default; the wiki fills in $1/$2.
            return (
                "Reverted edits by [[Special:Contributions/$2|$2]] "
                "([[User talk:$2|talk]]) to last revision by $1"
            )

    async def _crashed(
        self, request_id: int, from_status: RollbackStatus, exc: Exception
    ) -> Succeeded | Refused:
        """A bug, not a wiki answer: keep the traceback in the log, end the row like any failure
        (so the requester and the log channel hear of it), and carry on serving."""
        log.error("request %s crashed", request_id, exc_info=exc)
        return await self._records.end(
            request_id, from_status, BotCode.INTERNAL, f"{type(exc).__name__}: {exc}"
        )

    async def _ended(
        self, request_id: int, from_status: RollbackStatus, code: str, message: str
    ) -> Succeeded | Refused:
        # A timeout while the rollback itself was being sent may hide an applied rollback.
        recheck = code == BotCode.TIMEOUT and from_status is RollbackStatus.RUNNING
        return await self._records.end(request_id, from_status, code, message, recheck=recheck)


def _best_effort(normalize: Callable[[str], str], text: str) -> str:
    try:
        return normalize(text)
    except ValueError:
        return text.strip()  # kept as typed; the request fails on it with a clear message


def _problem_fields(preview: RollbackPreview) -> tuple[str, str]:
    problem = preview.problem
    if problem is PreviewProblem.MISSING_PAGE:
        return problem.value, f"The page {preview.title} does not exist."
    if problem is PreviewProblem.ONLY_AUTHOR:
        return problem.value, (
            f"{preview.target_user} is the only author of {preview.title}; "
            "there is no earlier version to go back to."
        )
    top_user = preview.top.user if preview.top and preview.top.user else "a hidden user"
    return PreviewProblem.NOT_LAST_EDITOR.value, (
        f"{preview.target_user} is not the last editor of {preview.title}; "
        f"the newest edit is by {top_user}."
    )
