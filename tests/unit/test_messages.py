"""The sentences moderators read for the bot's own codes that concern a wiki."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.codes import BotCode
from bot.services.edit_check import EditCheck
from bot.ui.edit_refusal import edit_refused_embed
from bot.ui.embeds import refused_embed
from bot.ui.messages import describe_error
from bot.wiki.edits import Edit
from bot.wiki.results import Revision
from tests.unit.services.fakes import FakeWiki


def test_an_unavailable_wiki_is_named_then_explained() -> None:
    text = describe_error(
        BotCode.WIKIUNAVAILABLE, "wiki fr is unavailable: the wiki could not be reached"
    )

    first, second = text.split("\n")
    # Escaped for Discord's Markdown (`\:` shows as `:`).
    assert first.replace("\\", "") == "wiki fr is unavailable: the wiki could not be reached"
    assert second == BotCode.WIKIUNAVAILABLE.sentence


def test_without_a_message_the_general_sentence() -> None:
    assert describe_error(BotCode.WIKINOTALLOWED) == BotCode.WIKINOTALLOWED.sentence


def test_the_refusal_embed_says_it_once() -> None:
    row = RollbackRequest(
        id=5,
        guild_id=1,
        channel_id=2,
        requester_id=3,
        requester_name="Mod",
        wiki="fr",
        wiki_api_url="",
        page_title="Main Page",
        target_user="Vandal",
        status=RollbackStatus.FAILED,
        error_code=BotCode.WIKIUNAVAILABLE,
        error_message="wiki fr is unavailable: the wiki refused the bot's login",
    )

    embed = refused_embed(row, FakeWiki(), wiki="fr").to_dict()

    texts = [embed.get("description", "")] + [field["value"] for field in embed.get("fields", [])]
    assert sum("wiki fr is unavailable" in text for text in texts) == 1
    assert embed["footer"]["text"] == "Request #5 · wikiunavailable"


def test_an_edit_refusal_fits_discords_limits_with_the_longest_title() -> None:
    """Found by the fuzz: a 255-character non-Latin title made a Page link of 2,000+ characters
    and Discord refused the embed (field values are limited to 1,024)."""
    title = "漢" * 255
    revision = Revision(12, 11, "ж" * 85, datetime(2026, 1, 1, tzinfo=UTC), 1)
    check = EditCheck(12, Edit(revision, 7, title), BotCode.NEWEREDITS, newer_by_others=1)
    row = RollbackRequest(
        id=5,
        guild_id=1,
        channel_id=2,
        requester_id=3,
        requester_name="Mod",
        wiki="default",
        wiki_api_url="",
        page_title=title,
        target_user=revision.user or "",
        status=RollbackStatus.FAILED,
        error_code=BotCode.NEWEREDITS,
        error_message=check.message,
    )

    embed = edit_refused_embed(row, check, FakeWiki(), wiki="Wiki " * 300).to_dict()

    assert all(len(field["value"]) <= 1024 for field in embed["fields"])
    assert len(embed["description"]) <= 4096
    assert "1 newer edits by others since" in embed["description"]
