"""A fake of autocomplete's wiki reads and of the wiki chooser, and a deadline tests control."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.services.outcomes import Actor
from bot.wiki.difflinks import LinkSite
from bot.wiki.errors import InvalidTitleError, WikiError
from bot.wiki.suggest_reads import RecentChange


@dataclass
class FakeSuggestWiki:
    """Canned answers; `calls` records each read; `hold` (when set) makes reads wait for it."""

    recent: list[RecentChange] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)  # every title; prefix search filters
    authors: dict[str, list[str | None]] = field(default_factory=dict)
    error: WikiError | None = None
    hold: asyncio.Event | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    revision_pages: dict[int, str] = field(default_factory=dict)  # revid -> its page's title
    api_url: str = "https://w.example/w/api.php"
    article_url: str | None = "https://w.example/wiki/$1"

    async def _enter(self, kind: str, arg: str) -> None:
        self.calls.append((kind, arg))
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.error is not None:
            raise self.error

    async def titles_with_prefix(self, prefix: str) -> list[str]:
        await self._enter("prefix", prefix)
        return [t for t in self.titles if t.lower().startswith(prefix.lower())]

    async def recent_changes(self) -> list[RecentChange]:
        await self._enter("recent", "")
        return list(self.recent)

    def link_site(self, key: str) -> LinkSite:
        return LinkSite(key, self.api_url, self.article_url)

    async def page_of_revision(self, revid: int) -> str | None:
        await self._enter("revision", str(revid))
        return self.revision_pages.get(revid)

    async def page_authors(self, title: str) -> list[str | None]:
        await self._enter("authors", title)
        if title.startswith("Special:"):
            raise InvalidTitleError("invalidtitle", "Special pages have no history.")
        return list(self.authors.get(title, []))


@dataclass
class FakeChooser:
    """Every guild may use `allowed`; its default is the first; `authorized` says who may."""

    allowed: Sequence[str] = ("default",)
    authorized: bool = True

    def wikis_for(self, guild_id: int) -> Sequence[str]:
        return self.allowed

    async def resolve_wiki(self, guild_id: int, asked: str | None) -> str | None:
        if asked is not None:
            return asked.strip().lower()
        return self.allowed[0] if self.allowed else None

    async def is_authorized(self, actor: Actor) -> bool:
        return self.authorized


class Deadlines:
    """An `asyncio.timeout` factory whose deadlines the test makes pass (no real waiting)."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._open: list[asyncio.Timeout] = []

    def __call__(self, seconds: float) -> asyncio.Timeout:
        self.asked.append(seconds)
        timeout = asyncio.timeout(None)
        self._open.append(timeout)
        return timeout

    def expire(self) -> None:
        """The clock jumps past every deadline given so far."""
        now = asyncio.get_running_loop().time()
        for timeout in self._open:
            with contextlib.suppress(RuntimeError):  # one that has already ended
                timeout.reschedule(now)
