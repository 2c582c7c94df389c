"""What a wiki says about itself: its name, main page and article path (`meta=siteinfo`), and
its default rollback summary (`MediaWiki:Revertpage`)."""

from __future__ import annotations

import re

from bot.wiki.api import JSON, dig
from bot.wiki.errors import WikiAPIError
from bot.wiki.results import SiteInfo

# `autocreatetempuser` is unknown before MediaWiki 1.42: older wikis answer with a warning and
# the rest, and have no temporary accounts.
SITEINFO_QUERY = {"action": "query", "meta": "siteinfo", "siprop": "general|autocreatetempuser"}


_GENERATOR = re.compile(r"MediaWiki (\d+)\.(\d+)")


def _temp_patterns(temp: object) -> tuple[str, ...] | None:
    """`matchPatterns` (a list; a single `matchPattern` string on some versions) when the wiki
    answered `autocreatetempuser`; () if it has none; None if it did not answer."""
    if not isinstance(temp, dict):
        return None
    raw = temp.get("matchPatterns", temp.get("matchPattern"))
    patterns = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    found = tuple(str(p) for p in patterns if isinstance(p, str) and "$1" in p)
    if not found and temp.get("enabled"):
        return None  # enabled but unnamed: MediaWiki's default for its version applies
    return found


def parse_siteinfo(data: JSON, api_url: str) -> SiteInfo:
    general = dig(data, "query", "general")
    query = data.get("query")
    temp = query.get("autocreatetempuser") if isinstance(query, dict) else None
    version = _GENERATOR.match(str(general.get("generator", "")))
    server = str(general.get("server", ""))
    if server.startswith("//"):  # protocol-relative (Wikimedia): the API's scheme
        server = f"{api_url.split(':', 1)[0]}:{server}"
    return SiteInfo(
        name=str(general.get("sitename", "")) or api_url,
        main_page_url=str(general.get("base", "")),
        article_path=str(general.get("articlepath", "")),
        server=server,
        temp_accounts=bool(isinstance(temp, dict) and temp.get("enabled")),
        temp_account_patterns=_temp_patterns(temp),
        version=(int(version.group(1)), int(version.group(2))) if version else None,
    )


REVERTPAGE_QUERY = {
    "action": "query",
    "meta": "allmessages",
    "ammessages": "revertpage",
    # Rollback summaries are saved in the content language, not the bot's.
    "uselang": "content",
}


def parse_revertpage(data: JSON) -> str:
    messages = dig(data, "query", "allmessages")
    first = messages[0] if isinstance(messages, list) and messages else {}
    if not isinstance(first, dict) or "content" not in first:
        raise WikiAPIError("missingmessage", "The wiki has no MediaWiki:Revertpage text.")
    return str(first["content"])
