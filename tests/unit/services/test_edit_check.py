"""`check_edit` and `revid_of`: from a linked revision to "roll back its author" or why not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services.codes import BotCode
from bot.services.edit_check import check_edit
from bot.services.edit_requests import revid_of
from bot.wiki.difflinks import EditLink
from bot.wiki.edits import Edit
from bot.wiki.results import Revision
from tests.unit.services.fakes import T0, FakeWiki


def rev(revid: int, user: str | None, sha1: str = "", tags: tuple[str, ...] = ()) -> Revision:
    return Revision(
        revid=revid,
        parentid=revid - 1,
        user=user,
        timestamp=T0 + timedelta(minutes=revid),
        size=1,
        sha1=sha1 or f"sha-{revid}",
        tags=tags,
    )


def wiki_with(
    edit_user: str | None, later: list[Revision], *, tags: tuple[str, ...] = ()
) -> FakeWiki:
    wiki = FakeWiki()
    revision = Revision(
        revid=10, parentid=9, user=edit_user, timestamp=T0, size=1, sha1="sha-10", tags=tags
    )
    wiki.edit_pages[10] = Edit(revision=revision, pageid=5, title="Page")
    wiki.later[10] = (rev(9, "Editor", "good"), later, False)
    return wiki


async def test_the_author_still_on_top_may_be_rolled_back() -> None:
    check = await check_edit(wiki_with("vandal", [rev(11, "Vandal")]), 10)
    assert check.code is None
    assert check.author == "Vandal"  # as the wiki spells it
    assert check.message == ""


async def test_gone() -> None:
    check = await check_edit(FakeWiki(), 10)
    assert check.code is BotCode.EDITGONE
    assert "the page was deleted" in check.message


async def test_hidden_author() -> None:
    check = await check_edit(wiki_with(None, []), 10)
    assert check.code is BotCode.HIDDENAUTHOR
    assert check.author is None


async def test_newer_edits_by_others_counted() -> None:
    later = [rev(11, "Vandal"), rev(12, "Helper"), rev(13, "Other")]
    check = await check_edit(wiki_with("Vandal", later), 10)
    assert check.code is BotCode.NEWEREDITS
    assert check.newer_by_others == 2
    assert check.message == "2 newer edits by others since revision 10."


async def test_a_revert_brings_back_the_parents_content() -> None:
    undo = rev(12, "Patroller", sha1="good", tags=("mw-undo",))
    check = await check_edit(wiki_with("Vandal", [rev(11, "Vandal"), undo]), 10)
    assert check.code is BotCode.ALREADYREVERTED
    assert check.reverted_by == undo
    assert "already reverted by Patroller" in check.message


async def test_a_manual_revert_without_a_tag_is_still_a_revert() -> None:
    by_hand = rev(11, "Patroller", sha1="good")
    check = await check_edit(wiki_with("Vandal", [by_hand]), 10)
    assert check.reverted_by == by_hand


async def test_a_revert_of_a_later_edit_is_not_a_revert_of_this_one() -> None:
    later = [rev(11, "Other"), rev(12, "Patroller", sha1="sha-10", tags=("mw-rollback",))]
    check = await check_edit(wiki_with("Vandal", later), 10)
    assert check.code is BotCode.NEWEREDITS


async def test_the_reverted_tag_alone_says_reverted() -> None:
    later = [rev(11, "Other"), rev(12, "Patroller", tags=("mw-rollback",))]
    check = await check_edit(wiki_with("Vandal", later, tags=("mw-reverted",)), 10)
    assert check.code is BotCode.ALREADYREVERTED
    assert check.reverted_by is not None
    assert check.reverted_by.revid == 12


def link(**fields: object) -> EditLink:
    values: dict[str, object] = {
        "wiki": "default",
        "url": "u",
        "revid": None,
        "oldid": None,
        "relative": None,
        "title": None,
        "pageid": None,
    }
    values.update(fields)
    return EditLink(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"revid": 12, "oldid": 11}, 12),
        ({"revid": 11, "oldid": 12}, 12),  # MediaWiki shows the newer side as the edit
        ({"revid": 12}, 12),
        ({"oldid": 12}, 12),  # a permanent link
        ({"relative": "prev", "oldid": 12}, 12),
        ({"relative": "next", "oldid": 12}, 13),
        ({"relative": "cur", "oldid": 12}, 20),
        ({"relative": "next", "oldid": 20}, None),  # nothing after the newest
        ({"relative": "prev", "title": "Page"}, None),
    ],
)
async def test_revid_of(fields: dict[str, object], expected: int | None) -> None:
    wiki = FakeWiki()
    wiki.relatives = {(12, "next"): 13, (12, "cur"): 20}
    assert await revid_of(wiki, link(**fields)) == expected


async def test_an_author_name_the_bot_would_not_accept_as_typed_is_the_wikis_spelling() -> None:
    """Found by the fuzz: a name the wiki reports is authoritative even where the bot's own
    input normalisation would refuse it (here a `/`, which it refuses as an IP range)."""
    check = await check_edit(wiki_with("Weird/Name", [rev(11, "Weird/Name")]), 10)
    assert check.code is None
    assert check.author == "Weird/Name"
