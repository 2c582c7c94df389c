"""Autocomplete's wiki reads: what they ask MediaWiki, how they parse it, and their own lane
(never behind a rollback holding WIKI_MAX_CONCURRENCY, yet bounded)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from bot.wiki.client import WikiClient
from bot.wiki.errors import InvalidTitleError, NotLoggedInError
from bot.wiki.suggest_reads import RecentChange, SuggestReads
from tests.unit.wiki.payloads import (
    API,
    MakeClient,
    Wiki,
    history,
    missing_page,
    query,
    rev,
    rollback_success,
)

TS = "2024-05-01T10:00:00Z"


async def logged_in(client: WikiClient) -> WikiClient:
    await client.login()
    return client


async def test_prefix_search_asks_every_namespace_and_returns_titles(
    wiki: Wiki, wiki_mock: respx.MockRouter, client: WikiClient
) -> None:
    route = wiki_mock.get(API, params__contains={"list": "prefixsearch"}).respond(
        json={
            "batchcomplete": True,
            "query": {
                "prefixsearch": [
                    {"ns": 0, "title": "Sandbox", "pageid": 1},
                    {"ns": 2, "title": "User:Sandy", "pageid": 2},
                ]
            },
        }
    )
    reads = SuggestReads(await logged_in(client))
    assert await reads.titles_with_prefix("San") == ["Sandbox", "User:Sandy"]
    sent = query(route.calls.last.request)
    assert sent["pssearch"] == "San"
    assert sent["psnamespace"] == "*"
    assert sent["pslimit"] == "25"
    assert sent["formatversion"] == "2"


async def test_recent_changes_edits_and_creations_hidden_names_as_none(
    wiki: Wiki, wiki_mock: respx.MockRouter, client: WikiClient
) -> None:
    route = wiki_mock.get(API, params__contains={"list": "recentchanges"}).respond(
        json={
            "query": {
                "recentchanges": [
                    {"type": "edit", "ns": 0, "title": "Sandbox", "user": "Vandal"},
                    {"type": "edit", "ns": 0, "title": "Main Page", "userhidden": True},
                    {"type": "new", "ns": 1, "title": "Talk:X", "user": "192.0.2.1"},
                ]
            }
        }
    )
    reads = SuggestReads(await logged_in(client))
    assert await reads.recent_changes() == [
        RecentChange("Sandbox", "Vandal"),
        RecentChange("Main Page", None),
        RecentChange("Talk:X", "192.0.2.1"),
    ]
    sent = query(route.calls.last.request)
    assert sent["rctype"] == "edit|new"
    assert set(sent["rcprop"].split("|")) >= {"title", "user"}


async def test_empty_lists_read_as_nothing(
    wiki: Wiki, wiki_mock: respx.MockRouter, client: WikiClient
) -> None:
    wiki_mock.get(API, params__contains={"list": "recentchanges"}).respond(
        json={"batchcomplete": True, "query": {"recentchanges": []}}
    )
    wiki_mock.get(API, params__contains={"list": "prefixsearch"}).respond(
        json={"batchcomplete": True}
    )
    reads = SuggestReads(await logged_in(client))
    assert await reads.recent_changes() == []
    assert await reads.titles_with_prefix("Zz") == []


async def test_page_authors_newest_first_hidden_as_none_missing_as_empty(
    wiki: Wiki, client: WikiClient
) -> None:
    wiki.history.side_effect = [
        history([rev(5, "Vandal", TS), rev(4, None, TS), rev(3, "Alice", TS)]),
        missing_page("Nowhere"),
    ]
    reads = SuggestReads(await logged_in(client))
    assert await reads.page_authors("Sandbox") == ["Vandal", None, "Alice"]
    sent = query(wiki.history.calls.last.request)
    assert (sent["titles"], sent["rvprop"], sent["rvlimit"]) == ("Sandbox", "user", "50")
    assert await reads.page_authors("Nowhere") == []


async def test_page_authors_of_a_title_with_a_pipe_reads_one_page(
    wiki: Wiki, client: WikiClient
) -> None:
    wiki.history.side_effect = [
        httpx.Response(200, json={"query": {"pages": [{"title": "A|B", "invalid": True}]}})
    ]
    reads = SuggestReads(await logged_in(client))
    with pytest.raises(InvalidTitleError):
        await reads.page_authors("A|B")
    assert query(wiki.history.calls.last.request)["titles"] == "\x1fA|B"


async def test_no_read_without_a_live_session(
    wiki: Wiki, wiki_mock: respx.MockRouter, client: WikiClient
) -> None:
    route = wiki_mock.get(API, params__contains={"list": "recentchanges"})
    with pytest.raises(NotLoggedInError):
        await SuggestReads(client).recent_changes()
    assert not route.called
    assert not wiki.login.called  # logging in would queue behind rollbacks


async def test_reads_do_not_wait_for_a_rollback_holding_the_wikis_one_slot(
    wiki: Wiki, wiki_mock: respx.MockRouter, make_client: MakeClient
) -> None:
    release = asyncio.Event()
    posted = asyncio.Event()

    async def held_rollback(request: httpx.Request) -> httpx.Response:
        posted.set()
        await release.wait()
        return rollback_success()

    wiki.rollback.side_effect = held_rollback
    wiki_mock.get(API, params__contains={"list": "recentchanges"}).respond(
        json={"query": {"recentchanges": [{"title": "Sandbox", "user": "Vandal"}]}}
    )
    client = await logged_in(make_client(max_concurrency=1))
    rollback = asyncio.create_task(client.rollback("Sandbox", "Vandal", summary=None))
    async with asyncio.timeout(5):
        await posted.wait()
    # Control: the client's own reads queue behind the held rollback ...
    queued = asyncio.create_task(client.siteinfo())
    await asyncio.sleep(0.02)
    assert not queued.done()
    # ... autocomplete's do not.
    async with asyncio.timeout(1):
        assert await SuggestReads(client).recent_changes() == [RecentChange("Sandbox", "Vandal")]
    assert not rollback.done()
    assert not queued.done()
    queued.cancel()
    release.set()
    async with asyncio.timeout(5):
        await rollback


async def test_the_read_lane_is_bounded(
    wiki: Wiki, wiki_mock: respx.MockRouter, client: WikiClient
) -> None:
    release = asyncio.Event()
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return httpx.Response(200, json={"query": {"recentchanges": []}})

    wiki_mock.get(API, params__contains={"list": "recentchanges"}).mock(side_effect=slow)
    reads = SuggestReads(await logged_in(client), lane_size=2)
    tasks = [asyncio.create_task(reads.recent_changes()) for _ in range(6)]
    await asyncio.sleep(0.05)
    assert in_flight == 2
    release.set()
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    assert peak == 2
