"""The sentences moderators read for the bot's own codes that concern a wiki."""

from __future__ import annotations

from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.codes import BotCode
from bot.ui.embeds import refused_embed
from bot.ui.messages import describe_error
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
