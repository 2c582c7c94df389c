"""One edit, found by its revision id: which page, whose, and what happened on the page since.

Pure query builders and parsers over the Action API's answers (formatversion=2); the client
sends them. Used by "Roll back this edit", which starts from a diff link, not a page and user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.wiki.api import JSON, dig
from bot.wiki.history import parse_revision
from bot.wiki.results import Revision

_RVPROP = "ids|timestamp|user|size|comment|tags|sha1"
# How far past the linked edit the bot looks: enough to say "N newer edits" or find a revert.
LATER_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Edit:
    """A revision that exists (not deleted) and the page it belongs to."""

    revision: Revision
    pageid: int
    title: str


def edits_query(revids: Iterable[int]) -> dict[str, str]:
    return {
        "action": "query",
        "prop": "revisions",
        "revids": "|".join(str(revid) for revid in revids),
        "rvprop": _RVPROP,
    }


def parse_edits(data: JSON) -> dict[int, Edit]:
    """The revisions the wiki has, by id. Unknown ids and revisions of deleted pages are in
    `badrevids` and simply absent here."""
    query = dig(data, "query")
    found: dict[int, Edit] = {}
    for page in query.get("pages", ()) if isinstance(query, dict) else ():
        if not isinstance(page, dict) or "pageid" not in page:
            continue
        for raw in page.get("revisions", ()):
            revision = parse_revision(raw)
            found[revision.revid] = Edit(
                revision=revision, pageid=int(page["pageid"]), title=str(page.get("title", ""))
            )
    return found


def relative_query(oldid: int, relative: str) -> dict[str, str]:
    """`diff=next|prev|cur&oldid=M` as MediaWiki resolves it: the revision shown as the newer
    side of that diff."""
    return {"action": "compare", "fromrev": str(oldid), "torelative": relative, "prop": "ids"}


def parse_relative(data: JSON) -> int | None:
    compare = data.get("compare")
    if not isinstance(compare, dict) or "torevid" not in compare:
        return None  # e.g. `next` of the newest revision
    return int(compare["torevid"])


def later_query(pageid: int, parentid: int) -> dict[str, str]:
    """The linked edit's parent, the edit and the revisions saved after it, oldest first (the
    parent's content hash tells a revert of the edit from any other later edit)."""
    return {
        "action": "query",
        "prop": "revisions",
        "pageids": str(pageid),
        "rvstartid": str(parentid),
        "rvdir": "newer",
        "rvlimit": str(LATER_LIMIT + 2),
        "rvprop": _RVPROP,
    }


def parse_later(data: JSON, revid: int) -> tuple[Revision | None, list[Revision], bool]:
    """(the parent, the revisions after `revid` oldest first, whether there are more)."""
    query = dig(data, "query")
    pages = query.get("pages") if isinstance(query, dict) else None
    page = pages[0] if isinstance(pages, list) and pages else {}
    revisions = [parse_revision(raw) for raw in page.get("revisions", ())]
    parent = next((r for r in revisions if r.revid < revid), None)
    more = isinstance(data.get("continue"), dict)
    return parent, [r for r in revisions if r.revid > revid], more
