"""`/rollback` autocomplete choices without Discord: order, labels, limits, cache, timeout."""

from __future__ import annotations

import asyncio

from bot.services.outcomes import Actor
from bot.services.suggest import (
    EditRun,
    Suggestion,
    Suggestions,
    latest_runs,
    run_label,
)
from bot.wiki.errors import WikiTransportError
from bot.wiki.suggest_reads import RecentChange
from tests.unit.services.suggest_fakes import Deadlines, FakeChooser, FakeSuggestWiki

MOD = Actor(user_id=1, display_name="Mod", role_ids=frozenset({5}), guild_id=10)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    wikis: dict[str, FakeSuggestWiki] | None = None,
    *,
    chooser: FakeChooser | None = None,
    clock: Clock | None = None,
    deadline: Deadlines | None = None,
) -> Suggestions:
    wikis = wikis if wikis is not None else {"default": FakeSuggestWiki()}
    return Suggestions(
        wikis=wikis,
        chooser=chooser or FakeChooser(allowed=tuple(wikis)),
        clock=clock or Clock(),
        **({"deadline": deadline} if deadline is not None else {}),
    )


def pairs(found: list[Suggestion]) -> list[tuple[str, str]]:
    return [(s.name, s.value) for s in found]


def values(found: list[Suggestion]) -> list[str]:
    return [s.value for s in found]


# ---- runs and labels ---------------------------------------------------------------------------


def test_latest_runs_top_editor_first_each_user_once_with_their_latest_run() -> None:
    authors = ["Vandal", "Vandal", "Vandal", "Alice", None, "Bob", "Vandal", "Alice", "Alice"]
    assert latest_runs(authors) == [
        EditRun("Vandal", 3),
        EditRun("Alice", 1),
        EditRun("Bob", 1),
    ]


def test_hidden_names_are_never_offered_and_end_a_run() -> None:
    assert latest_runs([None, None, "Vandal", None, "Vandal"]) == [EditRun("Vandal", 1)]
    assert latest_runs([]) == []


def test_labels_say_the_run_length_singular_and_fit_100_characters() -> None:
    assert run_label(EditRun("Vandal", 3)) == "Vandal — 3 latest edits"
    assert run_label(EditRun("Vandal", 1)) == "Vandal — 1 latest edit"
    long = run_label(EditRun("V" * 99, 12))
    assert len(long) == 100
    assert long.endswith("… — 12 latest edits")


# ---- pages -------------------------------------------------------------------------------------


async def test_pages_recently_changed_first_then_prefix_matches_without_repeats() -> None:
    wiki = FakeSuggestWiki(
        recent=[
            RecentChange("Sandbox", "Vandal"),
            RecentChange("Main Page", "Alice"),
            RecentChange("Sand castle", "Bob"),
            RecentChange("Sandbox", "Alice"),
        ],
        titles=["Sand", "Sand castle", "Sandbox", "Sandpaper", "Talk:Sandbox"],
    )
    found = await make({"default": wiki}).pages(MOD, wiki=None, typed="sand")
    assert values(found) == ["Sandbox", "Sand castle", "Sand", "Sandpaper"]
    assert pairs(found)[0] == ("Sandbox", "Sandbox")
    assert ("prefix", "sand") in wiki.calls


async def test_pages_with_nothing_typed_are_the_recently_changed_ones() -> None:
    wiki = FakeSuggestWiki(recent=[RecentChange("B", "x"), RecentChange("A", "y")])
    assert values(await make({"default": wiki}).pages(MOD, wiki=None, typed="  ")) == ["B", "A"]
    assert [kind for kind, _ in wiki.calls] == ["recent"]  # no prefix search of nothing


async def test_typed_underscores_and_case_match_recent_titles() -> None:
    wiki = FakeSuggestWiki(recent=[RecentChange("User talk:Alice", "Bob")])
    found = await make({"default": wiki}).pages(MOD, wiki=None, typed="user_TALK:a")
    assert values(found) == ["User talk:Alice"]


async def test_at_most_25_choices_and_overlong_titles_left_out() -> None:
    titles = [f"Page {n:02}" for n in range(40)]
    wiki = FakeSuggestWiki(titles=["Page " + "x" * 96, *titles])
    found = await make({"default": wiki}).pages(MOD, wiki=None, typed="Page")
    assert values(found) == titles[:25]


async def test_a_pasted_diff_link_offers_the_page_it_points_to() -> None:
    wiki = FakeSuggestWiki(titles=["Http"], revision_pages={5: "Moved Page"})
    wiki.authors["Moved Page"] = ["Vandal", "Vandal", "Editor"]
    suggestions = make({"default": wiki})

    found = await suggestions.pages(MOD, wiki=None, typed=" https://w.example/w/index.php?diff=5 ")
    assert values(found) == ["Moved Page"]  # the revision's page, asked of the wiki
    found = await suggestions.pages(
        MOD, wiki=None, typed="https://w.example/w/index.php?title=Some_Page&oldid=6"
    )
    assert values(found) == []  # no such revision: nothing, not the title in the URL
    found = await suggestions.pages(MOD, wiki=None, typed="https://w.example/wiki/Special:Diff/5")
    assert values(found) == ["Moved Page"]
    # The user option follows a page given as a pasted link too.
    found = await suggestions.users(
        MOD, wiki=None, page="https://w.example/wiki/Special:PermanentLink/5", typed=""
    )
    assert values(found) == ["Vandal", "Editor"]
    assert ("prefix", "https://w.example/w/index.php?diff=5") not in wiki.calls


async def test_a_pasted_link_to_another_site_offers_nothing_and_reads_nothing() -> None:
    wiki = FakeSuggestWiki(titles=["Http"])
    suggestions = make({"default": wiki})
    assert await suggestions.pages(MOD, wiki=None, typed="https://elsewhere.example/?diff=5") == []
    found = await suggestions.users(MOD, wiki=None, page="http://elsewhere.example/x", typed="")
    assert found == []
    assert wiki.calls == []


# ---- users -------------------------------------------------------------------------------------


async def test_users_of_a_page_are_its_latest_runs_labelled() -> None:
    wiki = FakeSuggestWiki(
        authors={"Sandbox": ["Vandal", "Vandal", "Vandal", None, "Alice", "Vandal", "Bob"]}
    )
    found = await make({"default": wiki}).users(MOD, wiki=None, page=" Sandbox ", typed="")
    assert pairs(found) == [
        ("Vandal — 3 latest edits", "Vandal"),
        ("Alice — 1 latest edit", "Alice"),
        ("Bob — 1 latest edit", "Bob"),
    ]
    filtered = await make({"default": wiki}).users(MOD, wiki=None, page="Sandbox", typed="LIC")
    assert values(filtered) == ["Alice"]


async def test_users_of_a_missing_or_invalid_page_are_none() -> None:
    wiki = FakeSuggestWiki()
    suggestions = make({"default": wiki})
    assert await suggestions.users(MOD, wiki=None, page="Nowhere", typed="") == []
    assert await suggestions.users(MOD, wiki=None, page="Special:Log", typed="") == []


async def test_before_a_page_is_given_users_are_recent_editors_without_hidden_ones() -> None:
    wiki = FakeSuggestWiki(
        recent=[
            RecentChange("A", "Vandal"),
            RecentChange("B", None),
            RecentChange("C", "Alice"),
            RecentChange("D", "Vandal"),
            RecentChange("E", "192.0.2.7"),
        ]
    )
    suggestions = make({"default": wiki})
    assert pairs(await suggestions.users(MOD, wiki=None, page=None, typed="")) == [
        ("Vandal", "Vandal"),
        ("Alice", "Alice"),
        ("192.0.2.7", "192.0.2.7"),
    ]
    assert values(await suggestions.users(MOD, wiki=None, page="", typed="al")) == [
        "Vandal",
        "Alice",
    ]


# ---- which wiki --------------------------------------------------------------------------------


async def test_the_wiki_option_picks_an_allowed_wiki_else_the_default() -> None:
    main = FakeSuggestWiki(recent=[RecentChange("On main", "x")])
    second = FakeSuggestWiki(recent=[RecentChange("On second", "y")])
    suggestions = make({"default": main, "second": second})
    assert values(await suggestions.pages(MOD, wiki=None, typed="")) == ["On main"]
    assert values(await suggestions.pages(MOD, wiki=" Second", typed="")) == ["On second"]


async def test_a_wiki_the_server_may_not_use_or_a_member_without_the_role_gets_nothing() -> None:
    main = FakeSuggestWiki(recent=[RecentChange("P", "x")])
    second = FakeSuggestWiki(recent=[RecentChange("Q", "y")])
    limited = make({"default": main, "second": second}, chooser=FakeChooser(allowed=["default"]))
    assert await limited.pages(MOD, wiki="second", typed="") == []
    assert await limited.pages(MOD, wiki="nonsense", typed="") == []
    assert second.calls == []
    nobody = make({"default": main}, chooser=FakeChooser(authorized=False))
    assert await nobody.users(MOD, wiki=None, page=None, typed="") == []
    none_at_all = make({"default": main}, chooser=FakeChooser(allowed=()))
    assert await none_at_all.pages(MOD, wiki=None, typed="") == []
    assert main.calls == []


# ---- cache -------------------------------------------------------------------------------------


async def test_reads_are_cached_a_few_seconds_per_wiki_and_query() -> None:
    clock = Clock()
    main = FakeSuggestWiki(recent=[RecentChange("Sandbox", "Vandal")], titles=["Sandbox"])
    second = FakeSuggestWiki(recent=[RecentChange("Other", "Alice")])
    suggestions = make({"default": main, "second": second}, clock=clock)
    await suggestions.pages(MOD, wiki=None, typed="S")
    await suggestions.pages(MOD, wiki=None, typed="Sa")  # recent changes re-used
    await suggestions.users(MOD, wiki=None, page=None, typed="V")  # ... by users too
    await suggestions.pages(MOD, wiki=None, typed="S")  # fully cached
    assert main.calls == [("recent", ""), ("prefix", "S"), ("prefix", "Sa")]
    await suggestions.pages(MOD, wiki="second", typed="")  # another wiki: its own entry
    assert second.calls == [("recent", "")]
    clock.now += 5.1
    await suggestions.pages(MOD, wiki=None, typed="S")
    assert main.calls[3:] == [("recent", ""), ("prefix", "S")]


async def test_a_failed_read_gives_nothing_and_is_not_cached() -> None:
    wiki = FakeSuggestWiki(
        recent=[RecentChange("P", "x")], error=WikiTransportError("down", ambiguous=False)
    )
    suggestions = make({"default": wiki})
    assert await suggestions.pages(MOD, wiki=None, typed="") == []
    wiki.error = None
    assert values(await suggestions.pages(MOD, wiki=None, typed="")) == ["P"]
    assert len(wiki.calls) == 2


# ---- timeout -----------------------------------------------------------------------------------


async def test_a_slow_wiki_gives_an_empty_answer_at_the_deadline() -> None:
    deadlines = Deadlines()
    wiki = FakeSuggestWiki(recent=[RecentChange("P", "x")], hold=asyncio.Event())
    suggestions = make({"default": wiki}, deadline=deadlines)
    answer = asyncio.create_task(suggestions.users(MOD, wiki=None, page=None, typed=""))
    async with asyncio.timeout(5):
        await wiki.started.wait()
    assert not answer.done()  # still waiting on the wiki
    deadlines.expire()
    async with asyncio.timeout(5):
        assert await answer == []
    assert deadlines.asked == [2.5]
    # Nothing was cached from the abandoned read: once the wiki answers, so do we.
    wiki.hold = None
    assert values(await suggestions.users(MOD, wiki=None, page=None, typed="")) == ["x"]


async def test_the_real_deadline_cuts_a_wiki_that_never_answers() -> None:
    wiki = FakeSuggestWiki(hold=asyncio.Event())
    suggestions = Suggestions(wikis={"default": wiki}, chooser=FakeChooser(), timeout=0.01)
    async with asyncio.timeout(5):
        assert await suggestions.pages(MOD, wiki=None, typed="x") == []
