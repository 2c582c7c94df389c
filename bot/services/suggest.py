"""`/rollback` autocomplete: page titles and user names to offer, quickly or not at all.

Choices are hints, never trusted: `/rollback` validates whatever is sent. So this module favours
speed and safety over completeness. An answer takes at most `timeout` seconds (else it is empty:
Discord shows its own error for an autocomplete left unanswered after 3 s); wiki reads are cached
for `cache_seconds` per wiki and query (each keystroke would otherwise re-read the same recent
changes); a member who may not roll back, or a wiki the server may not use, gets nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from bot.services.outcomes import Actor
from bot.wiki.difflinks import LinkSite, find_edit_links
from bot.wiki.errors import WikiError
from bot.wiki.names import normalize_title
from bot.wiki.suggest_reads import RecentChange

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord's limit
MAX_CHOICE_CHARS = 100  # Discord's limit on a choice's name and on its value
TIMEOUT_SECONDS = 2.5  # Discord gives an autocomplete 3 s
CACHE_SECONDS = 5.0
MAX_CACHED = 512  # entries; a wiki read each


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One autocomplete choice: what the member sees, and what fills the option."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class EditRun:
    """A user's latest run of consecutive edits to a page."""

    user: str
    edits: int


class SuggestWiki(Protocol):
    """The reads autocomplete makes (bot.wiki.suggest_reads.SuggestReads; a fake in tests)."""

    async def titles_with_prefix(self, prefix: str) -> list[str]: ...

    async def recent_changes(self) -> list[RecentChange]: ...

    async def page_authors(self, title: str) -> list[str | None]: ...

    def link_site(self, key: str) -> LinkSite: ...

    async def page_of_revision(self, revid: int) -> str | None: ...


class WikiChooser(Protocol):
    """Which wiki a server's command acts on, and who may roll back (the RollbackService)."""

    def wikis_for(self, guild_id: int) -> Sequence[str]: ...

    async def resolve_wiki(self, guild_id: int, asked: str | None) -> str | None: ...

    async def is_authorized(self, actor: Actor) -> bool: ...


Deadline = Callable[[float], asyncio.Timeout]
T = TypeVar("T")


def pasted_link(text: str) -> bool:
    """A pasted URL (a diff or permanent link): offer the page it points to, never a prefix
    search of the URL."""
    return text.strip().lower().startswith(("http://", "https://", "//"))


def latest_runs(authors: Sequence[str | None]) -> list[EditRun]:
    """Each author's latest run of consecutive edits in a newest-first list of revision
    authors, top editor first. Hidden names (None) are never offered, and end a run: whose the
    hidden edit is cannot be told."""
    runs: list[EditRun] = []
    seen: set[str] = set()
    index = 0
    while index < len(authors):
        user = authors[index]
        length = 1
        while index + length < len(authors) and authors[index + length] == user:
            length += 1
        if user is not None and user not in seen:
            seen.add(user)
            runs.append(EditRun(user=user, edits=length))
        index += length
    return runs


def run_label(run: EditRun) -> str:
    """ "Vandal — 3 latest edits", the name shortened to fit Discord's 100 characters."""
    tail = f" — {run.edits} latest edit{'' if run.edits == 1 else 's'}"
    return _fit(run.user, MAX_CHOICE_CHARS - len(tail)) + tail


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fold(text: str) -> str:
    """For matching what was typed: case and `_` versus space do not matter."""
    return " ".join(text.replace("_", " ").split()).casefold()


class Suggestions:
    """Autocomplete answers for `/rollback`'s `page` and `user` options over several wikis."""

    def __init__(
        self,
        *,
        wikis: Mapping[str, SuggestWiki],
        chooser: WikiChooser,
        timeout: float = TIMEOUT_SECONDS,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        deadline: Deadline = asyncio.timeout,
    ) -> None:
        self._wikis = dict(wikis)
        self._chooser = chooser
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._deadline = deadline
        self._cache: dict[Hashable, tuple[float, Any]] = {}

    async def pages(self, actor: Actor, *, wiki: str | None, typed: str) -> list[Suggestion]:
        """Recently changed pages starting with `typed` (most recent first), then the wiki's
        other titles starting with it, in every namespace."""
        return await self._answer(actor, wiki, lambda key: self._pages(key, typed))

    async def users(
        self, actor: Actor, *, wiki: str | None, page: str | None, typed: str
    ) -> list[Suggestion]:
        """With `page`: the authors of its latest runs of edits, top editor first, each with
        the run's length. Without: the wiki's recent editors. Filtered by `typed`."""
        return await self._answer(actor, wiki, lambda key: self._users(key, page, typed))

    async def _answer(
        self,
        actor: Actor,
        wiki: str | None,
        find: Callable[[str], Awaitable[list[Suggestion]]],
    ) -> list[Suggestion]:
        try:
            async with self._deadline(self._timeout):
                key = await self._wiki_for(actor, wiki)
                found = await find(key) if key is not None else []
        except TimeoutError:
            log.info("autocomplete on wiki %r took too long; offered nothing", wiki)
            return []
        except (WikiError, ValueError) as exc:
            log.info("autocomplete on wiki %r offered nothing: %s", wiki, exc)
            return []
        return found[:MAX_CHOICES]

    async def _wiki_for(self, actor: Actor, asked: str | None) -> str | None:
        """The wiki to read (the `wiki` option, else the server's default), if the server may
        use it and the member may roll back there."""
        key = await self._chooser.resolve_wiki(actor.guild_id, asked or None)
        if (
            key is None
            or key not in self._wikis
            or key not in self._chooser.wikis_for(actor.guild_id)
        ):
            return None
        return key if await self._chooser.is_authorized(actor) else None

    async def _pages(self, key: str, typed: str) -> list[Suggestion]:
        wiki = self._wikis[key]
        if pasted_link(typed):
            return await self._linked_page(key, wiki, typed)
        prefix = " ".join(typed.split())
        recent_read = self._cached((key, "recent"), wiki.recent_changes)
        if prefix:
            recent, prefixed = await asyncio.gather(
                recent_read,
                self._cached((key, "prefix", prefix), lambda: wiki.titles_with_prefix(prefix)),
            )
        else:
            recent, prefixed = await recent_read, []
        folded = _fold(prefix)
        titles = [change.title for change in recent if _fold(change.title).startswith(folded)]
        return _choices((title, title) for title in [*titles, *prefixed])

    async def _linked_page(self, key: str, wiki: SuggestWiki, typed: str) -> list[Suggestion]:
        """The page a pasted diff/permanent link to this wiki points to (one choice)."""
        links = find_edit_links([typed.strip()], [wiki.link_site(key)])
        if not links:
            return []
        link = links[0]
        title = link.title
        revid = link.revid if link.revid is not None else link.oldid
        if revid is not None:  # the revision's page wins over a title in the URL (moves)
            title = await self._cached(
                (key, "revision", revid), lambda: wiki.page_of_revision(revid)
            )
        return _choices([(title, title)]) if title else []

    async def _users(self, key: str, page: str | None, typed: str) -> list[Suggestion]:
        wiki = self._wikis[key]
        folded = _fold(typed)
        if page and page.strip():
            if pasted_link(page):
                linked = await self._linked_page(key, wiki, page)
                if not linked:
                    return []
                page = linked[0].value
            title = normalize_title(page)
            authors = await self._cached((key, "authors", title), lambda: wiki.page_authors(title))
            return _choices(
                (run_label(run), run.user)
                for run in latest_runs(authors)
                if folded in _fold(run.user)
            )
        recent = await self._cached((key, "recent"), wiki.recent_changes)
        return _choices(
            (change.user, change.user)
            for change in recent
            if change.user is not None and folded in _fold(change.user)
        )

    async def _cached(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`, or its answer from less than `cache_seconds` ago. Failures are not kept."""
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return cast("T", hit[1])
        value = await read()
        if len(self._cache) >= MAX_CACHED:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
        self._cache[key] = (self._clock() + self._cache_seconds, value)
        return value


def _choices(pairs: Iterable[tuple[str, str]]) -> list[Suggestion]:
    """Distinct values, in order, that fit Discord's limits; at most MAX_CHOICES."""
    out: list[Suggestion] = []
    seen: set[str] = set()
    for name, value in pairs:
        if value in seen or not value or len(value) > MAX_CHOICE_CHARS:
            continue
        seen.add(value)
        out.append(Suggestion(name=_fit(name, MAX_CHOICE_CHARS), value=value))
        if len(out) == MAX_CHOICES:
            break
    return out
