"""A scripted stand-in for the wiki client, recording what the workflow asked of it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.wiki.edits import Edit
from bot.wiki.history import ROLLBACK_TAG
from bot.wiki.results import (
    PreviewProblem,
    Revision,
    RollbackPreview,
    RollbackResult,
    Successor,
)
from bot.wiki.tempaccounts import is_temp_account

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DEFAULT_SUMMARY = (
    "Reverted edits by [[Special:Contributions/$2|$2]] ([[User talk:$2|talk]]) "
    "to last revision by $1"
)


def revision(
    revid: int, user: str | None, size: int = 100, parentid: int | None = None
) -> Revision:
    return Revision(
        revid=revid,
        parentid=revid - 1 if parentid is None else parentid,
        user=user,
        timestamp=T0 + timedelta(minutes=revid),
        size=size,
    )


def ready_preview(
    title: str = "Main Page", user: str = "Vandal", edits: int = 2, top_revid: int = 12
) -> RollbackPreview:
    return RollbackPreview(
        title=title,
        pageid=7,
        target_user=user,
        top=revision(top_revid, user, size=40),
        restored=revision(top_revid - edits, "Editor", size=100),
        edits_to_revert=edits,
        edits_capped=False,
        problem=None,
    )


def problem_preview(problem: PreviewProblem, title: str = "Main Page") -> RollbackPreview:
    top = None if problem is PreviewProblem.MISSING_PAGE else revision(20, "Someone")
    return RollbackPreview(
        title=title,
        pageid=None if top is None else 7,
        target_user="Vandal",
        top=top,
        restored=None,
        edits_to_revert=0,
        edits_capped=False,
        problem=problem,
    )


@dataclass
class FakeWiki:
    """Each queue is consumed in order; its last entry repeats. Exceptions are raised."""

    previews: list[RollbackPreview | Exception] = field(default_factory=lambda: [ready_preview()])
    rollbacks: list[RollbackResult | BaseException] = field(default_factory=list)
    # What `revision_after` sees after the preview's top revision: a RollbackResult stands for
    # the bot's own rollback revision, a Revision for any other edit, None for "still on top".
    found: list[RollbackResult | Revision | Exception | None] = field(
        default_factory=lambda: [None]
    )
    rollback_gate: asyncio.Event | None = None  # when set, rollback waits for it
    preview_calls: list[tuple[str, str]] = field(default_factory=list)
    rollback_calls: list[dict[str, object]] = field(default_factory=list)
    find_calls: list[tuple[str, int]] = field(default_factory=list)
    api_url: str = "https://wiki.example/w/api.php"
    account_name: str = "Rollbot"
    unavailable: str | None = None
    # "Roll back this edit": the revisions the wiki has, what came after each, diff=next|cur.
    edit_pages: dict[int, Edit] = field(default_factory=dict)
    later: dict[int, tuple[Revision | None, list[Revision], bool]] = field(default_factory=dict)
    relatives: dict[tuple[int, str], int] = field(default_factory=dict)
    edit_calls: list[list[int]] = field(default_factory=list)
    user_ids: dict[int, str] = field(default_factory=dict)  # "#id" -> name, for user_name_for_id
    user_id_calls: list[int] = field(default_factory=list)
    temp_patterns: tuple[str, ...] = ("~$1",)

    @staticmethod
    def _next(queue: list[object]) -> object:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, BaseException):
            raise item
        return item

    async def preview(self, title: str, user: str) -> RollbackPreview:
        self.preview_calls.append((title, user))
        result = self._next(self.previews)  # type: ignore[arg-type]
        assert isinstance(result, RollbackPreview)
        return result

    async def user_name_for_id(self, user_id: int) -> str | None:
        self.user_id_calls.append(user_id)
        return self.user_ids.get(user_id)

    def is_temp_account(self, user: str) -> bool:
        return is_temp_account(user, self.temp_patterns)

    async def rollback(
        self, title: str, user: str, *, summary: str | None, markbot: bool = False
    ) -> RollbackResult:
        self.rollback_calls.append(
            {"title": title, "user": user, "summary": summary, "markbot": markbot}
        )
        if self.rollback_gate is not None:
            await self.rollback_gate.wait()
        if not self.rollbacks:
            return RollbackResult(
                title=title, pageid=7, summary=summary or "", revid=13, old_revid=12, last_revid=10
            )
        result = self._next(self.rollbacks)  # type: ignore[arg-type]
        assert isinstance(result, RollbackResult)
        return result

    async def revision_after(
        self, title: str, revid: int, *, pageid: int | None = None
    ) -> Successor:
        self.find_calls.append((title, revid))
        found = self._next(self.found)  # type: ignore[arg-type]
        if isinstance(found, RollbackResult):
            found = Revision(
                revid=found.revid,
                parentid=revid,
                user=self.account_name,
                timestamp=T0 + timedelta(hours=1),
                size=100,
                comment=found.summary,
                tags=(ROLLBACK_TAG,),
            )
        assert found is None or isinstance(found, Revision)
        return Successor(title=title, pageid=pageid or 7, after_revid=revid, revision=found)

    async def edits(self, revids: Sequence[int]) -> dict[int, Edit]:
        self.edit_calls.append(list(revids))
        return {revid: self.edit_pages[revid] for revid in revids if revid in self.edit_pages}

    async def relative_revision(self, oldid: int, relative: str) -> int | None:
        return self.relatives.get((oldid, relative))

    async def later_revisions(self, edit: Edit) -> tuple[Revision | None, list[Revision], bool]:
        return self.later.get(edit.revision.revid, (None, [], False))

    async def ensure_available(self) -> str | None:
        return self.unavailable

    async def default_rollback_summary(self) -> str:
        return DEFAULT_SUMMARY

    @property
    def _index_url(self) -> str:
        # Beside api.php, as on a real wiki: two fakes with different `api_url`s link apart.
        return self.api_url.removesuffix("api.php") + "index.php"

    def page_url(self, title: str) -> str:
        return f"{self._index_url}?title={title.replace(' ', '_')}"

    def diff_url(self, diff: int, oldid: int) -> str:
        return f"{self._index_url}?diff={diff}&oldid={oldid}"

    def contribs_url(self, user: str) -> str:
        return f"{self._index_url}?title=Special:Contributions/{user}"


class Clock:
    """A settable clock for expiry tests."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
