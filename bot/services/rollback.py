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
from collections.abc import Callable, Mapping
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
from bot.services.requests import new_request_row, problem_fields
from bot.services.sending import RollbackSender
from bot.services.settlement import Settlement
from bot.services.summary import build_summary, wiki_default_summary
from bot.services.wiki import EveryWiki, RollbackWiki, WikiAccess, error_fields, keyed
from bot.settings import DEFAULT_WIKI
from bot.wiki.errors import WikiError
from bot.wiki.names import normalize_title, normalize_username, user_id_reference
from bot.wiki.results import RollbackPreview

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


class RollbackService:
    """The workflow. Owns no resources: the wiki client and session factory are injected."""

    def __init__(
        self,
        *,
        wiki: RollbackWiki | None = None,
        wikis: Mapping[str, RollbackWiki] | None = None,
        sessions: async_sessionmaker[AsyncSession],
        roles: RolePolicy,
        confirm_timeout: timedelta,
        clock: Callable[[], datetime] = utcnow,
        settlement: Settlement | None = None,
        lease: timedelta = LEASE,
        owner: str | None = None,
        access: WikiAccess | None = None,
    ) -> None:
        # Every wiki this process serves, by key; each row names its own.
        self._wikis = keyed(wiki, wikis)
        self._access = access or EveryWiki(list(self._wikis))
        self._sessions = sessions
        self._roles = roles
        self._confirm_timeout = confirm_timeout
        self._clock = clock
        self._records = RequestRecords(sessions=sessions, clock=clock)
        self._settlement = settlement or Settlement(wikis=self._wikis, sessions=sessions)
        self._leases = Leases(sessions=sessions, clock=clock, owner=owner, duration=lease)
        self.owner = self._leases.owner
        # Requests this process is carrying out now; the sweeps leave them alone.
        self._in_flight: set[int] = set()
        self._sender = RollbackSender(
            wikis=self._wikis,
            records=self._records,
            settlement=self._settlement,
            leases=self._leases,
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

    @property
    def wiki_keys(self) -> list[str]:
        return list(self._wikis)

    def wiki(self, key: str) -> RollbackWiki | None:
        return self._wikis.get(key)

    def wikis_for(self, guild_id: int) -> list[str]:
        """The configured wikis this server may use (the operator's list)."""
        return [key for key in self._access.wikis_for(guild_id) if key in self._wikis]

    async def resolve_wiki(self, guild_id: int, asked: str | None) -> str | None:
        """The wiki a command acts on: the one asked for, else the server's default. None if
        the server may use no wiki. Not validated here: `request` refuses a forbidden one."""
        if asked is not None:
            return asked.strip().lower()
        default = await self._access.default_wiki(guild_id)
        allowed = self.wikis_for(guild_id)
        if default in allowed:
            return default
        return allowed[0] if allowed else None

    async def deny(
        self,
        actor: Actor,
        *,
        page: str,
        user: str,
        summary: str | None,
        markbot: bool,
        wiki: str = DEFAULT_WIKI,
    ) -> Denied:
        """Record a refused request. No wiki request is made for a denied member."""
        row = self._row(
            actor,
            page=page,
            user=user,
            summary=summary,
            markbot=markbot,
            wiki=wiki,
        )
        await self._insert_ended(
            row,
            RollbackStatus.DENIED,
            BotCode.MISSINGROLE,
            "The member holds none of the rollback roles.",
        )
        required = await self._roles.rollback_role_ids(actor.guild_id)
        log.info("denied request %s by %s", row.id, actor.user_id)
        return Denied(row, required)

    async def refuse(
        self,
        actor: Actor,
        *,
        page: str,
        user: str,
        wiki: str,
        code: str,
        message: str,
    ) -> Refused:
        """Record a request the bot refused before any preview (e.g. a linked edit that can no
        longer be rolled back): the row ends `failed` with `code` and goes to the log."""
        row = self._row(
            actor,
            page=page,
            user=user,
            summary=None,
            markbot=False,
            wiki=wiki,
        )
        await self._insert_ended(row, RollbackStatus.FAILED, code, message)
        log.info("request %s refused (%s): %s", row.id, code, message)
        return Refused(row, code, message)

    async def request(
        self,
        actor: Actor,
        *,
        page: str,
        user: str,
        summary: str | None,
        markbot: bool,
        wiki: str = DEFAULT_WIKI,
    ) -> RequestOutcome:
        """Record the request, read the page history, and offer a preview (or say why not).

        The caller has already deferred the interaction: this reads from the wiki. The row is
        inserted with its expiry, so a crash during the preview is settled by the sweep. A wiki
        the server may not use is refused whatever the client sent (autocomplete is no check).
        """
        if not await self.is_authorized(actor):
            return await self.deny(
                actor, page=page, user=user, summary=summary, markbot=markbot, wiki=wiki
            )
        row = self._row(
            actor,
            page=page,
            user=user,
            summary=summary,
            markbot=markbot,
            wiki=wiki,
        )
        if wiki not in self.wikis_for(actor.guild_id):
            return await self._refuse_wiki(row, actor.guild_id)
        async with self._sessions() as session, session.begin():
            await audit.add_request(session, row)
        request_id = row_id(row)
        client = self._wikis[wiki]
        unavailable = await client.ensure_available()
        if unavailable is not None:
            return await self._ended(
                request_id,
                RollbackStatus.PENDING,
                BotCode.WIKIUNAVAILABLE,
                f"wiki {wiki} is unavailable: {unavailable}",
            )

        try:
            title = normalize_title(page)
        except ValueError as exc:
            return await self._ended(request_id, RollbackStatus.PENDING, "invalidtitle", str(exc))
        user_id = user_id_reference(user)
        if user_id is not None:
            # "#12345" (as action=rollback accepts it): the row, the log and the rollback use
            # the account's name from here on; the pending row keeps "#12345" until then.
            try:
                name = await client.user_name_for_id(user_id)
            except WikiError as exc:
                return await self._ended(request_id, RollbackStatus.PENDING, *error_fields(exc))
            if name is None:
                return await self._ended(
                    request_id,
                    RollbackStatus.PENDING,
                    "nosuchuserid",
                    f"The wiki has no account with the user id {user_id}.",
                )
            log.info("request %s: user #%s is %r", request_id, user_id, name)
            user = name
        try:
            target = normalize_username(user)
        except ValueError as exc:
            return await self._ended(request_id, RollbackStatus.PENDING, "baduser", str(exc))

        try:
            preview = await client.preview(title, target)
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
        client = self._wikis.get(row.wiki)
        if client is None:  # the operator removed the wiki from WIKIS since the preview
            return await self._ended(
                request_id,
                running,
                BotCode.WIKIUNAVAILABLE,
                f"wiki {row.wiki} is unavailable: this bot no longer serves it",
            )
        try:
            fresh = await client.preview(row.page_title, row.target_user)
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
            default_message=await wiki_default_summary(client),
            restored_user=fresh.restored.user if fresh.restored else None,
            target_user=row.target_user,
        )
        return await self._sender.send(row, request_id, summary)

    # ---- internals -------------------------------------------------------------------------

    async def _refuse_wiki(self, row: RollbackRequest, guild_id: int) -> Refused:
        message = f"This server may not use the wiki {row.wiki!r}."
        await self._insert_ended(row, RollbackStatus.DENIED, BotCode.WIKINOTALLOWED, message)
        log.info("request %s: guild %s may not use wiki %r", row.id, guild_id, row.wiki)
        return Refused(row, BotCode.WIKINOTALLOWED, message)

    def _row(
        self,
        actor: Actor,
        *,
        page: str,
        user: str,
        summary: str | None,
        markbot: bool,
        wiki: str,
    ) -> RollbackRequest:
        return new_request_row(
            actor,
            now=self._clock(),
            expires_in=self._confirm_timeout,
            wikis=self._wikis,
            page=page,
            user=user,
            summary=summary,
            markbot=markbot,
            wiki=wiki,
        )

    async def _insert_ended(
        self, row: RollbackRequest, status: RollbackStatus, code: str, message: str
    ) -> None:
        """Insert a request that ends as it is made (denied, refused before any preview)."""
        row.status = status
        row.expires_at = None
        row.error_code = code
        row.error_message = message
        async with self._sessions() as session, session.begin():
            await audit.add_request(session, row)

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
            code, message = problem_fields(preview)
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
