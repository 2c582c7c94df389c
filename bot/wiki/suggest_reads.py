"""The wiki reads behind `/rollback` autocomplete: title prefixes, recent changes, page authors.

Each is one GET on the client's session through `WikiClient.quick_read`: under this object's own
small semaphore (the read lane) instead of the client's rollback semaphore, so typing never waits
behind a rollback, and never more than `lane_size` autocomplete reads hit one wiki at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.wiki.api import JSON
from bot.wiki.client import WikiClient
from bot.wiki.difflinks import LinkSite
from bot.wiki.edits import edits_query, parse_edits
from bot.wiki.history import one_value, single_page
from bot.wiki.names import normalize_title

PREFIX_LIMIT = 25  # Discord shows at most 25 choices
RECENT_LIMIT = 100  # recent changes read for recent pages and editors
HISTORY_LIMIT = 50  # revisions read for a page's latest runs of edits
DEFAULT_LANE_SIZE = 2  # autocomplete reads in flight per wiki (a page answer needs two)


@dataclass(frozen=True, slots=True)
class RecentChange:
    """One edit or page creation in `list=recentchanges`, newest first."""

    title: str
    user: str | None  # None when the user name is hidden (revision deletion)


class SuggestReads:
    """Autocomplete's reads of one wiki, on that wiki's client and login session."""

    def __init__(self, client: WikiClient, *, lane_size: int = DEFAULT_LANE_SIZE) -> None:
        if lane_size < 1:
            raise ValueError("lane_size must be at least 1")
        self._client = client
        self._lane = asyncio.Semaphore(lane_size)

    async def _get(self, params: dict[str, str]) -> JSON:
        return await self._client.quick_read(params, self._lane)

    def link_site(self, key: str) -> LinkSite:
        """This wiki as the diff-link parser knows it (article path once siteinfo was read)."""
        info = self._client.known_siteinfo
        return LinkSite(key, self._client.api_url, info.article_url if info else None)

    async def page_of_revision(self, revid: int) -> str | None:
        """The title of the page revision `revid` belongs to (None: no such revision)."""
        edit = parse_edits(await self._get(edits_query([revid]))).get(revid)
        return edit.title if edit is not None else None

    async def titles_with_prefix(self, prefix: str) -> list[str]:
        """Page titles starting with `prefix`, in every namespace (a namespace prefix such as
        "User:" in `prefix` searches that namespace alone), as the wiki ranks them."""
        data = await self._get(
            {
                "action": "query",
                "list": "prefixsearch",
                "pssearch": prefix,
                "psnamespace": "*",  # "To specify all values, use *" (API help)
                "pslimit": str(PREFIX_LIMIT),
            }
        )
        return [str(hit["title"]) for hit in _listed(data, "prefixsearch") if "title" in hit]

    async def recent_changes(self) -> list[RecentChange]:
        """The wiki's latest edits and page creations, newest first."""
        data = await self._get(
            {
                "action": "query",
                "list": "recentchanges",
                "rcprop": "title|user",
                "rctype": "edit|new",
                "rclimit": str(RECENT_LIMIT),
            }
        )
        return [
            RecentChange(
                title=str(change["title"]),
                user=None if change.get("userhidden") else change.get("user"),
            )
            for change in _listed(data, "recentchanges")
            if "title" in change
        ]

    async def page_authors(self, title: str) -> list[str | None]:
        """The authors of the page's latest revisions, newest first (None: hidden name); empty
        for a missing page. Raises InvalidTitleError for a title that cannot be a page."""
        data = await self._get(
            {
                "action": "query",
                "prop": "revisions",
                "titles": one_value(normalize_title(title)),
                "rvprop": "user",
                "rvlimit": str(HISTORY_LIMIT),
            }
        )
        page = single_page(data, title)
        return [
            None if raw.get("userhidden") else raw.get("user")
            for raw in page.get("revisions", ())
            if isinstance(raw, dict)
        ]


def _listed(data: JSON, module: str) -> list[JSON]:
    """The entries of `query.<module>` (a list module); none when the wiki found nothing."""
    query = data.get("query")
    entries = query.get(module, []) if isinstance(query, dict) else []
    return (
        [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
    )
