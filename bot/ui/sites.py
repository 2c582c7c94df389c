"""The wikis as the Discord layer shows them: each one's links, site name and home page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from discord.app_commands import Choice

from bot.ui.embeds import WikiLinks
from bot.ui.text import esc, link
from bot.wiki.difflinks import LinkSite


@dataclass(frozen=True, slots=True)
class Site:
    key: str
    links: WikiLinks
    name: str  # the wiki's own site name (meta=siteinfo), or its key until known
    home_url: str | None = None
    # Where links into this wiki point (for recognising them in messages): its api.php and
    # `server + articlepath` from siteinfo (None until known).
    api_url: str | None = None
    article_url: str | None = None


class WikiSites:
    """Every wiki the bot serves, by key; `wikis_for` says which a server may use."""

    def __init__(
        self,
        sites: Mapping[str, Site],
        *,
        wikis_for: Callable[[int], Sequence[str]] | None = None,
    ) -> None:
        if not sites:
            raise ValueError("at least one wiki")
        self._sites = dict(sites)
        self._default = next(iter(self._sites.values()))
        self._wikis_for = wikis_for

    @classmethod
    def single(cls, links: WikiLinks, key: str = "default") -> WikiSites:
        return cls({key: Site(key=key, links=links, name=key)})

    def limited_by(self, wikis_for: Callable[[int], Sequence[str]]) -> WikiSites:
        """The same sites, knowing which wikis each server may use."""
        limited = WikiSites(self._sites, wikis_for=wikis_for)
        limited._sites = self._sites  # one table: a name learnt later shows in both
        return limited

    @property
    def keys(self) -> list[str]:
        return list(self._sites)

    def site(self, key: str) -> Site | None:
        return self._sites.get(key)

    def set_name(
        self, key: str, name: str, home_url: str | None = None, article_url: str | None = None
    ) -> None:
        """The site name, home page and article path once `meta=siteinfo` answered."""
        site = self._sites.get(key)
        if site is not None:
            self._sites[key] = replace(
                site, name=name, home_url=home_url, article_url=article_url or site.article_url
            )

    def link_sites(self, guild_id: int) -> list[LinkSite]:
        """The wikis of this server as the diff-link parser needs them."""
        found: list[LinkSite] = []
        for key in self.wikis_for(guild_id):
            site = self._sites[key]
            api_url = site.api_url or getattr(site.links, "api_url", None)
            if isinstance(api_url, str):
                found.append(LinkSite(key=key, api_url=api_url, article_url=site.article_url))
        return found

    def links(self, key: str) -> WikiLinks:
        """The links of wiki `key` (a wiki no longer configured: the first one's)."""
        site = self._sites.get(key)
        return site.links if site is not None else self._default.links

    def wikis_for(self, guild_id: int) -> list[str]:
        if self._wikis_for is None:
            return self.keys
        return [key for key in self._wikis_for(guild_id) if key in self._sites]

    def label(self, key: str) -> str:
        """`Site name (key)`, linked to the wiki's home page when known; escaped."""
        site = self._sites.get(key)
        if site is None:
            return esc(key)
        text = f"{site.name} ({key})" if site.name != key else key
        return link(text, site.home_url) if site.home_url else esc(text)

    def label_for(self, guild_id: int, key: str) -> str | None:
        """The wiki's label where the server can use more than one wiki, else None (a server
        with one wiki needs no reminder which one it is)."""
        return self.label(key) if len(self.wikis_for(guild_id)) > 1 else None


def wiki_choices(sites: WikiSites, guild_id: int, current: str) -> list[Choice[str]]:
    """Autocomplete for a `wiki` option: the server's wikis matching what was typed (key or
    site name), as `key — Site name`, the key as the value; at most 25."""
    typed = current.strip().lower()
    choices: list[Choice[str]] = []
    for key in sites.wikis_for(guild_id):
        site = sites.site(key)
        name = site.name if site is not None else key
        if typed and typed not in key and typed not in name.lower():
            continue
        label = key if name == key else f"{key} — {name}"
        choices.append(Choice(name=label[:100], value=key))
    return choices[:25]


def wiki_refusal(asked: str) -> str:
    """The answer to a `wiki` option naming a wiki the server may not use (or none at all)."""
    return f"This server may not use the wiki `{esc(asked.strip())[:40]}`."
