"""Hypothesis strategies: hostile page titles, user names, summaries and search filters, the
wiki's answers, and what the moderator does with the prompt.

Each strategy is built once (`@cache`): hypothesis validates a strategy on first use, and
rebuilding them per draw cost more than running the case.

Text is built from pieces that mean something to one of the layers it crosses - MediaWiki
(`|#[]{}<>`, namespaces, `Special:`, IPs and ranges, `prefix>Name`), Discord (mentions,
Markdown), spreadsheets (formula prefixes), Unicode (bidi and zero-width marks, controls,
combining and astral characters) - mixed with arbitrary text, and sometimes repeated up to and
past the option limits. NUL and lone surrogates are left to `poisoned`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from functools import cache

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
    "\u202e",
    "\u200f",
    "\u200e",
    "\u200b",
    "\ufeff",
    "\u00a0",
    "\u3000",
    "\u2028",
    "a\u0301",
    "ß",
    "İ",
    "ǅ",
    "ﬀ",
    "\U0001d518",
    "😀",
    "👩\u200d💻",
    "\u0627",
    "\u0600",
    # control characters (NUL excluded: see `poisoned`)
    "\x01",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\t",
    "\n",
    "\r",
    # MediaWiki syntax and names
    "|",
    "#",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    "_",
    "%",
    "%2F",
    "&#36;",
    "$1",
    "$2",
    "&amp;",
    "Special:",
    "Special:Contributions/",
    "User:",
    "User talk:",
    "Talk:",
    ":",
    "::",
    "imported>",
    "Foo@bar",
    "Foo/Bar",
    "~",
    "..",
    "/",
    # Discord mentions and Markdown
    "@everyone",
    "@here",
    "@",
    "<@123>",
    "<@!123>",
    "<@&456>",
    "<#789>",
    "<@1200000000000000001>",
    "<@&1100000000000000101>",
    "<@&999999999999999999>",
    "**",
    "__",
    "`",
    "```",
    "~~",
    "||",
    "\\",
    "[x](http://e)",
    "> ",
    "# ",
    "- ",
    "https://evil.example/",
    ":smile:",
    "<:e:123456789012345678>",
    "<t:0:R>",
    # spreadsheet formula prefixes
    "=",
    "+",
    "-",
    '=HYPERLINK("http://e")',
    "+1-1",
    "@SUM(A1)",
)
_ALPHABET = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
# What MediaWiki refuses in titles and user names (and `/`, which no user name holds).
_ILLEGAL = re.compile("[#<>\\[\\]|{}/\x00-\x1f\x7f-\x9f\u2000-\u200f\u2028-\u202f\ue000-\uf8ff]")
# Excluded outright, not filtered: filters that reject often fail hypothesis's health check.
_LEGAL_ALPHABET = st.characters(
    exclude_categories=("Cs", "Cc", "Co"),
    exclude_characters="#<>[]|{}/"
    + "".join(map(chr, [*range(0x2000, 0x2010), *range(0x2028, 0x2030)])),
)


@cache
def _ip_texts() -> st.SearchStrategy[str]:
    v4 = st.ip_addresses(v=4).map(str)
    v6 = st.ip_addresses(v=6).flatmap(
        lambda ip: st.sampled_from([str(ip), ip.exploded, str(ip).upper()])
    )
    cidr = st.tuples(st.ip_addresses(), st.integers(0, 128)).map(
        lambda pair: str(
            ipaddress.ip_network(f"{pair[0]}/{min(pair[1], pair[0].max_prefixlen)}", strict=False)
        )
    )
    odd = st.sampled_from(["999.1.1.1", "1.2.3.04", "001.002.003.004", "::1", "::ffff:1.2.3.4"])
    return st.one_of(v4, v6, cidr, odd)


@cache
def hostile_text(limit: int, *, legal: bool = False) -> st.SearchStrategy[str]:
    """Non-empty text of at most about `limit` characters (sometimes past it).

    `legal`: only characters MediaWiki accepts in a title or user name, so the case gets past
    the name checks to a preview, a rollback and the embeds that show it.
    """
    pieces = [p for p in PIECES if not _ILLEGAL.search(p)] if legal else list(PIECES)
    alphabet = _LEGAL_ALPHABET if legal else _ALPHABET
    piece = st.one_of(
        st.sampled_from(pieces),
        st.text(alphabet, min_size=1, max_size=12),
        _ip_texts().map(lambda ip: ip.split("/", 1)[0]) if legal else _ip_texts(),
    )
    mixed = st.lists(piece, min_size=1, max_size=8).map("".join)
    # At the limit, one past it, and what a forged payload could carry: Discord checks the
    # option limits, discord.py does not.
    sizes = st.sampled_from([limit - 1, limit, limit + 1, limit * 2, limit * 4])
    long = st.tuples(mixed, sizes).map(
        lambda pair: (pair[0] * (pair[1] // len(pair[0]) + 1))[: pair[1]]
    )
    # Blank text is a different case (Discord refuses it): made non-blank, not filtered out.
    return st.one_of(mixed, mixed, mixed, long).map(
        lambda text: text if text.strip() else text + "x"
    )


@cache
def user_names() -> st.SearchStrategy[str]:
    plain = st.sampled_from(["Vandal", "some_vandal", "vandal", "Vandal ", " Vandal_2"])
    legal = hostile_text(PAGE_LIMIT, legal=True)
    return st.one_of(plain, _ip_texts(), legal, legal, hostile_text(PAGE_LIMIT))


@cache
def page_titles() -> st.SearchStrategy[str]:
    plain = st.sampled_from(["Main Page", "main_page", "Talk:Main Page", ":Main Page", "Ǆ"])
    legal = hostile_text(PAGE_LIMIT, legal=True)
    return st.one_of(plain, legal, legal, hostile_text(PAGE_LIMIT))


@cache
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


@cache
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


@cache
def _when() -> st.SearchStrategy[str | None]:
    valid = st.sampled_from(["7d", "24h", "30m", "2w", "2026-11-01", "2026-11-20T12:30", "0m"])
    return st.none() | st.none() | valid | hostile_text(WHEN_LIMIT)


@cache
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


@cache
def cases() -> st.SearchStrategy[Case]:
    return st.builds(Case, rollback=rollback_cases(), search=search_cases())


# ---- NUL and lone surrogates --------------------------------------------------------------

POISON = ("\x00", "\ud800", "\udfff", "\udc80")
# What a member types (the interaction gate's concern) ...
TYPED_FIELDS = ("page", "user", "summary", "search_user", "search_page", "since")
# ... and what Discord says about them (their display name, stored as `requester_name`).
NAME_FIELDS = ("moderator_name",)


@cache
def poisoned(fields: tuple[str, ...] = TYPED_FIELDS) -> st.SearchStrategy[Case]:
    """Cases with NUL or a lone surrogate spliced into one of `fields`."""
    return _poisoned(fields)


@st.composite
def _poisoned(draw: st.DrawFn, fields: tuple[str, ...]) -> Case:
    case = draw(cases())
    where = draw(st.sampled_from(fields))
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
