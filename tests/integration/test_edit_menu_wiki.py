""" "Roll back this edit" end to end: a member's message with a diff link to the real dev wiki,
through the real dispatch (Discord faked as in tests/discord), the real client and database.

Fresh edit → prompt → Confirm → the wiki's history shows the bot's rollback; someone edited
since, already rolled back, page deleted, author hidden → one sentence, no buttons, nothing
changed on the wiki, a `failed` row with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import devwiki
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import app
from bot.db.models import RollbackStatus
from bot.discord_bot import RollBot
from bot.services.codes import BotCode
from bot.services.guild_settings import GuildDefaults, GuildSettingsService
from bot.services.history import HistoryService
from bot.services.rollback import RollbackService
from bot.wiki.client import ROLLBACK_TAG, WikiClient
from tests.discord.harness import (
    CHANNEL_ID,
    CONFIRM_TIMEOUT,
    GUILD_ID,
    LOG_CHANNEL_ID,
    MOD,
    MOD_ROLE_ID,
    DiscordHarness,
    Dispatched,
    FakeDiscord,
    button_custom_ids,
    confirm_id,
    embed_texts,
    text_channel_payload,
)
from tests.unit.services.fakes import Clock, FakeWiki

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


class WikiHarness(DiscordHarness):
    """The real bot over one real `WikiClient`, wired as `bot.app.main` wires it."""

    SETTLE_TIMEOUT = 60.0

    @classmethod
    async def serving(cls, sessions: Sessions, client: WikiClient) -> WikiHarness:
        settings = GuildSettingsService(
            sessions=sessions,
            defaults=GuildDefaults(
                log_channel_id=LOG_CHANNEL_ID,
                rollback_role_ids=frozenset({MOD_ROLE_ID}),
                wiki_guilds={"default": None},
            ),
        )
        service = RollbackService(
            wikis={"default": client},
            access=settings,
            sessions=sessions,
            roles=settings,
            confirm_timeout=CONFIRM_TIMEOUT,
        )
        api = FakeDiscord()
        api.add_channel(text_channel_payload(CHANNEL_ID, "moderators", 0))
        api.add_channel(text_channel_payload(LOG_CHANNEL_ID, "rollback-log", 1))
        bot = RollBot(
            service=service,
            sessions=sessions,
            links=await app._sites({"default": client}),  # meta=siteinfo, as at start
            guild_ids=[GUILD_ID],
            guild_settings=settings,
            history=HistoryService(sessions=sessions),
            sweep_seconds=3600,
            log_sweep_seconds=3600,
        )
        h = cls(
            bot=bot,
            service=service,
            wiki=FakeWiki(),  # unused: the service holds the real client
            clock=Clock(),
            discord_api=api,
            sessions=sessions,
        )
        logging.getLogger("discord").addHandler(h._library_errors)
        await h._login()
        await h.connect()
        return h


@pytest.fixture
async def bot_on_wiki(
    wiki: devwiki.RunningWiki, sqlite_session_factory: Sessions
) -> AsyncIterator[WikiHarness]:
    login = wiki.rollbot_login
    async with WikiClient(
        api_url=wiki.api_url,
        username=login.username,
        password=SecretStr(login.password),
        user_agent=wiki.user_agent,
    ) as client:
        await client.login()
        h = await WikiHarness.serving(sqlite_session_factory, client)
        try:
            yield h
            await h.settle()
            h.check_invariants()
        finally:
            await h.close()


def member_message(content: str, message_id: int = 1_500_000_000_000_000_001) -> dict[str, Any]:
    return {
        "id": str(message_id),
        "channel_id": str(CHANNEL_ID),
        "author": {"id": "1600000000000000001", "username": "patroller", "discriminator": "0"},
        "content": content,
        "timestamp": "2026-12-01T12:00:00.000000+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        "components": [],
    }


async def run_menu(h: WikiHarness, content: str) -> Dispatched:
    dispatched = h.send(h.message_command_payload(MOD, member_message(content)))
    await h.settle()
    return dispatched


def shown(run: Dispatched) -> str:
    message = run.original_message
    texts = [t for embed in message.get("embeds", []) for t in embed_texts(embed)]
    return " ".join([message.get("content") or "", *texts])


def diff_link(wiki: devwiki.RunningWiki, revid: int, oldid: int) -> str:
    return f"{wiki.index_url}?diff={revid}&oldid={oldid}"


async def test_a_fresh_edit_is_rolled_back_from_its_diff_link(
    wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness
) -> None:
    page = wiki.make_vandalised_page("Feed Fresh", "Good text.", vandal_edits=2)
    first, last = page.vandal_revids

    # A feed posts the first vandal edit; the whole run of the vandal is offered.
    run = await run_menu(bot_on_wiki, f"vandalism: <{diff_link(wiki, first, page.good_revid)}>")

    [row] = await bot_on_wiki.rows()
    assert (row.page_title, row.target_user) == ("Feed Fresh", wiki.vandal.name)
    assert row.top_revid == last
    prompt = run.original_message
    assert confirm_id(row.id or 0) in button_custom_ids(prompt["components"])

    await bot_on_wiki.click(MOD, confirm_id(row.id or 0), message=prompt)
    row = await bot_on_wiki.row(row.id or 0)
    assert row.status == RollbackStatus.SUCCEEDED
    newest = wiki.revisions("Feed Fresh")[0]
    assert ROLLBACK_TAG in newest.tags
    assert newest.revid == row.revid


async def test_special_diff_under_the_article_path(
    wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness
) -> None:
    page = wiki.make_vandalised_page("Feed Special", "Good text.", vandal_edits=1)
    [revid] = page.vandal_revids
    article = bot_on_wiki.bot.sites.site("default")
    assert article is not None
    assert article.article_url is not None  # from the real wiki's siteinfo
    link = article.article_url.replace("$1", f"Special:Diff/{revid}")

    run = await run_menu(bot_on_wiki, f"see {link}")

    [row] = await bot_on_wiki.rows()
    assert row.status == RollbackStatus.PENDING
    assert confirm_id(row.id or 0) in button_custom_ids(run.original_message["components"])


async def test_someone_edited_since(wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness) -> None:
    page = wiki.make_vandalised_page("Feed Later", "Good text.", vandal_edits=1)
    [revid] = page.vandal_revids
    wiki.edit("Feed Later", "Fixed by hand, and more.", user=wiki.editor.name)
    before = wiki.revisions("Feed Later")

    run = await run_menu(bot_on_wiki, diff_link(wiki, revid, page.good_revid))

    assert "1 newer edits by others since" in shown(run)
    assert not button_custom_ids(run.original_message.get("components", []))
    [row] = await bot_on_wiki.rows()
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, BotCode.NEWEREDITS)
    assert wiki.revisions("Feed Later") == before


async def test_already_rolled_back(wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness) -> None:
    page = wiki.make_vandalised_page("Feed Reverted", "Good text.", vandal_edits=2)
    revert = wiki.rollback_as_admin("Feed Reverted", wiki.vandal.name)
    before = wiki.revisions("Feed Reverted")

    run = await run_menu(bot_on_wiki, diff_link(wiki, page.vandal_revids[0], page.good_revid))

    text = shown(run)
    assert f"already reverted by [{wiki.admin.name}](" in text
    assert f"diff={revert}" in text
    [row] = await bot_on_wiki.rows()
    assert row.error_code == BotCode.ALREADYREVERTED
    assert wiki.revisions("Feed Reverted") == before


async def test_a_deleted_page(wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness) -> None:
    page = wiki.make_vandalised_page("Feed Deleted", "Good text.", vandal_edits=1)
    wiki.delete("Feed Deleted")

    run = await run_menu(bot_on_wiki, diff_link(wiki, page.vandal_revids[0], page.good_revid))

    assert "the page was deleted" in shown(run)
    [row] = await bot_on_wiki.rows()
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, BotCode.EDITGONE)


async def test_a_hidden_author(wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness) -> None:
    page = wiki.make_vandalised_page("Feed Hidden", "Good text.", vandal_edits=1)
    [revid] = page.vandal_revids
    wiki.hide_user("Feed Hidden", revid)
    before = wiki.revisions("Feed Hidden")

    run = await run_menu(bot_on_wiki, diff_link(wiki, revid, page.good_revid))

    assert "the author of this edit is hidden" in shown(run)
    assert not button_custom_ids(run.original_message.get("components", []))
    [row] = await bot_on_wiki.rows()
    assert row.error_code == BotCode.HIDDENAUTHOR
    assert wiki.revisions("Feed Hidden") == before


@pytest.mark.parametrize("relative", ["next", "cur"])
async def test_diff_next_and_cur_are_resolved_by_the_wiki(
    wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness, relative: str
) -> None:
    title = f"Feed {relative.title()}"
    page = wiki.make_vandalised_page(title, "Good text.", vandal_edits=2)
    link = (
        f"{wiki.index_url}?title={title.replace(' ', '_')}&diff={relative}&oldid={page.good_revid}"
    )

    run = await run_menu(bot_on_wiki, link)

    [row] = await bot_on_wiki.rows()
    assert (row.page_title, row.target_user) == (title, wiki.vandal.name)
    assert confirm_id(row.id or 0) in button_custom_ids(run.original_message["components"])


async def test_a_revision_that_never_existed(
    wiki: devwiki.RunningWiki, bot_on_wiki: WikiHarness
) -> None:
    run = await run_menu(bot_on_wiki, f"{wiki.index_url}?diff=987654&oldid=987653")

    assert "the page was deleted" in shown(run)
    [row] = await bot_on_wiki.rows()
    assert row.error_code == BotCode.EDITGONE
