"""`meta=siteinfo` as each wiki answers it, and the links that follow its article path."""

from __future__ import annotations

import pytest

from bot.wiki.api import JSON
from bot.wiki.errors import WikiAPIError
from bot.wiki.links import SiteLinks
from bot.wiki.siteinfo import parse_revertpage, parse_siteinfo

API = "https://en.example.org/w/api.php"


def answer(**general: str) -> JSON:
    return {"batchcomplete": True, "query": {"general": general}}


def test_a_wikimedia_style_protocol_relative_server_takes_the_apis_scheme() -> None:
    info = parse_siteinfo(
        answer(
            sitename="Wikipedia",
            base="https://en.example.org/wiki/Main_Page",
            server="//en.example.org",
            articlepath="/wiki/$1",
        ),
        API,
    )

    assert info.name == "Wikipedia"
    assert info.article_url == "https://en.example.org/wiki/$1"
    assert not info.temp_accounts  # MediaWiki before 1.42 does not know the property
    links = SiteLinks(API, article_url=info.article_url)
    assert links.page_url("User talk:Vandal 1") == "https://en.example.org/wiki/User_talk:Vandal_1"
    # Diffs keep index.php: article paths take no query of their own on every wiki.
    assert links.diff_url(12, 11) == "https://en.example.org/w/index.php?diff=12&oldid=11"


def test_an_index_php_article_path_and_temporary_accounts() -> None:
    data = answer(sitename="Dev", server="http://127.0.0.1:8080", articlepath="/index.php?title=$1")
    data["query"]["autocreatetempuser"] = {"enabled": True, "matchPattern": "~$1"}

    info = parse_siteinfo(data, "http://127.0.0.1:8080/api.php")

    assert info.temp_accounts
    links = SiteLinks("http://127.0.0.1:8080/api.php", article_url=info.article_url)
    assert links.page_url("A/b c") == "http://127.0.0.1:8080/index.php?title=A/b_c"


def test_a_wiki_that_does_not_say_keeps_index_php_links_and_is_named_by_its_api() -> None:
    info = parse_siteinfo(answer(), API)

    assert info.name == API
    assert info.article_url is None
    assert SiteLinks(API, article_url=None).page_url("X") == (
        "https://en.example.org/w/index.php?title=X"
    )


def test_revertpage_missing_is_an_api_error() -> None:
    assert parse_revertpage({"query": {"allmessages": [{"content": "Reverted $2"}]}}) == (
        "Reverted $2"
    )
    with pytest.raises(WikiAPIError, match="Revertpage"):
        parse_revertpage({"query": {"allmessages": [{"missing": True}]}})
