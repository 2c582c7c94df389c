"""`/rollback` autocomplete's reads against a real MediaWiki 1.39: title prefixes in every
namespace merged with recent changes, and the authors of a page's latest runs of edits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import devwiki
import pytest
from pydantic import SecretStr

from bot.services.outcomes import Actor
from bot.services.suggest import Suggestions
from bot.wiki.client import WikiClient
from bot.wiki.suggest_reads import SuggestReads
from tests.unit.services.suggest_fakes import FakeChooser

pytestmark = pytest.mark.integration

MOD = Actor(user_id=1, display_name="Mod", role_ids=frozenset({1}), guild_id=1)


@pytest.fixture
async def reads(wiki: devwiki.RunningWiki) -> AsyncIterator[SuggestReads]:
    login = wiki.rollbot_login
    async with WikiClient(
        api_url=wiki.api_url,
        username=login.username,
        password=SecretStr(login.password),
        user_agent=wiki.user_agent,
        max_concurrency=1,
    ) as client:
        await client.login()
        yield SuggestReads(client)


def suggestions(reads: SuggestReads) -> Suggestions:
    # cache_seconds=0: each call reads the wiki afresh.
    return Suggestions(wikis={"default": reads}, chooser=FakeChooser(), cache_seconds=0)


async def test_page_prefixes_in_every_namespace_recently_changed_first(
    wiki: devwiki.RunningWiki, reads: SuggestReads
) -> None:
    wiki.edit("Sandbox beta", "b")
    wiki.edit("Talk:Sandbox gamma", "g")
    wiki.edit("Sandbox alpha", "a")
    wiki.edit("User:Editor/Sandbox notes", "n")
    wiki.edit("Unrelated", "u", user="Vandal")

    prefixed = await reads.titles_with_prefix("Sandbox")
    assert set(prefixed) == {"Sandbox alpha", "Sandbox beta", "Talk:Sandbox gamma"}
    # A namespace prefix searches that namespace; the wiki capitalises the first letter.
    assert await reads.titles_with_prefix("user:Editor/S") == ["User:Editor/Sandbox notes"]

    found = [s.value for s in await suggestions(reads).pages(MOD, wiki=None, typed="sandbox")]
    # Recent changes match case-insensitively in the main namespace, newest first, then the
    # prefix search adds the rest.
    assert found[:2] == ["Sandbox alpha", "Sandbox beta"]
    assert set(found) == {"Sandbox alpha", "Sandbox beta", "Talk:Sandbox gamma"}
    recent = [s.value for s in await suggestions(reads).pages(MOD, wiki=None, typed="")]
    assert recent[:3] == ["Unrelated", "User:Editor/Sandbox notes", "Sandbox alpha"]


async def test_user_choices_are_the_latest_runs_and_hidden_names_are_left_out(
    wiki: devwiki.RunningWiki, reads: SuggestReads
) -> None:
    page = wiki.make_vandalised_page("Run page", "good", vandal_edits=3)
    pairs = [
        (s.name, s.value)
        for s in await suggestions(reads).users(MOD, wiki=None, page="Run_page", typed="")
    ]
    assert pairs == [
        ("Vandal — 3 latest edits", "Vandal"),
        ("Editor — 1 latest edit", "Editor"),
    ]
    assert await reads.page_authors("Run page") == ["Vandal", "Vandal", "Vandal", "Editor"]

    wiki.hide_user("Run page", page.vandal_revids[1])
    assert await reads.page_authors("Run page") == ["Vandal", None, "Vandal", "Editor"]
    pairs = [
        (s.name, s.value)
        for s in await suggestions(reads).users(MOD, wiki=None, page="Run page", typed="")
    ]
    assert pairs == [
        ("Vandal — 1 latest edit", "Vandal"),
        ("Editor — 1 latest edit", "Editor"),
    ]
    # Before a page is given: recent editors, newest first (then the installer's Main Page).
    editors = await suggestions(reads).users(MOD, wiki=None, page=None, typed="")
    assert [s.value for s in editors] == ["Vandal", "Editor", "MediaWiki default"]
    assert await suggestions(reads).users(MOD, wiki=None, page="No such page", typed="") == []
