"""WIKI_MAX_CONCURRENCY is per wiki: a wiki that is slow holds its own requests, not another
wiki's."""

from __future__ import annotations

import asyncio

import httpx
import respx
from pydantic import SecretStr

from bot.wiki.client import WikiClient
from tests.unit.wiki.payloads import BOT_LOGIN, PASSWORD, USER_AGENT

SLOW = "https://slow.example.org/w/api.php"
FAST = "https://fast.example.org/w/api.php"
FAST_SITE = {"query": {"general": {"sitename": "Fast"}}}


def client(api: str) -> WikiClient:
    return WikiClient(
        api_url=api,
        username=BOT_LOGIN,
        password=SecretStr(PASSWORD),
        user_agent=USER_AGENT,
        max_concurrency=1,
    )


async def test_a_held_request_on_one_wiki_queues_that_wiki_only() -> None:
    release = asyncio.Event()
    slow_started = 0

    async def slow_answer(request: httpx.Request) -> httpx.Response:
        nonlocal slow_started
        slow_started += 1
        await release.wait()
        return httpx.Response(200, json={"query": {"general": {"sitename": "Slow"}}})

    with respx.mock(assert_all_mocked=True) as router:
        router.get(SLOW).mock(side_effect=slow_answer)
        router.get(FAST).mock(return_value=httpx.Response(200, json=FAST_SITE))
        async with client(SLOW) as slow, client(FAST) as fast:
            first = asyncio.create_task(slow.siteinfo())
            async with asyncio.timeout(5):
                while slow_started == 0:  # noqa: ASYNC110 - respx has no hook to wait on
                    await asyncio.sleep(0.001)
            # The slow wiki's second request waits for its one slot ...
            second = asyncio.create_task(slow._call("GET", {"action": "query"}))
            # ... while the other wiki answers at once.
            async with asyncio.timeout(5):
                assert (await fast.siteinfo()).name == "Fast"
            await asyncio.sleep(0.05)
            assert slow_started == 1
            assert not second.done()

            release.set()
            async with asyncio.timeout(5):
                await first
                await second
            assert slow_started == 2
