"""`/rollback` page and user autocomplete through discord.py's real dispatch: the choices sent,
Discord's 25 limit, an empty answer when the wiki is slow, members without the role, the `wiki`
option, and autocomplete answering while a rollback holds the wiki client's one slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from bot.services.rollback import RollbackService
from bot.services.suggest import Suggestions, SuggestWiki
from bot.wiki.client import WikiClient
from bot.wiki.suggest_reads import RecentChange, SuggestReads
from tests.discord.harness import (
    AUTOCOMPLETE_RESULT,
    MOD,
    NOBODY,
    DiscordHarness,
    Dispatched,
    Person,
    Sessions,
)
from tests.unit.services.fakes import FakeWiki
from tests.unit.services.suggest_fakes import Deadlines, FakeSuggestWiki
from tests.unit.wiki.payloads import (
    API,
    BOT_LOGIN,
    PASSWORD,
    USER_AGENT,
    Wiki,
    rollback_success,
)

SANDBOX_AUTHORS: list[str | None] = ["Vandal", "Vandal", "Vandal", None, "Alice", "Bob"]


def suggesting(
    wikis: Mapping[str, SuggestWiki], **options: Any
) -> Callable[[RollbackService], Suggestions]:
    return lambda service: Suggestions(wikis=wikis, chooser=service, **options)


@pytest.fixture
def reads() -> FakeSuggestWiki:
    return FakeSuggestWiki(
        recent=[
            RecentChange("Sandbox", "Vandal"),
            RecentChange("Main Page", None),
            RecentChange("Sand castle", "Alice"),
        ],
        titles=["Sand", "Sand castle", "Sandbox", "Sandpaper"],
        authors={"Sandbox": SANDBOX_AUTHORS},
    )


@pytest.fixture
async def h(sqlite_session_factory: Sessions, reads: FakeSuggestWiki) -> AsyncIterator[Any]:
    h = await DiscordHarness.start(
        sqlite_session_factory, wiki=FakeWiki(), suggestions=suggesting({"default": reads})
    )
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


def typing_into(
    h: DiscordHarness, focused: str, person: Person = MOD, **options: Any
) -> Dispatched:
    return h.send(h.autocomplete_payload(person, focused=focused, **options))


async def typed(
    h: DiscordHarness, focused: str, person: Person = MOD, **options: Any
) -> list[tuple[str, str]]:
    run = typing_into(h, focused, person, **options)
    await h.settle()
    assert [r.callback_type for r in run.requests] == [AUTOCOMPLETE_RESULT]
    return [(c["name"], c["value"]) for c in run.callback.json["data"]["choices"]]


async def test_page_choices_recently_changed_first(
    h: DiscordHarness, reads: FakeSuggestWiki
) -> None:
    assert await typed(h, "page", page="sand") == [
        ("Sandbox", "Sandbox"),
        ("Sand castle", "Sand castle"),
        ("Sand", "Sand"),
        ("Sandpaper", "Sandpaper"),
    ]


async def test_user_choices_are_the_pages_latest_runs_once_the_page_is_given(
    h: DiscordHarness,
) -> None:
    assert await typed(h, "user", page="Sandbox", user="") == [
        ("Vandal — 3 latest edits", "Vandal"),
        ("Alice — 1 latest edit", "Alice"),
        ("Bob — 1 latest edit", "Bob"),
    ]
    # Before the page: recent editors (the hidden one is not offered).
    assert await typed(h, "user", user="") == [("Vandal", "Vandal"), ("Alice", "Alice")]


async def test_at_most_25_choices(h: DiscordHarness, reads: FakeSuggestWiki) -> None:
    reads.titles = [f"Page {n:02}" for n in range(40)]
    offered = await typed(h, "page", page="Page")
    assert [value for _, value in offered] == reads.titles[:25]


async def test_a_member_without_the_rollback_role_is_offered_nothing(
    h: DiscordHarness, reads: FakeSuggestWiki
) -> None:
    assert await typed(h, "page", NOBODY, page="Sand") == []
    assert await typed(h, "user", NOBODY, page="Sandbox", user="") == []
    assert reads.calls == []


async def test_a_slow_wiki_gets_an_empty_answer_not_an_error(
    sqlite_session_factory: Sessions,
) -> None:
    slow = FakeSuggestWiki(recent=[RecentChange("Sandbox", "Vandal")], hold=asyncio.Event())
    deadlines = Deadlines()
    async with await DiscordHarness.start(
        sqlite_session_factory,
        suggestions=suggesting({"default": slow}, deadline=deadlines),
    ) as h:
        run = typing_into(h, "page", page="San")
        async with asyncio.timeout(5):
            await slow.started.wait()
        assert run.requests == []  # still waiting on the wiki
        deadlines.expire()  # 2.5 s pass
        await h.settle()
        assert [r.callback_type for r in run.requests] == [AUTOCOMPLETE_RESULT]
        assert run.callback.json["data"] == {"choices": []}
        assert deadlines.asked == [2.5]


async def test_the_wiki_option_chooses_the_wiki_read(sqlite_session_factory: Sessions) -> None:
    main = FakeSuggestWiki(recent=[RecentChange("On main", "Alice")])
    second = FakeSuggestWiki(recent=[RecentChange("On second", "Bob")])
    async with await DiscordHarness.start(
        sqlite_session_factory,
        wikis={"default": FakeWiki(), "second": FakeWiki(api_url="https://2.example/w/api.php")},
        suggestions=suggesting({"default": main, "second": second}),
    ) as h:
        assert await typed(h, "page", page="On") == [("On main", "On main")]
        assert await typed(h, "page", page="On", wiki="second") == [("On second", "On second")]
        assert await typed(h, "user", user="", wiki="second") == [("Bob", "Bob")]
        assert await typed(h, "user", user="", wiki="elsewhere") == []


async def test_autocomplete_answers_while_a_rollback_holds_the_wiki(
    sqlite_session_factory: Sessions,
) -> None:
    """WIKI_MAX_CONCURRENCY=1 and a rollback POST the wiki has not answered yet: typing still
    gets its choices from the same client session."""
    release = asyncio.Event()
    posted = asyncio.Event()

    async def held_rollback(request: httpx.Request) -> httpx.Response:
        posted.set()
        await release.wait()
        return rollback_success()

    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        wiki = Wiki(mock)
        wiki.rollback.side_effect = held_rollback
        mock.get(API, params__contains={"list": "recentchanges"}).respond(
            json={"query": {"recentchanges": [{"title": "Sandbox", "user": "Vandal"}]}}
        )
        mock.get(API, params__contains={"list": "prefixsearch"}).respond(
            json={"query": {"prefixsearch": [{"ns": 0, "title": "Sandpit"}]}}
        )
        async with WikiClient(
            api_url=API,
            username=BOT_LOGIN,
            password=SecretStr(PASSWORD),
            user_agent=USER_AGENT,
            max_concurrency=1,
        ) as client:
            await client.login()
            # The rollback is in flight before the bot starts (so the harness's `settle`
            # waits for the autocomplete only).
            rollback = asyncio.create_task(client.rollback("Sandbox", "Vandal", summary=None))
            async with asyncio.timeout(5):
                await posted.wait()
            async with await DiscordHarness.start(
                sqlite_session_factory,
                suggestions=suggesting({"default": SuggestReads(client)}),
            ) as h:
                async with asyncio.timeout(2):
                    assert await typed(h, "page", page="Sand") == [
                        ("Sandbox", "Sandbox"),
                        ("Sandpit", "Sandpit"),
                    ]
                assert not rollback.done()  # the rollback still holds the client's slot
            release.set()
            async with asyncio.timeout(5):
                await rollback
