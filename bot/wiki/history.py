"""Page histories as the client reads them: revisions, the single page asked for, runs of edits.

Pure functions over `prop=revisions` answers; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.wiki.api import JSON, dig
from bot.wiki.errors import InvalidTitleError
from bot.wiki.names import ipv6_slash64, normalize_title, normalize_username
from bot.wiki.results import PreviewProblem, Revision, RollbackPreview, Successor

ROLLBACK_TAG = "mw-rollback"  # MediaWiki tags every rollback edit with this (since 1.28)


def parse_revision(raw: JSON) -> Revision:
    return Revision(
        revid=int(raw["revid"]),
        parentid=int(raw.get("parentid", 0)),
        # Hidden (revision-deleted) user names come back as "userhidden": true, no "user".
        user=None if raw.get("userhidden") else raw.get("user"),
        timestamp=datetime.fromisoformat(raw["timestamp"]).astimezone(UTC),
        size=int(raw.get("size", 0)),
        comment=None if raw.get("commenthidden") else raw.get("comment"),
        tags=tuple(raw.get("tags", ())),
        sha1=None if raw.get("sha1hidden") else raw.get("sha1"),
    )


@dataclass(frozen=True, slots=True)
class Run:
    """The latest run of a user's consecutive edits, as rollback would revert it."""

    edits: int  # edits in the run (hidden-name edits included)
    restored: Revision | None  # the newest revision by someone else, which comes back
    capped: bool  # the run is longer than the client looked
    hidden: int  # edits in the run whose author name is hidden (revision deletion)


def summarise_run(revisions: Sequence[Revision], target: str, max_edits: int) -> Run:
    """The run of `target`'s edits at the top of a newest-first history.

    An edit whose author name is hidden (a vandal's offensive name is often revision-deleted)
    may be `target`'s: MediaWiki compares the real author, so it is counted in the run, and
    the wiki refuses (`alreadyrolled`) if the hidden author is someone else. Only a visible
    name that differs ends the run.
    """
    count = hidden = 0
    for revision in revisions:
        if revision.user is not None and not same_user(revision.user, target):
            # MediaWiki restores the newest revision by a different actor.
            return Run(count, revision if count else None, capped=False, hidden=hidden)
        if count == max_edits:
            return Run(count, None, capped=True, hidden=hidden)
        count += 1
        hidden += revision.user is None
    return Run(count, None, capped=False, hidden=hidden)


def same_user(revision_user: str | None, normalized: str) -> bool:
    # A hidden user name can't be confirmed to be `normalized`, so it counts as someone else.
    if revision_user is None:
        return False
    try:
        return normalize_username(revision_user) == normalized
    except ValueError:
        return revision_user == normalized


def one_value(value: str) -> str:
    """`value` as the only value of a multi-value parameter such as `titles`.

    MediaWiki splits those on `|`, so "A|B" would read two pages (answered in any order) and a
    preview could show another page's history. A leading U+001F makes U+001F the separator
    instead; the wiki then judges "A|B" as one (invalid) title.
    """
    return f"\x1f{value}" if "|" in value else value


def single_page(data: JSON, title: str) -> JSON:
    query = dig(data, "query")
    pages = query.get("pages") if isinstance(query, dict) else None
    if isinstance(pages, list) and len(pages) > 1:
        raise InvalidTitleError("invalidtitle", f"{title!r} names more than one page.")
    if not isinstance(pages, list) or not pages or not isinstance(pages[0], dict):
        # e.g. an interwiki title: the wiki reports it under query.interwiki and has no page.
        raise InvalidTitleError("invalidtitle", f"{title!r} is not a page on this wiki.")
    page: JSON = pages[0]
    if page.get("invalid"):
        raise InvalidTitleError("invalidtitle", str(page.get("invalidreason", "Invalid title.")))
    if page.get("special"):
        raise InvalidTitleError("invalidtitle", "Special pages have no history to roll back.")
    return page


def same_range_ips(target: str, revisions: Sequence[Revision]) -> tuple[str, ...]:
    """Other IPv6 editors in `revisions` within `target`'s /64, newest first, each once."""
    network = ipv6_slash64(target)
    if network is None:
        return ()
    found: dict[str, None] = {}
    for revision in revisions:
        user = revision.user
        if user and user != target and ipv6_slash64(user) == network:
            found.setdefault(user)
    return tuple(found)


def build_preview(
    page: JSON,
    title: str,
    target: str,
    revisions: Sequence[Revision],
    max_edits: int,
    *,
    temp_account: bool = False,
) -> RollbackPreview:
    """What `action=rollback` would do to `page`, given its newest `revisions` (newest first)."""
    top = revisions[0] if revisions else None
    run = summarise_run(revisions, target, max_edits)
    problem: PreviewProblem | None = None
    if page.get("missing"):
        problem = PreviewProblem.MISSING_PAGE
    elif run.edits == 0:
        problem = PreviewProblem.NOT_LAST_EDITOR
    elif run.restored is None and not run.capped:
        problem = PreviewProblem.ONLY_AUTHOR
    return RollbackPreview(
        title=str(page.get("title", title)),
        pageid=int(page["pageid"]) if "pageid" in page else None,
        target_user=target,
        top=top,
        restored=run.restored,
        edits_to_revert=run.edits,
        edits_capped=run.capped,
        problem=problem,
        hidden_edits=run.hidden,
        temp_account=temp_account,
        same_range_ips=same_range_ips(target, revisions),
    )


def successor_query(title: str, revid: int, pageid: int | None) -> dict[str, str]:
    """The revisions from `revid` on, oldest first: `revid` and the one saved after it."""
    params = {
        "action": "query",
        "prop": "revisions",
        "rvprop": "ids|timestamp|user|size|comment|tags",
        "rvstartid": str(revid),
        "rvdir": "newer",
        "rvlimit": "2",
    }
    if pageid is not None:
        params["pageids"] = str(pageid)
    else:
        params["titles"] = one_value(normalize_title(title))
    return params


def parse_successor(data: JSON, title: str, revid: int, pageid: int | None) -> Successor:
    page = single_page(data, title)
    if page.get("missing"):
        return Successor(
            title=str(page.get("title", title)), pageid=None, after_revid=revid, revision=None
        )
    revisions = [parse_revision(raw) for raw in page.get("revisions", ())]
    later = [revision for revision in revisions if revision.revid != revid]
    return Successor(
        title=str(page.get("title", title)),
        pageid=int(page["pageid"]) if "pageid" in page else pageid,
        after_revid=revid,
        revision=later[0] if later else None,
    )
