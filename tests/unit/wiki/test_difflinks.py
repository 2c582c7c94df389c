"""The edit-link parser over every link form, Markdown shapes, real feed payloads and junk."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord.http import HTTPClient
from discord.state import ConnectionState
from hypothesis import given
from hypothesis import strategies as st

from bot.wiki.difflinks import EditLink, LinkSite, find_edit_links, message_texts, payload_texts
from tests.unit.wiki import feed_messages as feeds

W = "https://wiki.example.org"
DEFAULT = LinkSite("default", f"{W}/w/api.php", f"{W}/wiki/$1")
OTHER = LinkSite("other", "https://other.example.net/api.php", "https://other.example.net/$1")
FANDOM = LinkSite("fandom", "https://x.fandom.com/api.php", "https://x.fandom.com/wiki/$1")
QUERY_PATH = LinkSite(
    "query", "https://q.example.com/api.php", "https://q.example.com/index.php?title=$1"
)
NO_SITEINFO = LinkSite("bare", "http://127.0.0.1:8080/api.php", None)
SITES = [DEFAULT, OTHER, FANDOM, QUERY_PATH, NO_SITEINFO]


def ids(link: EditLink) -> tuple[object, ...]:
    return (link.wiki, link.revid, link.oldid, link.relative, link.title, link.pageid)


def one(url: str) -> EditLink:
    links = find_edit_links([url], SITES)
    assert len(links) == 1, links
    assert links[0].url == url
    return links[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # index.php query forms
        (f"{W}/w/index.php?diff=5&oldid=4", ("default", 5, 4, None, None, None)),
        (f"{W}/w/index.php?oldid=4&diff=5", ("default", 5, 4, None, None, None)),
        (f"{W}/w/index.php?diff=5", ("default", 5, None, None, None, None)),
        (f"{W}/w/index.php?oldid=5", ("default", 5, None, None, None, None)),
        (f"{W}/w/index.php?curid=9&diff=5", ("default", 5, None, None, None, 9)),
        (
            f"{W}/w/index.php?title=Foo_bar&diff=next&oldid=4",
            ("default", None, 4, "next", "Foo bar", None),
        ),
        (f"{W}/w/index.php?title=Foo&diff=prev&oldid=4", ("default", None, 4, "prev", "Foo", None)),
        (f"{W}/w/index.php?title=Foo&diff=cur&oldid=4", ("default", None, 4, "cur", "Foo", None)),
        (f"{W}/w/index.php?diff=0&oldid=4", ("default", None, 4, "cur", None, None)),
        (f"{W}/w/index.php?title=Foo&diff=prev", ("default", None, None, "prev", "Foo", None)),
        (
            f"{W}/w/index.php?title=Foo&diff=5&oldid=4&action=historysubmit",
            ("default", 5, 4, None, "Foo", None),
        ),
        (f"{W}/w/index.php?title=Foo&curid=9&diff=5&oldid=0", ("default", 5, None, None, "Foo", 9)),
        (
            f"{W}/w/index.php?title=Caf%C3%A9+au+lait&oldid=5",
            ("default", 5, None, None, "Café au lait", None),
        ),
        (
            f"{W}/w/index.php?title=Grand_Canyon_(Arizona%29&diff=5",
            ("default", 5, None, None, "Grand Canyon (Arizona)", None),
        ),
        # the article path, with a query (Wiki-Bot's diff links)
        (f"{W}/wiki/Main_Page?diff=5&oldid=4", ("default", 5, 4, None, "Main Page", None)),
        (f"{W}/wiki/Caf%C3%A9?oldid=5", ("default", 5, None, None, "Café", None)),
        (f"{W}/w/index.php/Foo?diff=5", ("default", 5, None, None, "Foo", None)),
        # special pages under the article path, ?title= and PATH_INFO
        (f"{W}/wiki/Special:Diff/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Special:Diff/4/5", ("default", 5, 4, None, None, None)),
        (f"{W}/wiki/Special:Diff/4/prev", ("default", None, 4, "prev", None, None)),
        (f"{W}/w/index.php?title=Special:Diff/4/5", ("default", 5, 4, None, None, None)),
        (f"{W}/w/index.php?title=Special%3ADiff%2F5", ("default", 5, None, None, None, None)),
        (f"{W}/w/index.php/Special:Diff/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Special:MobileDiff/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Special:MobileDiff/4...5", ("default", 5, 4, None, None, None)),
        (f"{W}/wiki/Special:PermanentLink/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Special:Permalink/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Special%3ADiff/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Special%3aDiff%2F4%2F5", ("default", 5, 4, None, None, None)),
        (f"{W}/wiki/special:diff/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Spezial:Diff/5", ("default", 5, None, None, None, None)),
        (f"{W}/wiki/Special:Diff/5?uselang=de", ("default", 5, None, None, None, None)),
        # schemes, protocol-relative, letter case of the host, mobile hosts
        ("http://wiki.example.org/wiki/Special:Diff/5", ("default", 5, None, None, None, None)),
        ("//wiki.example.org/w/index.php?diff=5", ("default", 5, None, None, None, None)),
        ("HTTPS://Wiki.Example.ORG/w/index.php?diff=5", ("default", 5, None, None, None, None)),
        ("https://wiki.example.org:443/w/index.php?diff=5", ("default", 5, None, None, None, None)),
        ("https://wiki.m.example.org/wiki/Special:Diff/5", ("default", 5, None, None, None, None)),
        ("https://m.wiki.example.org/wiki/Special:Diff/5", ("default", 5, None, None, None, None)),
        # other article and script paths
        ("https://x.fandom.com/wiki/Special:Diff/5", ("fandom", 5, None, None, None, None)),
        ("https://x.fandom.com/index.php?diff=5&oldid=4", ("fandom", 5, 4, None, None, None)),
        (
            "https://q.example.com/index.php?title=Special:PermanentLink/5",
            ("query", 5, None, None, None, None),
        ),
        ("https://q.example.com/index.php?title=Foo&diff=5", ("query", 5, None, None, "Foo", None)),
        ("https://other.example.net/Special:Diff/4/5", ("other", 5, 4, None, None, None)),
        ("https://other.example.net/Foo_bar?oldid=5", ("other", 5, None, None, "Foo bar", None)),
        ("https://other.example.net/index.php?diff=5", ("other", 5, None, None, None, None)),
        ("http://127.0.0.1:8080/index.php?diff=5&oldid=4", ("bare", 5, 4, None, None, None)),
    ],
)
def test_link_form(url: str, expected: tuple[object, ...]) -> None:
    assert ids(one(url)) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://en.wikipedia.org/w/index.php?diff=5&oldid=4",  # another host
        "https://wiki.example.org.evil.test/w/index.php?diff=5",  # a host that only starts alike
        "https://evil.test/wiki.example.org/w/index.php?diff=5",
        "https://wiki.example.org@evil.test/w/index.php?diff=5",  # userinfo, host evil.test
        "https://example.org/w/index.php?diff=5",  # the parent domain
        f"{W}/w/load.php?diff=5",  # the wiki's host, not its script or article path
        f"{W}/docs/Special:Diff/5",
        f"{W}/index.php?diff=5",  # the script is under /w/
        "http://127.0.0.1:8081/index.php?diff=5",  # another port
        "https://x.fandom.com/Special:Diff/5",  # Fandom's articles are under /wiki/
        f"{W}/wiki/Grand_Canyon",  # a page, not an edit
        f"{W}/wiki/Special:Contributions/Vandal99",
        f"{W}/wiki/Talk:Diff/5",
        f"{W}/wiki/Special:Diff/",
        f"{W}/wiki/Special:Diff/4/5/6",
        f"{W}/wiki/Special:Diff/abc",
        f"{W}/w/index.php?title=Foo&action=edit&oldid=5",
        f"{W}/w/index.php?title=Foo&action=history",
        f"{W}/w/index.php?title=Foo&direction=prev&oldid=5",
        f"{W}/w/index.php?title=Foo&action=edit&undoafter=4&undo=5",
        f"{W}/w/index.php?oldid=0",
        f"{W}/w/index.php?diff=abc&oldid=4",
        f"{W}/w/index.php?diff=-5",
        f"{W}/w/index.php?diff=prev",  # relative to nothing: no oldid, title or page id
        f"{W}/w/index.php?curid=9",
        f"{W}/w/api.php?action=compare&fromrev=4&torev=5",
        "ftp://wiki.example.org/w/index.php?diff=5",
        "wiki.example.org/w/index.php?diff=5",  # no scheme and no //
    ],
)
def test_not_an_edit_link_of_a_known_wiki(url: str) -> None:
    assert find_edit_links([url], SITES) == []


@pytest.mark.parametrize(
    ("text", "url"),
    [
        (f"[this edit]({W}/wiki/Special:Diff/5) please", f"{W}/wiki/Special:Diff/5"),
        (f"[this edit](<{W}/wiki/Special:Diff/5>)", f"{W}/wiki/Special:Diff/5"),
        (f"see <{W}/w/index.php?diff=5>.", f"{W}/w/index.php?diff=5"),
        (f"see {W}/w/index.php?diff=5.", f"{W}/w/index.php?diff=5"),
        (f"({W}/w/index.php?diff=5), ok", f"{W}/w/index.php?diff=5"),
        (f"**{W}/w/index.php?diff=5**", f"{W}/w/index.php?diff=5"),
        (f"||{W}/w/index.php?diff=5||", f"{W}/w/index.php?diff=5"),
        (f"`{W}/w/index.php?diff=5`", f"{W}/w/index.php?diff=5"),
        (f"{W}/wiki/Foo_(bar)?diff=5 x", f"{W}/wiki/Foo_(bar)?diff=5"),
        (f"[Foo (bar)]({W}/wiki/Foo_(bar)?diff=5)", f"{W}/wiki/Foo_(bar)?diff=5"),
        # RcGcDw encodes only the ')' of a title: the Markdown link still ends at its own ')'
        (
            f"[Foo (bar)]({W}/w/index.php?title=Foo_(bar%29&diff=5)",
            f"{W}/w/index.php?title=Foo_(bar%29&diff=5",
        ),
        (f"line one\n{W}/w/index.php?diff=5\nline three", f"{W}/w/index.php?diff=5"),
    ],
)
def test_url_found_in_markdown(text: str, url: str) -> None:
    (link,) = find_edit_links([text], SITES)
    assert link.url == url
    assert link.revid == 5


def test_order_of_appearance_and_duplicates_across_texts() -> None:
    texts = [
        f"first {W}/w/index.php?diff=7 then <{W}/wiki/Special:Diff/6/8>",
        f"again {W}/w/index.php?diff=7&x=1 and https://other.example.net/Special:Diff/7",
        f"{W}/wiki/Special:Diff/5",
    ]
    found = [(link.wiki, link.revid) for link in find_edit_links(texts, SITES)]
    assert found == [("default", 7), ("default", 8), ("other", 7), ("default", 5)]


def test_site_order_decides_between_wikis_on_one_host() -> None:
    en = LinkSite("en", f"{W}/en/api.php", f"{W}/en/wiki/$1")
    de = LinkSite("de", f"{W}/de/api.php", f"{W}/de/wiki/$1")
    texts = [f"{W}/de/wiki/Spezial:Diff/5 {W}/en/index.php?diff=6 {W}/wiki/Special:Diff/7"]
    found = [(link.wiki, link.revid) for link in find_edit_links(texts, [en, de])]
    assert found == [("de", 5), ("en", 6)]


def test_no_sites_no_links() -> None:
    assert find_edit_links([f"{W}/w/index.php?diff=5"], []) == []


# --- feed fixtures ------------------------------------------------------------------------------

FEED_EXPECTED: dict[str, list[tuple[object, ...]]] = {
    "RCGCDW_EMBED_EDIT": [("default", 1337, 1336, None, "Grand Canyon (Arizona)", 42)],
    "RCGCDW_EMBED_NEW": [("default", 1400, None, None, "Café", 77)],
    "RCGCDW_EMBED_HIDDEN_USER": [("default", 1501, 1500, None, "Grand Canyon (Arizona)", 42)],
    "RCGCDW_COMPACT_EDIT": [("default", 1337, 1336, None, "Grand Canyon (Arizona)", 42)],
    "RCGCDW_COMPACT_NEW": [("default", 1400, None, None, "Café", 77)],
    "RCGCDW_COMPACT_HIDDEN_USER": [("default", 1501, 1500, None, "Grand Canyon (Arizona)", 42)],
    "WIKIBOT_RC_EDIT": [("default", 2001, 1999, None, "Main Page", 1)],
    "WIKIBOT_RC_NEW": [("default", 2002, None, None, "User:Vandal99/Sandbox", 90)],
    "WIKIBOT_RC_HIDDEN_USER": [("default", 2003, 2001, None, "Main Page", 1)],
    "WIKIBOT_DIFF_EDIT": [("default", 2001, 1999, None, "Main Page", None)],
    "WIKIBOT_DIFF_NEW": [("default", 2002, None, None, "User:Vandal99/Sandbox", None)],
    "WIKIBOT_DIFF_HIDDEN_USER": [("default", 2003, 2001, None, "Main Page", None)],
    "MEMBER_MARKDOWN": [("default", 1337, None, None, None, None)],
    "MEMBER_ANGLE": [("default", None, 1337, "prev", "Grand Canyon (Arizona)", None)],
    "MEMBER_SEVERAL": [
        ("default", 1400, 1399, None, None, None),
        ("default", 1401, 1398, None, None, None),
    ],
    "MEMBER_OTHER_WIKI": [
        ("other", 77, None, None, None, None),
        ("other", 78, None, None, None, None),
    ],
    "MEMBER_NO_EDIT": [],
    "MEMBER_FORWARD": [("default", 1337, 1336, None, "Grand Canyon (Arizona)", 42)],
}


@pytest.mark.parametrize("name", sorted(FEED_EXPECTED))
def test_feed_message(name: str) -> None:
    payload: dict[str, Any] = getattr(feeds, name)
    links = find_edit_links(payload_texts(payload), [DEFAULT, OTHER])
    assert [ids(link) for link in links] == FEED_EXPECTED[name]


def test_only_the_default_wiki_known_ignores_the_sister_wiki() -> None:
    assert find_edit_links(payload_texts(feeds.MEMBER_OTHER_WIKI), [DEFAULT]) == []


async def _message(payload: dict[str, Any]) -> discord.Message:
    state = ConnectionState(
        dispatch=lambda *_a, **_k: None,
        handlers={},
        hooks={},
        http=HTTPClient(asyncio.get_running_loop()),
        intents=discord.Intents.none(),
    )
    channel: Any = discord.Object(int(feeds.CHANNEL_ID))
    return discord.Message(state=state, channel=channel, data=payload)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(FEED_EXPECTED))
async def test_message_texts_of_a_real_message_match_the_payload(name: str) -> None:
    payload: dict[str, Any] = getattr(feeds, name)
    message = await _message(payload)
    assert message_texts(message) == payload_texts(payload)


async def test_message_texts_reads_every_embed_part() -> None:
    embed = {
        "type": "rich",
        "url": "u",
        "title": "t",
        "description": "d",
        "author": {"name": "an", "url": "au"},
        "footer": {"text": "f"},
        "fields": [{"name": "n1", "value": "v1"}, {"name": "n2", "value": "v2"}],
    }
    payload = {**feeds.MEMBER_NO_EDIT, "content": "c", "embeds": [embed, {"title": "t2"}]}
    expected = ["c", "u", "t", "d", "an", "au", "f", "n1", "v1", "n2", "v2", "t2"]
    assert payload_texts(payload) == expected
    assert message_texts(await _message(payload)) == expected


async def test_forwarded_message_texts_come_from_its_snapshot() -> None:
    message = await _message(feeds.MEMBER_FORWARD)
    assert message.content == ""
    assert message_texts(message)[0] == feeds.RCGCDW_EMBED_EDIT["embeds"][0]["url"]


# --- junk never raises --------------------------------------------------------------------------

MALFORMED = [
    "https://[::1/w/index.php?diff=5",
    "https://[wiki.example.org]/w/index.php?diff=5",
    "https://wiki.example.org:99999/w/index.php?diff=5",
    "https://wiki.example.org:port/w/index.php?diff=5",
    "https://",
    "//",
    "https:///w/index.php?diff=5",
    f"{W}/w/index.php?diff=%FF%FE&oldid=%00",
    f"{W}/w/index.php?title=%E0%A4%A&diff=x",
    f"{W}/w/index.php?diff=" + "9" * 5000,
    f"{W}/w/index.php?oldid=" + "9" * 20,
    f"{W}/wiki/Special:Diff/" + "9" * 5000,
    f"{W}/wiki/Special:MobileDiff/...",
    f"{W}/wiki/%",
    f"{W}/w/index.php?&&&=&diff&oldid",
    f"{W}/w/index.php?diff=\uff15",  # a full-width digit
    "[](" * 50 + W,
    "<" * 100 + ")" * 100,
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_text_never_raises(text: str) -> None:
    assert find_edit_links([text], SITES) == []


@given(st.text())
def test_any_text_after_the_host_never_raises(tail: str) -> None:
    for link in find_edit_links([f"{W}/{tail}", f"//{tail}", tail], SITES):
        assert link.revid is not None or link.relative is not None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"content": None, "embeds": None},
        {"embeds": "x"},
        {"embeds": [None, 3, {"author": "x", "footer": [], "fields": [None, {"name": 3}]}]},
        {"message_snapshots": [{"message": None}, None, {"message": {"embeds": {}}}]},
    ],
)
def test_malformed_payload_never_raises(payload: dict[str, Any]) -> None:
    assert payload_texts(payload) == []


def test_malformed_sites_are_skipped() -> None:
    sites = [LinkSite("broken", "not a url", "no dollar"), DEFAULT]
    assert [link.wiki for link in find_edit_links([f"{W}/w/index.php?diff=5"], sites)] == [
        "default"
    ]
