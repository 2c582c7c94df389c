"""What a wiki says about itself: its name, main page and article path (`meta=siteinfo`), and
its default rollback summary (`MediaWiki:Revertpage`)."""

from __future__ import annotations

from bot.wiki.api import JSON, dig
from bot.wiki.errors import WikiAPIError
from bot.wiki.results import SiteInfo

# `autocreatetempuser` is unknown before MediaWiki 1.42: older wikis answer with a warning and
# the rest, and have no temporary accounts.
SITEINFO_QUERY = {"action": "query", "meta": "siteinfo", "siprop": "general|autocreatetempuser"}


def parse_siteinfo(data: JSON, api_url: str) -> SiteInfo:
    general = dig(data, "query", "general")
    query = data.get("query")
    temp = query.get("autocreatetempuser", {}) if isinstance(query, dict) else {}
    server = str(general.get("server", ""))
    if server.startswith("//"):  # protocol-relative (Wikimedia): the API's scheme
        server = f"{api_url.split(':', 1)[0]}:{server}"
    return SiteInfo(
        name=str(general.get("sitename", "")) or api_url,
        main_page_url=str(general.get("base", "")),
        article_path=str(general.get("articlepath", "")),
        server=server,
        temp_accounts=bool(isinstance(temp, dict) and temp.get("enabled")),
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
