"""Typed results the wiki client returns (plain frozen dataclasses, no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Revision:
    """One page revision as `prop=revisions` reports it."""

    revid: int
    parentid: int
    user: str | None  # None when the user name is hidden (revision deletion)
    timestamp: datetime  # UTC-aware
    size: int
    comment: str | None = None
    tags: tuple[str, ...] = ()
    sha1: str | None = None  # of the content; read only where a revert must be recognised


class PreviewProblem(enum.StrEnum):
    """Why a rollback cannot be offered; the values double as audit error codes."""

    MISSING_PAGE = "missingtitle"
    NOT_LAST_EDITOR = "notlasteditor"
    ONLY_AUTHOR = "onlyauthor"


@dataclass(frozen=True, slots=True)
class RollbackPreview:
    """What `action=rollback` would do right now, read from the page history."""

    title: str  # normalised by the wiki
    pageid: int | None  # None when the page does not exist
    target_user: str  # normalised user name (or IP)
    top: Revision | None  # the page's newest revision
    restored: Revision | None  # the revision rollback would bring back
    edits_to_revert: int  # consecutive top edits by target_user
    edits_capped: bool  # True when the run was longer than the client looked
    problem: PreviewProblem | None
    # Edits of the run whose author name is hidden: the wiki, not the preview, decides
    # whether they are the target's.
    hidden_edits: int = 0
    temp_account: bool = False  # target_user is a temporary account (MediaWiki 1.39+)
    # Other IPv6 addresses of the target's /64 among the page's recent editors (newest
    # first): often the same person. Information only; rollback stays per address.
    same_range_ips: tuple[str, ...] = ()

    @property
    def size_change(self) -> int | None:
        """Bytes the page changes by if rolled back (restored size - top size)."""
        if self.top is None or self.restored is None:
            return None
        return self.restored.size - self.top.size


@dataclass(frozen=True, slots=True)
class RollbackResult:
    """`action=rollback` success, as MediaWiki reports it."""

    title: str
    pageid: int
    summary: str
    revid: int  # the new revision the rollback made
    old_revid: int  # the top revision that was rolled back
    last_revid: int  # the revision that was restored


@dataclass(frozen=True, slots=True)
class Successor:
    """The revision saved right after a given one (None: that one is still the newest)."""

    title: str
    pageid: int | None
    after_revid: int
    revision: Revision | None


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """What `meta=siteinfo` says about a wiki (cached by the client)."""

    name: str  # $wgSitename
    main_page_url: str  # `base`: the main page's full URL
    article_path: str  # e.g. /wiki/$1 or /index.php?title=$1
    server: str  # e.g. https://en.wikipedia.org
    temp_accounts: bool = False  # temporary accounts are created for logged-out editors
    # Their name patterns (`$1`: the serial) as the wiki reports them (MediaWiki 1.42+); ()
    # when it says it has none, None when it does not say (older wikis).
    temp_account_patterns: tuple[str, ...] | None = None
    version: tuple[int, int] | None = None  # MediaWiki's (major, minor), from `generator`

    @property
    def article_url(self) -> str | None:
        """`server` + `articlepath` (…/wiki/$1), or None when the wiki did not say."""
        if not self.server or "$1" not in self.article_path:
            return None
        return f"{self.server}{self.article_path}"
