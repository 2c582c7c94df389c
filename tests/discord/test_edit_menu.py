""" "Roll back this edit" through the real dispatch: feed messages (RcGcDw, Wiki-Bot) and member
messages in, the /rollback prompt (or one sentence, no buttons) out, every outcome recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.db.models import RollbackStatus
from bot.services.codes import BotCode
from bot.wiki.edits import Edit
from bot.wiki.results import Revision
from tests.discord.harness import (
    MOD,
    NOBODY,
    OTHER_MOD,
    DiscordHarness,
    Dispatched,
    button_custom_ids,
    confirm_id,
    embed_texts,
)
from tests.unit.services.fakes import T0, FakeWiki, ready_preview
from tests.unit.wiki import feed_messages as feeds

API = "https://wiki.example.org/w/api.php"
ARTICLE_URL = "https://wiki.example.org/wiki/$1"
TITLE = "Grand Canyon (Arizona)"


def rev(
    revid: int, user: str | None, *, sha1: str | None = None, tags: tuple[str, ...] = ()
) -> Revision:
    return Revision(
        revid=revid,
        parentid=revid - 1,
        user=user,
        timestamp=T0 + timedelta(minutes=revid % 1000),
        size=100,
        sha1=sha1,
        tags=tags,
    )


def edit(revid: int, user: str | None, title: str = TITLE, pageid: int = 42) -> Edit:
    return Edit(revision=rev(revid, user), pageid=pageid, title=title)


@pytest.fixture
def wiki() -> FakeWiki:
    """The wiki the feed fixtures link to (wiki.example.org), RcGcDw's edit on it by default:
    revision 1337 of page 42 by Vandal99, still the newest edit."""
    fake = FakeWiki(api_url=API)
    fake.edit_pages[1337] = edit(1337, "Vandal99")
    fake.later[1337] = (rev(1336, "Editor", sha1="before"), [], False)
    fake.previews = [ready_preview(title=TITLE, user="Vandal99", edits=1, top_revid=1337)]
    return fake


@pytest.fixture
def menu(harness: DiscordHarness) -> DiscordHarness:
    # meta=siteinfo's article path, so article-path links (Special:Diff, Wiki-Bot) are known.
    harness.bot.sites.set_name(
        "default", "Example Wiki", f"{ARTICLE_URL[:-2]}Main_Page", ARTICLE_URL
    )
    return harness


async def run_menu(h: DiscordHarness, message: dict[str, Any], person: Any = MOD) -> Dispatched:
    dispatched = h.send(h.message_command_payload(person, message))
    await h.settle()
    return dispatched


def shown(run: Dispatched) -> str:
    message = run.original_message
    return " ".join(
        [
            message.get("content") or "",
            *(t for e in message.get("embeds", []) for t in embed_texts(e)),
        ]
    )


@pytest.mark.parametrize(
    ("message", "title", "revid"),
    [
        pytest.param(feeds.RCGCDW_EMBED_EDIT, TITLE, 1337, id="rcgcdw-embed"),
        pytest.param(feeds.RCGCDW_COMPACT_EDIT, TITLE, 1337, id="rcgcdw-compact"),
        pytest.param(feeds.WIKIBOT_RC_EDIT, "Main Page", 2001, id="wikibot-feed"),
        pytest.param(feeds.WIKIBOT_DIFF_EDIT, "Main Page", 2001, id="wikibot-diff"),
        pytest.param(feeds.MEMBER_MARKDOWN, TITLE, 1337, id="member-special-diff"),
        pytest.param(feeds.MEMBER_ANGLE, TITLE, 1337, id="member-diff-prev"),
    ],
)
async def test_a_feed_message_opens_the_rollback_prompt_of_the_edits_author(
    menu: DiscordHarness, wiki: FakeWiki, message: dict[str, Any], title: str, revid: int
) -> None:
    wiki.edit_pages[revid] = edit(revid, "Vandal99", title=title, pageid=revid)
    wiki.later[revid] = (rev(revid - 2, "Editor", sha1="before"), [], False)
    wiki.previews = [ready_preview(title=title, user="Vandal99", edits=1, top_revid=revid)]

    run = await run_menu(menu, message)

    assert run.callback.ephemeral
    prompt = run.original_message
    [request_id] = [row.id for row in await menu.rows()]
    assert request_id is not None
    assert confirm_id(request_id) in button_custom_ids(prompt["components"])
    # The page and the author come from the wiki, not from the message's text.
    assert wiki.preview_calls == [(title, "Vandal99")]
    assert wiki.edit_calls == [[revid]]  # one read of the linked revision
    row = await menu.row(request_id)
    assert (row.page_title, row.target_user) == (title, "Vandal99")
    assert row.status == RollbackStatus.PENDING

    click = await menu.click(MOD, confirm_id(request_id), message=prompt)
    assert click.requests[-1].embed["title"] == "Rolled back"
    assert [call["user"] for call in wiki.rollback_calls] == ["Vandal99"]
    assert (await menu.row(request_id)).status == RollbackStatus.SUCCEEDED


async def test_newer_edits_by_others_are_one_sentence_and_no_buttons(
    menu: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.later[1337] = (rev(1336, "Editor", sha1="before"), [rev(1338, "Helper", sha1="x")], False)

    run = await run_menu(menu, feeds.RCGCDW_EMBED_EDIT)

    assert "1 newer edits by others since" in shown(run)
    assert not button_custom_ids(run.original_message.get("components", []))
    assert wiki.preview_calls == []
    assert wiki.rollback_calls == []
    [row] = await menu.rows()
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, BotCode.NEWEREDITS)
    assert (row.page_title, row.target_user) == (TITLE, "Vandal99")
    [post] = menu.log_posts()
    assert "1 newer edits by others since revision 1337" in " ".join(embed_texts(post.embed))


async def test_an_edit_already_reverted_says_by_whom_and_when(
    menu: DiscordHarness, wiki: FakeWiki
) -> None:
    revert = rev(1338, "Patroller", sha1="before", tags=("mw-rollback",))
    wiki.later[1337] = (rev(1336, "Editor", sha1="before"), [revert], False)

    run = await run_menu(menu, feeds.RCGCDW_COMPACT_EDIT)

    text = shown(run)
    assert "already reverted by [Patroller](" in text
    assert f"<t:{int(revert.timestamp.timestamp())}:f>" in text
    assert not button_custom_ids(run.original_message.get("components", []))
    [row] = await menu.rows()
    assert row.error_code == BotCode.ALREADYREVERTED


async def test_a_later_edit_that_reverted_someone_else_is_not_taken_for_a_revert(
    menu: DiscordHarness, wiki: FakeWiki
) -> None:
    """Vandal99's edit, then another vandal's, then a rollback of that one only: the content
    comes back to Vandal99's version, not to what was before it."""
    later = [rev(1338, "Other"), rev(1339, "Patroller", sha1="vandal99s", tags=("mw-rollback",))]
    wiki.later[1337] = (rev(1336, "Editor", sha1="before"), later, False)

    run = await run_menu(menu, feeds.RCGCDW_EMBED_EDIT)

    assert "2 newer edits by others since" in shown(run)
    assert "already reverted" not in shown(run)


async def test_a_hidden_author_is_never_guessed(menu: DiscordHarness, wiki: FakeWiki) -> None:
    wiki.edit_pages[1337] = edit(1337, None)

    run = await run_menu(menu, feeds.RCGCDW_EMBED_EDIT)

    assert "the author of this edit is hidden" in shown(run)
    assert wiki.preview_calls == []
    assert wiki.rollback_calls == []
    [row] = await menu.rows()
    assert (row.error_code, row.target_user) == (BotCode.HIDDENAUTHOR, "")


async def test_an_edit_of_a_deleted_page(menu: DiscordHarness, wiki: FakeWiki) -> None:
    wiki.edit_pages.clear()  # the API lists the revision under badrevids

    run = await run_menu(menu, feeds.RCGCDW_EMBED_EDIT)

    assert "the page was deleted" in shown(run)
    [row] = await menu.rows()
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, BotCode.EDITGONE)
    assert row.page_title == "(revision 1337)"


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(feeds.MEMBER_NO_EDIT, id="links-but-no-edit"),
        pytest.param(feeds.MEMBER_OTHER_WIKI, id="other-wikis-only"),
    ],
)
async def test_a_message_without_a_usable_link_gets_one_sentence(
    menu: DiscordHarness, wiki: FakeWiki, message: dict[str, Any]
) -> None:
    run = await run_menu(menu, message)

    assert run.callback.ephemeral
    assert "I found no link to an edit on Example Wiki" in (run.callback.content or "")
    assert not button_custom_ids(run.callback.components or [])
    assert wiki.edit_calls == []
    assert await menu.rows() == []


async def test_a_member_without_the_role_is_denied_and_recorded(
    menu: DiscordHarness, wiki: FakeWiki
) -> None:
    run = await run_menu(menu, feeds.RCGCDW_EMBED_EDIT, person=NOBODY)

    assert "you need one of these roles" in (run.callback.content or "")
    assert wiki.edit_calls == []
    [row] = await menu.rows()
    assert (row.status, row.error_code) == (RollbackStatus.DENIED, BotCode.MISSINGROLE)
    assert row.page_title == TITLE  # from the link itself: the wiki was not asked


async def test_links_to_one_page_take_the_newest_edit(menu: DiscordHarness, wiki: FakeWiki) -> None:
    for revid in (1399, 1400, 1401):
        wiki.edit_pages[revid] = edit(revid, "203.0.113.7", title="Café", pageid=7)
    wiki.later[1401] = (rev(1400, "203.0.113.7", sha1="x"), [], False)
    wiki.previews = [ready_preview(title="Café", user="203.0.113.7", edits=3, top_revid=1401)]

    run = await run_menu(menu, feeds.MEMBER_SEVERAL)

    assert wiki.preview_calls == [("Café", "203.0.113.7")]
    [row] = await menu.rows()
    assert row.status == RollbackStatus.PENDING
    assert confirm_id(row.id or 0) in button_custom_ids(run.original_message["components"])


async def test_links_to_several_pages_offer_a_choice_to_the_asker_only(
    menu: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.edit_pages[1400] = edit(1400, "203.0.113.7", title="Café", pageid=7)
    wiki.edit_pages[1401] = edit(1401, "Vandal2", title="Bistro", pageid=8)
    wiki.later[1400] = (rev(1399, "Editor"), [], False)
    wiki.previews = [ready_preview(title="Café", user="203.0.113.7", edits=1, top_revid=1400)]

    run = await run_menu(menu, feeds.MEMBER_SEVERAL)

    message = run.original_message
    assert "links edits to 2 pages" in (message.get("content") or "")
    [menu_row] = message["components"]
    [select] = menu_row["components"]
    assert select["custom_id"] == f"rollbot:edit:{MOD.user_id}"
    assert {o["label"] for o in select["options"]} == {"Café", "Bistro"}
    assert await menu.rows() == []

    other = menu.send(
        menu.select_payload(OTHER_MOD, select["custom_id"], ["default:1400"], message=message)
    )
    await menu.settle()
    assert "belongs to someone else" in (other.callback.content or "")
    assert wiki.preview_calls == []

    menu.send(menu.select_payload(MOD, select["custom_id"], ["default:1400"], message=message))
    await menu.settle()
    assert wiki.preview_calls == [("Café", "203.0.113.7")]
    [row] = await menu.rows()
    assert (row.page_title, row.status) == ("Café", RollbackStatus.PENDING)
    prompt = menu.discord.message(int(message["id"]))
    assert confirm_id(row.id or 0) in button_custom_ids(prompt["components"])


async def test_a_forged_choice_of_a_wiki_the_server_may_not_use_is_refused(
    menu: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.edit_pages[1400] = edit(1400, "203.0.113.7", title="Café", pageid=7)
    wiki.edit_pages[1401] = edit(1401, "Vandal2", title="Bistro", pageid=8)
    run = await run_menu(menu, feeds.MEMBER_SEVERAL)
    message = run.original_message
    custom_id = message["components"][0]["components"][0]["custom_id"]

    menu.send(menu.select_payload(MOD, custom_id, ["elsewhere:1400"], message=message))
    await menu.settle()

    assert wiki.preview_calls == []
    [row] = await menu.rows()
    assert (row.status, row.error_code) == (RollbackStatus.DENIED, BotCode.WIKINOTALLOWED)
