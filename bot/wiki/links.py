"""Links into one wiki's web interface, derived from its api.php URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class SiteLinks:
    api_url: str
    # `server` + `articlepath` from meta=siteinfo (e.g. https://x.fandom.com/wiki/$1): page links
    # then look like the wiki's own; until it is known, index.php?title= works on every wiki.
    article_url: str | None = None

    @property
    def index_url(self) -> str:
        base, sep, _ = self.api_url.rpartition("api.php")
        return f"{base}index.php" if sep else self.api_url

    def page_url(self, title: str) -> str:
        name = quote(title.strip().replace(" ", "_"), safe="/:")
        if self.article_url and "$1" in self.article_url:
            return self.article_url.replace("$1", name)
        return f"{self.index_url}?title={name}"

    def diff_url(self, diff: int, oldid: int) -> str:
        return f"{self.index_url}?diff={diff}&oldid={oldid}"

    def contribs_url(self, user: str) -> str:
        return self.page_url(f"Special:Contributions/{user}")
