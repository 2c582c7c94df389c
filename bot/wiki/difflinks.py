"""Find links to wiki edits in a Discord message (a feed post or a member's message).

Pure: no network. MediaWiki's own reading of the forms handled here:
- index.php `diff`/`oldid` (DifferenceEngine::mapDiffPrevNext): `diff=N&oldid=M` compares M with N;
  `diff=N` alone compares N with its parent; `diff=prev|next` is relative to `oldid`; `diff=cur`
  and `diff=0` mean the page's current revision; `oldid=N` alone shows revision N.
- Special:Diff/N is `diff=N`, Special:Diff/M/N is `oldid=M&diff=N` (SpecialDiff), so
  Special:Diff/M/prev is relative too; Special:PermanentLink/N is `oldid=N`;
  Special:MobileDiff/N or /M...N (MobileFrontend) the same as Special:Diff.
Localised names: canonical page names (Diff, PermanentLink, PermaLink, MobileDiff) are accepted
under the canonical `Special` namespace and the German `Spezial` (MediaWiki's MessagesDe.php);
localised page aliases (e.g. `Spezial:Permanenter_Link`) are not recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import discord


@dataclass(frozen=True, slots=True)
class LinkSite:
    key: str
    api_url: str
    article_url: str | None


@dataclass(frozen=True, slots=True)
class EditLink:
    wiki: str
    url: str
    revid: int | None
    oldid: int | None
    relative: str | None
    title: str | None
    pageid: int | None


# --- texts of a message -------------------------------------------------------------------------


def message_texts(message: discord.Message) -> list[str]:
    """Every text of `message` that may hold a link; forwarded messages' snapshots come last."""
    texts = [message.content, *_embed_texts(message.embeds)]
    for snapshot in message.message_snapshots:
        texts += [snapshot.content, *_embed_texts(snapshot.embeds)]
    return [t for t in texts if t]


def _embed_texts(embeds: Iterable[discord.Embed]) -> list[str]:
    texts: list[str | None] = []
    for embed in embeds:
        texts += [embed.url, embed.title, embed.description, embed.author.name, embed.author.url]
        texts.append(embed.footer.text)
        for field in embed.fields:
            texts += [field.name, field.value]
    return [t for t in texts if t]


def payload_texts(payload: Mapping[str, Any]) -> list[str]:
    """`message_texts` over a raw Discord message payload."""
    texts = [payload.get("content"), *_payload_embed_texts(payload.get("embeds"))]
    for snapshot in _dicts(payload.get("message_snapshots")):
        inner = snapshot.get("message")
        if isinstance(inner, Mapping):
            texts += [inner.get("content"), *_payload_embed_texts(inner.get("embeds"))]
    return [t for t in texts if isinstance(t, str) and t]


def _payload_embed_texts(embeds: object) -> list[object]:
    texts: list[object] = []
    for embed in _dicts(embeds):
        author = embed.get("author")
        author = author if isinstance(author, Mapping) else {}
        footer = embed.get("footer")
        footer = footer if isinstance(footer, Mapping) else {}
        texts += [embed.get("url"), embed.get("title"), embed.get("description")]
        texts += [author.get("name"), author.get("url"), footer.get("text")]
        for field in _dicts(embed.get("fields")):
            texts += [field.get("name"), field.get("value")]
    return texts


def _dicts(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


# --- URLs in text -------------------------------------------------------------------------------

# A URL starts with http(s):// or // (protocol-relative) not glued to a word, and runs to
# whitespace or a character Discord Markdown puts around links: <url>, [x](<url>), ||url||.
_URL = re.compile(r"(?<![\w:/])(?:https?:)?//[^\s<>\[\]\"`|]+", re.IGNORECASE)
_TRAILING = ".,;:!?*_~'"


def _urls(text: str) -> Iterable[str]:
    for match in _URL.finditer(text):
        url = match.group(0)
        if text[: match.start()].endswith("]("):
            # A Markdown link [x](url): Discord ends it at its ')', whatever the URL holds
            # (RcGcDw writes a title's ')' as %29 but leaves its '(').
            closer = url.rfind(")")
            url = url[:closer] if closer >= 0 else url
        # As GitHub's autolinks do: drop closing punctuation, and a ')' the URL did not open.
        # Titles like Foo_(bar) keep theirs.
        while url and (
            url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))
        ):
            url = url[:-1]
        yield url


# --- one wiki's URL shapes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """Where a wiki's pages live, split from its api.php and article URLs."""

    hosts: frozenset[str]
    index_path: str  # /w/index.php
    article_prefix: str | None  # /wiki/ for /wiki/$1
    article_suffix: str
    article_query_path: str | None  # /index.php for /index.php?title=$1

    @classmethod
    def of(cls, site: LinkSite) -> _Shape | None:
        try:
            return cls._of(site)
        except ValueError:  # a bad port or IPv6 host in the configured URLs
            return None

    @classmethod
    def _of(cls, site: LinkSite) -> _Shape | None:
        api = urlsplit(site.api_url)
        if not api.hostname:
            return None
        hosts = {_host_key(api)}
        base, sep, _ = api.path.rpartition("api.php")
        index_path = f"{base}index.php" if sep else f"{api.path.rstrip('/')}/index.php"
        prefix: str | None = None
        suffix = ""
        query_path: str | None = None
        if site.article_url and "$1" in site.article_url:
            article = urlsplit(site.article_url)
            if article.hostname:
                hosts.add(_host_key(article))
            if "$1" in article.path:
                prefix, _, suffix = article.path.partition("$1")
            elif "$1" in article.query:
                query_path = article.path or "/"
        return cls(frozenset(hosts), index_path, prefix, suffix, query_path)

    def title_and_query(self, path: str) -> tuple[bool, str | None]:
        """(on this wiki's script or article path, the title the path names)."""
        if path in (self.index_path, self.article_query_path):
            return True, None
        if path.startswith(self.index_path + "/"):  # PATH_INFO: /w/index.php/Title
            return True, path[len(self.index_path) + 1 :] or None
        if self.article_prefix is not None and path.startswith(self.article_prefix):
            rest = path[len(self.article_prefix) :]
            if self.article_suffix:
                if not rest.endswith(self.article_suffix):
                    return False, None
                rest = rest[: -len(self.article_suffix)]
            return True, rest or None
        return False, None


def _host_key(parts: Any) -> str:
    """host[:port], the web's default ports left out; a port that is no number raises ValueError."""
    host = str(parts.hostname or "").lower()
    port = parts.port
    return f"{host}:{port}" if port not in (None, 80, 443) else host


def _desktop_hosts(host: str) -> set[str]:
    """The host itself, and without the mobile label of en.m.example.org or m.example.org."""
    labels = host.split(".")
    hosts = {host}
    for i in (0, 1):
        if len(labels) - 1 >= 2 and len(labels) > i and labels[i] == "m":
            hosts.add(".".join(labels[:i] + labels[i + 1 :]))
    return hosts


# --- reading one URL ----------------------------------------------------------------------------

_SPECIAL_NAMESPACES = frozenset({"special", "spezial"})
_DIFF_PAGES = frozenset({"diff", "mobilediff"})
_PERMALINK_PAGES = frozenset({"permanentlink", "permalink"})
_RELATIVE = frozenset({"prev", "next", "cur"})
_VIEW_ACTIONS = frozenset({"", "view", "historysubmit"})


def _revision(value: str | None) -> int | None:
    # Revision ids are 64-bit at most; a longer run of digits is no revision (and int() of
    # thousands of digits raises).
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if number > 0 else None  # oldid=0 is a new page's "no parent"


def _title(raw: str | None) -> str | None:
    if raw is None:
        return None
    title = raw.replace("_", " ").strip()
    return title or None


def _special(title: str) -> tuple[str, str] | None:
    """(page name folded, subpage) when `title` is one of the special pages read here."""
    namespace, colon, rest = title.partition(":")
    if not colon or namespace.strip().casefold() not in _SPECIAL_NAMESPACES:
        return None
    name, _, sub = rest.strip().partition("/")
    name = name.replace(" ", "").casefold()
    if name in _DIFF_PAGES or name in _PERMALINK_PAGES:
        return name, sub.strip()
    return None


def _special_params(name: str, sub: str) -> dict[str, str] | None:
    """The index.php parameters the special page redirects to."""
    if name in _PERMALINK_PAGES:
        return {"oldid": sub}
    parts = sub.split("...", 1) if name == "mobilediff" and "..." in sub else sub.split("/")
    if len(parts) == 1 and parts[0]:
        return {"diff": parts[0]}
    if len(parts) == 2:
        return {"oldid": parts[0], "diff": parts[1]}
    return None


def _read(url: str, site: LinkSite, shape: _Shape) -> EditLink | None:
    parts = urlsplit(url if not url.startswith("//") else f"https:{url}")
    if not (_desktop_hosts(_host_key(parts)) & shape.hosts):
        return None
    on_wiki, path_title = shape.title_and_query(parts.path)
    if not on_wiki:
        return None
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    title = _title(unquote(path_title)) if path_title is not None else _title(params.get("title"))
    if params.get("action", "") not in _VIEW_ACTIONS or "direction" in params:
        return None  # an edit form, a history page, or "older/newer revision" navigation
    pageid = _revision(params.get("curid"))
    special = _special(title) if title else None
    if special is not None:
        redirected = _special_params(*special)
        if redirected is None:
            return None
        params, title, pageid = redirected, None, None
    oldid = _revision(params.get("oldid"))
    diff = params.get("diff")
    if diff is None:
        if oldid is None:
            return None
        return EditLink(site.key, url, oldid, None, None, title, pageid)
    diff = diff.strip().lower()
    if diff == "0":
        diff = "cur"
    if diff in _RELATIVE:
        # Without oldid MediaWiki reads the page's current revision: the title or curid says which.
        if oldid is None and title is None and pageid is None:
            return None
        return EditLink(site.key, url, None, oldid, diff, title, pageid)
    revid = _revision(diff)
    if revid is None:
        return None
    return EditLink(site.key, url, revid, oldid, None, title, pageid)


def find_edit_links(texts: Iterable[str], sites: Sequence[LinkSite]) -> list[EditLink]:
    """Every edit link to one of `sites`, in order of appearance, each edit once.

    A link whose `diff` is prev/next/cur has `revid` None and `relative` set; its `oldid` may also
    be None when the link names the page instead (title or pageid), meaning the page's current
    revision.
    """
    shapes = [(site, shape) for site in sites if (shape := _Shape.of(site)) is not None]
    found: list[EditLink] = []
    seen: set[tuple[object, ...]] = set()
    for text in texts:
        for url in _urls(text):
            for site, shape in shapes:
                try:
                    link = _read(url, site, shape)
                except ValueError:  # a broken IPv6 host or port
                    link = None
                if link is None:
                    continue
                key: tuple[object, ...] = (
                    (link.wiki, link.revid, link.oldid)
                    if link.revid is not None
                    else (link.wiki, link.relative, link.oldid, link.title, link.pageid)
                )
                if key not in seen:
                    seen.add(key)
                    found.append(link)
                break
    return found
