"""Did this request's rollback happen on the wiki? Decided here, and only here, from the
page history.

A request's rollback, if the wiki made it, is the edit saved right after the revision the
preview showed on top (`top_revid`): a page's history is a line, and the workflow only sends
the rollback while `top_revid` is still the newest revision. So one read of "the revision after
`top_revid`" answers the question without any clock: no skew allowance, no look-back window,
and no confusing this request's rollback with an older or later one of the same user.

- the next revision is a rollback by the bot's account → applied (unless another request
  already recorded that very revision as its own);
- there is no next revision → not applied *as far as this read shows* (a commit in flight or
  a lagging replica may still show it later: callers re-check over a bounded window);
- the next revision is anything else → superseded: someone else edited after the vandal, so
  this rollback can no longer happen.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest
from bot.wiki.errors import WikiError
from bot.wiki.history import ROLLBACK_TAG, same_user
from bot.wiki.results import RollbackResult, Successor

log = logging.getLogger(__name__)

# After a lost answer, "not applied" is concluded only if the history still says so after
# these pauses (seconds; ~7.5 s in all): long enough for a commit in flight or a replica a few
# seconds behind, short enough for a moderator waiting on the result.
SPREAD_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)


class SettlementWiki(Protocol):
    @property
    def account_name(self) -> str: ...

    async def revision_after(
        self, title: str, revid: int, *, pageid: int | None = None
    ) -> Successor: ...


class UnknownWikiError(WikiError):
    """A request's wiki is no longer configured: its history cannot be read."""


def _required(wiki: SettlementWiki | None) -> SettlementWiki:
    if wiki is None:
        raise TypeError("Settlement needs `wiki` or `wikis`")
    return wiki


class Verdict(enum.Enum):
    APPLIED = "applied"
    NOT_APPLIED = "not applied"  # the vandal's edit is still the newest, as far as we can see
    SUPERSEDED = "superseded"  # someone else edited after it: this rollback cannot happen now


@dataclass(frozen=True, slots=True)
class Finding:
    verdict: Verdict
    result: RollbackResult | None = None  # set when APPLIED


class Settlement:
    """Reads the page history to decide whether a request's rollback was applied."""

    def __init__(
        self,
        *,
        wiki: SettlementWiki | None = None,
        wikis: Mapping[str, SettlementWiki] | None = None,
        sessions: async_sessionmaker[AsyncSession],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        spread: Sequence[float] = SPREAD_DELAYS,
    ) -> None:
        self._wikis: dict[str, SettlementWiki] = (
            dict(wikis) if wikis is not None else {"default": _required(wiki)}
        )
        self._sessions = sessions
        self._sleep = sleep
        self._spread = tuple(spread)

    async def look(self, row: RollbackRequest) -> Finding:
        """One read of the history. Raises the wiki's error if it cannot be read."""
        if row.top_revid is None:
            # No preview was ever shown, so no rollback can have been sent for it.
            return Finding(Verdict.NOT_APPLIED)
        wiki = self._wikis.get(row.wiki)
        if wiki is None:
            raise UnknownWikiError(f"request {row.id} is on wiki {row.wiki!r}, not configured now")
        after = await wiki.revision_after(row.page_title, row.top_revid, pageid=row.page_id)
        revision = after.revision
        if revision is None:
            return Finding(Verdict.NOT_APPLIED)
        if not (
            revision.parentid == row.top_revid
            and ROLLBACK_TAG in revision.tags
            and same_user(revision.user, wiki.account_name)
        ):
            return Finding(Verdict.SUPERSEDED)
        if row.id is not None and await self._claimed_by_another(row.wiki, revision.revid, row.id):
            # Two requests for the same page and vandal: the other one made this rollback.
            return Finding(Verdict.SUPERSEDED)
        return Finding(
            Verdict.APPLIED,
            RollbackResult(
                title=after.title,
                pageid=after.pageid or row.page_id or 0,
                summary=revision.comment or "",
                revid=revision.revid,
                old_revid=row.top_revid,
                last_revid=row.restored_revid or 0,
            ),
        )

    async def look_spread(self, row: RollbackRequest) -> Finding:
        """`look`, repeated over the bounded window while it says "not applied"."""
        finding = await self.look(row)
        for delay in self._spread:
            if finding.verdict is not Verdict.NOT_APPLIED:
                break
            await self._sleep(delay)
            finding = await self.look(row)
        return finding

    async def pause(self, seconds: float) -> None:
        """Wait before sending again (the wiki's Retry-After), capped at a minute."""
        await self._sleep(min(max(seconds, 0.0), 60.0))

    async def _claimed_by_another(self, wiki: str, revid: int, request_id: int) -> bool:
        async with self._sessions() as session:
            other = await audit.succeeded_with_revid(
                session, revid, wiki=wiki, other_than=request_id
            )
        if other is not None:
            log.warning(
                "revision %s is request %s's rollback, not request %s's",
                revid,
                other.id,
                request_id,
            )
        return other is not None
