"""The rollback workflow: request → preview → confirm/cancel/expire → rollback → audit.

Every public method ends the request's audit row in a truthful state or leaves it `pending`
with an expiry. The row is committed before any wiki write, and the `pending → running`
claim is a compare-and-set in the database, so a double click (even from two processes)
rolls back once. Nothing here imports discord: the Discord layer renders the outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from bot.services.authz import RolePolicy, holds_any
from bot.services.summary import build_summary
from bot.wiki.errors import WikiAPIError, WikiError, WikiTransportError
from bot.wiki.names import capitalized_title, normalize_title, normalize_username
from bot.wiki.results import PreviewProblem, RollbackPreview, RollbackResult

log = logging.getLogger(__name__)

_MAX_SUMMARY_INPUT = 1000
# How far before the confirmation to look for this request's rollback in the page history.
# MediaWiki stamps revisions in whole seconds by its own clock: a rollback sent 0.2 s after
# `confirmed_at` is usually stamped *before* it (same second, truncated), and more so if the
# wiki's clock is behind ours. The same margin the wiki client uses after an ambiguous failure.
_HISTORY_LOOK_BACK = timedelta(seconds=60)


class RollbackWiki(Protocol):
    """What the workflow needs from the wiki client (a fake in unit tests)."""

    @property
    def api_url(self) -> str: ...

    async def preview(self, title: str, user: str) -> RollbackPreview: ...

    async def rollback(
        self, title: str, user: str, *, summary: str | None, markbot: bool = False
    ) -> RollbackResult: ...

    async def find_rollback(
        self, title: str, user: str, *, since: datetime
    ) -> RollbackResult | None: ...

    async def default_rollback_summary(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """The Discord member acting, reduced to what the workflow needs."""

    user_id: int
    display_name: str
    role_ids: frozenset[int]
    guild_id: int
    channel_id: int | None = None


# ---- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Denied:
    """The member lacks a rollback role (row: `denied`)."""

    request: RollbackRequest
    required_role_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class Refused:
    """No rollback can be offered or done; row ended `failed` with `code`."""

    request: RollbackRequest
    code: str
    message: str
    preview: RollbackPreview | None = None


@dataclass(frozen=True, slots=True)
class Ready:
    """A preview to confirm; row `pending` until `request.expires_at`."""

    request: RollbackRequest
    preview: RollbackPreview


@dataclass(frozen=True, slots=True)
class NotYours:
    """Someone other than the requester clicked; nothing changed."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class NotPending:
    """The request was already decided (or is being carried out); nothing changed."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Missing:
    """A click on a prompt whose request is not in the database."""

    request_id: int


@dataclass(frozen=True, slots=True)
class Expired:
    """The prompt timed out; row `expired`."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Cancelled:
    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Claimed:
    """Confirm won the compare-and-set: row `running`, committed; call `execute`."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Stale:
    """The page changed since the preview; row back to `pending` with the new preview."""

    request: RollbackRequest
    preview: RollbackPreview


@dataclass(frozen=True, slots=True)
class Succeeded:
    request: RollbackRequest
    result: RollbackResult


RequestOutcome = Denied | Refused | Ready
ClickRefusal = NotYours | NotPending | Missing | Expired | Denied
ClaimOutcome = ClickRefusal | Claimed
CancelOutcome = ClickRefusal | Cancelled
ExecuteOutcome = Succeeded | Refused | Stale


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
    ) -> None:
        self._wiki = wiki
        self._sessions = sessions
        self._roles = roles
        self._confirm_timeout = confirm_timeout
        self._clock = clock
        # Requests this process is carrying out now; `settle_stuck` must leave them alone.
        self._in_flight: set[int] = set()

    # ---- /rollback ----------------------------------------------------------------------

    async def is_authorized(self, actor: Actor) -> bool:
        return holds_any(actor.role_ids, await self._roles.rollback_role_ids(actor.guild_id))

    async def deny(
        self, actor: Actor, *, page: str, user: str, summary: str | None, markbot: bool
    ) -> Denied:
        """Record a refused request. No wiki request is made for a denied member."""
        row = self._new_row(actor, page=page, user=user, summary=summary, markbot=markbot)
        row.status = RollbackStatus.DENIED
        row.error_code = "missingrole"
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

        The caller has already deferred the interaction: this reads from the wiki.
        """
        if not await self.is_authorized(actor):
            return await self.deny(actor, page=page, user=user, summary=summary, markbot=markbot)
        row = self._new_row(actor, page=page, user=user, summary=summary, markbot=markbot)
        async with self._sessions() as session, session.begin():
            await audit.add_request(session, row)
        request_id = _id(row)

        try:
            title = normalize_title(page)
        except ValueError as exc:
            return await self._refuse(request_id, "invalidtitle", str(exc))
        try:
            target = normalize_username(user)
        except ValueError as exc:
            return await self._refuse(request_id, "baduser", str(exc))

        try:
            preview = await self._wiki.preview(title, target)
        except WikiError as exc:
            return await self._refuse(request_id, *_error_fields(exc))
        except Exception as exc:
            return await self._crashed(request_id, RollbackStatus.PENDING, exc)
        return await self._offer(request_id, preview, from_status=RollbackStatus.PENDING)

    # ---- buttons -------------------------------------------------------------------------

    async def claim(self, request_id: int, actor: Actor) -> ClaimOutcome:
        """Confirm clicked: check who, when and what, then win the `pending → running` CAS.

        Returns quickly (database only) so the click can be acknowledged; `execute` does
        the wiki work.
        """
        checked = await self._check_click(request_id, actor)
        if not isinstance(checked, RollbackRequest):
            return checked
        if not await self.is_authorized(actor):
            # The role was removed after the preview: the request ends here.
            changed, row = await self._move(
                request_id,
                from_statuses=[RollbackStatus.PENDING],
                to=RollbackStatus.DENIED,
                error_code="missingrole",
                error_message="The member lost the rollback role before confirming.",
            )
            if not changed:
                return NotPending(row)
            return Denied(row, await self._roles.rollback_role_ids(actor.guild_id))
        now = self._clock()
        won, row = await self._move(
            request_id,
            from_statuses=[RollbackStatus.PENDING],
            to=RollbackStatus.RUNNING,
            confirmed_by_id=actor.user_id,
            confirmed_at=now,
        )
        if not won:
            return NotPending(row)
        return Claimed(row)

    async def execute(self, claimed: Claimed) -> ExecuteOutcome:
        """Carry out a claimed request: re-check the page, roll back, record the result."""
        request_id = _id(claimed.request)
        self._in_flight.add(request_id)
        try:
            return await self._execute(claimed.request, request_id)
        finally:
            self._in_flight.discard(request_id)

    async def _execute(self, row: RollbackRequest, request_id: int) -> ExecuteOutcome:
        try:
            fresh = await self._wiki.preview(row.page_title, row.target_user)
        except WikiError as exc:
            return await self._fail(request_id, *_error_fields(exc))
        except Exception as exc:
            return await self._crashed(request_id, RollbackStatus.RUNNING, exc)
        if fresh.problem is not None or fresh.top is None or fresh.top.revid != row.top_revid:
            outcome = await self._offer(request_id, fresh, from_status=RollbackStatus.RUNNING)
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
        try:
            result = await self._wiki.rollback(
                row.page_title, row.target_user, summary=summary, markbot=row.markbot
            )
        except WikiTransportError as exc:
            return await self._after_ambiguous_failure(row, exc)
        except WikiError as exc:
            return await self._fail(request_id, *_error_fields(exc))
        except Exception as exc:
            # Raised before any answer from the wiki: a bug of ours, not an ambiguous send.
            return await self._crashed(request_id, RollbackStatus.RUNNING, exc)
        return await self._succeed(request_id, result)

    async def cancel(self, request_id: int, actor: Actor) -> CancelOutcome:
        checked = await self._check_click(request_id, actor)
        if not isinstance(checked, RollbackRequest):
            return checked
        done, row = await self._move(
            request_id, from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.CANCELLED
        )
        return Cancelled(row) if done else NotPending(row)

    # ---- housekeeping ----------------------------------------------------------------------

    async def expire_due(self) -> list[RollbackRequest]:
        """End every `pending` request whose prompt has timed out."""
        async with self._sessions() as session:
            due = await audit.expired_pending(session, now=self._clock())
        expired: list[RollbackRequest] = []
        for row in due:
            # A click may end the row first; only the rows this sweep changed are reported.
            changed, fresh = await self._move(
                _id(row), from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.EXPIRED
            )
            if changed:
                expired.append(fresh)
        return expired

    async def reconcile(self) -> list[RollbackRequest]:
        """At start-up: settle rows a crash left `running`, and expire stale prompts."""
        async with self._sessions() as session:
            running = await audit.running_requests(session)
        settled = await self._settle_running(running)
        settled.extend(await self.expire_due())
        return settled

    async def settle_stuck(self, *, older_than: timedelta) -> list[RollbackRequest]:
        """While running: settle `running` rows no task here is carrying out any more (the
        database failed as the result was written), once they are clearly abandoned."""
        cutoff = self._clock() - older_than
        async with self._sessions() as session:
            running = await audit.running_requests(session)
        stuck = [
            row
            for row in running
            if row.id not in self._in_flight and (row.confirmed_at or row.created_at) < cutoff
        ]
        return await self._settle_running(stuck)

    async def _settle_running(self, rows: list[RollbackRequest]) -> list[RollbackRequest]:
        """A `running` row means the rollback may or may not have been sent; the page history
        decides (did this bot's account roll back that user after the confirmation?)."""
        settled: list[RollbackRequest] = []
        for row in rows:
            try:
                found = await self._find_own_rollback(row)
            except WikiError as exc:
                log.warning("could not settle request %s yet: %s", row.id, exc)
                continue  # stays running; the next attempt tries again
            if found is not None:
                settled.append((await self._succeed(_id(row), found)).request)
            else:
                refused = await self._fail(
                    _id(row),
                    "interrupted",
                    "The bot was interrupted while this rollback was in progress and the page "
                    "history shows no rollback by the bot; it was not applied.",
                )
                settled.append(refused.request)
        return settled

    async def record_prompt_message(self, request_id: int, message_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await audit.update_request(session, request_id, prompt_message_id=message_id)

    async def record_log_post(
        self, request_id: int, *, message_id: int | None, error: str | None
    ) -> None:
        async with self._sessions() as session, session.begin():
            await audit.update_request(
                session, request_id, log_message_id=message_id, log_post_error=error
            )

    async def get(self, request_id: int) -> RollbackRequest | None:
        async with self._sessions() as session:
            return await audit.get_request(session, request_id)

    # ---- internals -------------------------------------------------------------------------

    async def _move(
        self,
        request_id: int,
        *,
        from_statuses: Collection[RollbackStatus],
        to: RollbackStatus,
        **values: object,
    ) -> tuple[bool, RollbackRequest]:
        """Compare-and-set the row's status in its own transaction; return (changed, row)."""
        async with self._sessions() as session, session.begin():
            changed = await audit.transition(
                session, request_id, from_statuses=from_statuses, to=to, **values
            )
            row = await audit.get_request(session, request_id)
        if row is None:
            raise LookupError(f"audit row {request_id} disappeared")
        return changed, row

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
        )

    async def _check_click(
        self, request_id: int, actor: Actor
    ) -> RollbackRequest | NotYours | NotPending | Missing | Expired:
        async with self._sessions() as session:
            row = await audit.get_request(session, request_id)
        if row is None:
            return Missing(request_id)
        if row.requester_id != actor.user_id:
            return NotYours(row)
        if row.status != RollbackStatus.PENDING:
            return NotPending(row)
        if row.expires_at is not None and row.expires_at <= self._clock():
            done, row = await self._move(
                request_id, from_statuses=[RollbackStatus.PENDING], to=RollbackStatus.EXPIRED
            )
            return Expired(row) if done else NotPending(row)
        return row

    async def _offer(
        self, request_id: int, preview: RollbackPreview, *, from_status: RollbackStatus
    ) -> Ready | Refused:
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
            _, row = await self._move(
                request_id,
                from_statuses=[from_status],
                to=RollbackStatus.FAILED,
                error_code=code,
                error_message=message,
                **facts,
            )
            return Refused(row, code, message, preview)
        _, row = await self._move(
            request_id,
            from_statuses=[from_status],
            to=RollbackStatus.PENDING,
            expires_at=self._clock() + self._confirm_timeout,
            **facts,
        )
        return Ready(row, preview)

    async def _after_ambiguous_failure(
        self, row: RollbackRequest, exc: WikiTransportError
    ) -> Succeeded | Refused:
        """The wiki did not answer clearly; the page history says whether it acted."""
        if not exc.ambiguous:
            return await self._fail(_id(row), *_error_fields(exc))
        try:
            found = await self._find_own_rollback(row)
        except WikiError as check_exc:
            return await self._fail(
                _id(row),
                "unverified",
                f"The wiki did not answer ({exc}) and the page history could not be read "
                f"({check_exc}); check the page history before trying again.",
            )
        if found is not None:
            return await self._succeed(_id(row), found)
        return await self._fail(_id(row), *_error_fields(exc))

    async def _find_own_rollback(self, row: RollbackRequest) -> RollbackResult | None:
        """This request's rollback in the page history, if the wiki made it."""
        since = (row.confirmed_at or row.created_at) - _HISTORY_LOOK_BACK
        found = await self._wiki.find_rollback(row.page_title, row.target_user, since=since)
        # The look-back may reach an earlier rollback of the same user by this bot (reverted,
        # then vandalised again). This request's rollback was made on top of the revision the
        # preview showed, so its revid is greater than `top_revid`; an earlier one's is smaller.
        if found is not None and row.top_revid is not None and found.revid <= row.top_revid:
            return None
        return found

    async def _default_summary(self) -> str:
        try:
            return await self._wiki.default_rollback_summary()
        except WikiError:
            # MediaWiki's own English default; the wiki fills in $1/$2.
            return (
                "Reverted edits by [[Special:Contributions/$2|$2]] "
                "([[User talk:$2|talk]]) to last revision by $1"
            )

    async def _succeed(self, request_id: int, result: RollbackResult) -> Succeeded:
        _, row = await self._move(
            request_id,
            from_statuses=[RollbackStatus.RUNNING],
            to=RollbackStatus.SUCCEEDED,
            revid=result.revid,
            old_revid=result.old_revid,
            last_revid=result.last_revid,
            page_id=result.pageid,
        )
        log.info("request %s succeeded: revid %s", request_id, result.revid)
        return Succeeded(row, result)

    async def _crashed(
        self, request_id: int, from_status: RollbackStatus, exc: Exception
    ) -> Refused:
        """A bug, not a wiki answer: keep the traceback in the log, end the row like any failure
        (so the requester and the log channel hear of it), and carry on serving."""
        log.error("request %s crashed", request_id, exc_info=exc)
        return await self._end(request_id, from_status, "internal", f"{type(exc).__name__}: {exc}")

    async def _fail(self, request_id: int, code: str, message: str) -> Refused:
        return await self._end(request_id, RollbackStatus.RUNNING, code, message)

    async def _refuse(self, request_id: int, code: str, message: str) -> Refused:
        return await self._end(request_id, RollbackStatus.PENDING, code, message)

    async def _end(
        self, request_id: int, from_status: RollbackStatus, code: str, message: str
    ) -> Refused:
        _, row = await self._move(
            request_id,
            from_statuses=[from_status],
            to=RollbackStatus.FAILED,
            error_code=code[:100],
            error_message=message[:2000],
        )
        log.info("request %s failed: %s", request_id, code)
        return Refused(row, code, message)


def _best_effort(normalize: Callable[[str], str], text: str) -> str:
    try:
        return normalize(text)
    except ValueError:
        return text.strip()  # kept as typed; the request fails on it with a clear message


def _id(row: RollbackRequest) -> int:
    if row.id is None:
        raise ValueError("audit row was not flushed")
    return row.id


def _error_fields(exc: WikiError) -> tuple[str, str]:
    if isinstance(exc, WikiAPIError):
        return exc.code, exc.info
    if isinstance(exc, WikiTransportError):
        return "timeout" if exc.timed_out else "transport", str(exc)
    return "wikierror", str(exc)


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
