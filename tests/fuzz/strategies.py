"""Hypothesis strategies: hostile page titles, user names, summaries and search filters, the
wiki's answers, and what the moderator does with the prompt.

Text is built from pieces that mean something to one of the layers it crosses - MediaWiki
(`|#[]{}<>`, namespaces, `Special:`, IPs and ranges, `prefix>Name`), Discord (mentions,
Markdown), spreadsheets (formula prefixes), Unicode (bidi and zero-width marks, controls,
combining and astral characters) - mixed with arbitrary text, and sometimes repeated up to and
past the option limits. NUL and lone surrogates are left to `poisoned`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from hypothesis import strategies as st

from bot.db.models import RollbackStatus
from bot.wiki.errors import ERROR_CLASSES
from tests.fuzz.world import PREVIEW_KINDS, ROLLBACK_KINDS, WikiScript

PAGE_LIMIT = 255  # /rollback page and user, /rollback-log user and page
SUMMARY_LIMIT = 1000
WHEN_LIMIT = 40  # /rollback-log since and until
NAME_LIMIT = 32  # a Discord display name

PIECES = (
    # Unicode that changes how text looks or compares
    "\u202e", "\u200f", "\u200e", "\u200b", "\ufeff", "\u00a0", "\u3000", "\u2028",
    "a\u0301", "ß", "İ", "ǅ", "ﬀ", "𝔘", "😀", "👩\u200d💻", "ا", "\u0600",
    # control characters (NUL excluded: see `poisoned`)
    "\x01", "\x1b", "\x1f", "\x7f", "\x85", "\t", "\n", "\r",
    # MediaWiki syntax and names
    "|", "#", "[", "]", "{", "}", "<", ">", "_", "%", "%2F", "&#36;", "$1", "$2", "&amp;",
    "Special:", "Special:Contributions/", "User:", "User talk:", "Talk:", ":", "::",
    "imported>", "Foo@bar", "Foo/Bar", "~", "..", "/",
    # Discord mentions and Markdown
    "@everyone", "@here", "@", "<@123>", "<@!123>", "<@&456>", "<#789>",
    "<@1200000000000000001>", "<@&1100000000000000101>", "<@&999999999999999999>",
    "**", "__", "`", "```", "~~", "||", "\\", "[x](http://e)", "> ", "# ", "- ",
    "https://evil.example/", ":smile:", "<:e:123456789012345678>", "<t:0:R>",
    # spreadsheet formula prefixes
    "=", "+", "-", "=HYPERLINK(\"http://e\")", "+1-1", "@SUM(A1)",
)
_ALPHABET = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


def _ip_texts() -> st.SearchStrategy[str]:
    v4 = st.ip_addresses(v=4).map(str)
    v6 = st.ip_addresses(v=6).flatmap(
        lambda ip: st.sampled_from([str(ip), ip.exploded, str(ip).upper()])
    )
    cidr = st.tuples(st.ip_addresses(), st.integers(0, 128)).map(
        lambda pair: str(
            ipaddress.ip_network(
                f"{pair[0]}/{min(pair[1], pair[0].max_prefixlen)}", strict=False
            )
        )
    )
    odd = st.sampled_from(["999.1.1.1", "1.2.3.04", "001.002.003.004", "::1", "::ffff:1.2.3.4"])
    return st.one_of(v4, v6, cidr, odd)


def hostile_text(limit: int) -> st.SearchStrategy[str]:
    """Non-empty text of at most about `limit` characters (sometimes past it)."""
    piece = st.one_of(
        st.sampled_from(PIECES),
        st.text(_ALPHABET, min_size=1, max_size=12),
        _ip_texts(),
    )
    mixed = st.lists(piece, min_size=1, max_size=8).map("".join)
    # At the limit, one past it, and what a forged payload could carry: Discord checks the
    # option limits, discord.py does not.
    sizes = st.sampled_from([limit - 1, limit, limit + 1, limit * 2, limit * 4])
    long = st.tuples(mixed, sizes).map(lambda pair: (pair[0] * (pair[1] // len(pair[0]) + 1))[: pair[1]])
    return st.one_of(mixed, mixed, mixed, long).filter(bool)


def user_names() -> st.SearchStrategy[str]:
    plain = st.sampled_from(["Vandal", "some_vandal", "vandal", "Vandal ", " Vandal_2"])
    return st.one_of(plain, _ip_texts(), hostile_text(PAGE_LIMIT))


def page_titles() -> st.SearchStrategy[str]:
    plain = st.sampled_from(["Main Page", "main_page", "Talk:Main Page", ":Main Page", "Ǆ"])
    return st.one_of(plain, hostile_text(PAGE_LIMIT))


def wiki_scripts() -> st.SearchStrategy[WikiScript]:
    codes = st.sampled_from([*sorted(ERROR_CLASSES), "abusefilter-disallowed", "spamblacklist"])
    return st.builds(
        WikiScript,
        # Half the cases reach a prompt; the other half spread over the ways a preview fails.
        preview=st.just("ready") | st.sampled_from([k for k in PREVIEW_KINDS if k != "ready"]),
        rollback=st.sampled_from(ROLLBACK_KINDS),
        page_changes=st.booleans(),
        error_code=codes,
        error_info=hostile_text(300),
        edits=st.integers(1, 600),
        capped=st.booleans(),
        restored_user=st.none() | user_names(),
        top_user=st.none() | user_names(),
        default_summary_fails=st.booleans(),
    )


ACTIONS = ("confirm", "cancel", "expire", "stranger", "double", "expired-click", "late")


@dataclass(frozen=True)
class RollbackCase:
    """One `/rollback`, the wiki's answers, and what the moderator then does."""

    moderator_name: str
    authorized: bool
    page: str
    user: str
    summary: str | None
    markbot: bool
    wiki: WikiScript
    actions: tuple[str, ...]


@dataclass(frozen=True)
class SearchCase:
    """One `/rollback-log search` (then maybe Next), `show` and `export`."""

    reader_authorized: bool
    reuse_case: bool  # filter on the rollback's own user and page (so the row is found)
    user: str | None
    page: str | None
    status: str | None
    since: str | None
    until: str | None
    next_page: bool
    export: bool


@dataclass(frozen=True)
class Case:
    rollback: RollbackCase
    search: SearchCase


def rollback_cases() -> st.SearchStrategy[RollbackCase]:
    return st.builds(
        RollbackCase,
        moderator_name=hostile_text(NAME_LIMIT).map(lambda s: s[:NAME_LIMIT]),
        authorized=st.sampled_from([True] * 9 + [False]),
        page=page_titles(),
        user=user_names(),
        summary=st.none() | hostile_text(SUMMARY_LIMIT),
        markbot=st.booleans(),
        wiki=wiki_scripts(),
        actions=st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3).map(tuple),
    )


def _when() -> st.SearchStrategy[str | None]:
    valid = st.sampled_from(["7d", "24h", "30m", "2w", "2026-11-01", "2026-11-20T12:30", "0m"])
    return st.none() | st.none() | valid | hostile_text(WHEN_LIMIT)


def search_cases() -> st.SearchStrategy[SearchCase]:
    return st.builds(
        SearchCase,
        reader_authorized=st.sampled_from([True] * 9 + [False]),
        reuse_case=st.booleans(),
        user=st.none() | user_names(),
        page=st.none() | page_titles(),
        status=st.none() | st.sampled_from([s.value for s in RollbackStatus]),
        since=_when(),
        until=_when(),
        next_page=st.booleans(),
        export=st.sampled_from([True, False, False, False]),
    )


def cases() -> st.SearchStrategy[Case]:
    return st.builds(Case, rollback=rollback_cases(), search=search_cases())


# ---- NUL and lone surrogates --------------------------------------------------------------

POISON = ("\x00", "\ud800", "\udfff", "\udc80")
POISONABLE = ("page", "user", "summary", "moderator_name", "search_user", "search_page", "since")


@st.composite
def poisoned(draw: st.DrawFn) -> Case:
    """A case with NUL or a lone surrogate spliced into one text input."""
    case = draw(cases())
    where = draw(st.sampled_from(POISONABLE))
    poison = draw(st.sampled_from(POISON))

    def splice(text: str | None) -> str:
        text = text or "x"
        at = draw(st.integers(0, len(text)))
        return text[:at] + poison + text[at:]

    rollback, search = case.rollback, case.search
    if where == "page":
        rollback = replace(rollback, page=splice(rollback.page))
    elif where == "user":
        rollback = replace(rollback, user=splice(rollback.user))
    elif where == "summary":
        rollback = replace(rollback, summary=splice(rollback.summary))
    elif where == "moderator_name":
        rollback = replace(rollback, moderator_name=splice(rollback.moderator_name))
    elif where == "search_user":
        search = replace(search, user=splice(search.user), reuse_case=False)
    elif where == "search_page":
        search = replace(search, page=splice(search.page), reuse_case=False)
    else:
        search = replace(search, since=splice(search.since))
    return Case(rollback=rollback, search=search)
