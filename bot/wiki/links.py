"""Links into one wiki's web interface, derived from its api.php URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class SiteLinks:
    api_url: str

    @property
    def index_url(self) -> str:
        base, sep, _ = self.api_url.rpartition("api.php")
        return f"{base}index.php" if sep else self.api_url

    def page_url(self, title: str) -> str:
        return f"{self.index_url}?title={quote(title.strip().replace(' ', '_'), safe='/:')}"

    def diff_url(self, diff: int, oldid: int) -> str:
        return f"{self.index_url}?diff={diff}&oldid={oldid}"

    def contribs_url(self, user: str) -> str:
        return self.page_url(f"Special:Contributions/{user}")
