"""Wiki text is attacker-controlled: nothing the bot sends may ping, and embeds show it inert."""

from __future__ import annotations

import re

import pytest

from bot.wiki.errors import WikiAPIError
from tests.discord.harness import (
    MOD,
    MOD_ROLE_ID,
    NO_MENTIONS_PAYLOAD,
    NOBODY,
    DiscordHarness,
    SentRequest,
    embed_field,
)
from tests.unit.services.fakes import FakeWiki, ready_preview

pytestmark = pytest.mark.asyncio

REAL_ROLE = f"<@&{MOD_ROLE_ID}>"
REAL_USER = f"<@!{MOD.user_id}>"
EVIL = f"@everyone @here <@&123> {REAL_ROLE} {REAL_USER} **bold** __under__ [x](http://evil)"
EVIL_TITLE = f"Talk:@everyone {REAL_ROLE} **bold**"  # what a page title can hold
EVIL_USER = "@here **Vandal**"

# A mention Discord would render (and, outside an embed, could ping): `@` directly followed by
# the keyword or a snowflake. `escape_mentions` puts a zero-width space after the `@`.
_LIVE_MENTION = re.compile(r"@(everyone|here)\b|<@[!&]?\d{17,20}>")


def _embeds(requests: list[SentRequest]) -> list[dict[str, object]]:
    return [embed for request in requests for embed in request.embeds]


# The target of a link the bot built to the wiki. FakeWiki's URLs are not percent-encoded (the
# real client's are), so their raw title is left out of the checks; link labels stay in.
_WIKI_LINK_TARGET = re.compile(r"\]\(https://wiki\.example/[^)\s]*\)")


def _wiki_texts(embed: dict[str, object]) -> list[str]:
    """Description and field values, minus the bot's own 'Requested by' mention and link URLs."""
    texts = [str(embed.get("description") or "")]
    texts.extend(
        str(f["value"])
        for f in embed.get("fields", [])  # type: ignore[attr-defined]
        if f["name"] != "Requested by"
    )
    return [_WIKI_LINK_TARGET.sub("]()", text) for text in texts]


async def _full_run(harness: DiscordHarness, wiki: FakeWiki) -> None:
    wiki.previews = [ready_preview(title=EVIL_TITLE, user=EVIL_USER)]
    await harness.slash(NOBODY, page=EVIL_TITLE, user=EVIL_USER, summary=EVIL)  # denied
    prompt = await harness.open_prompt(MOD, page=EVIL_TITLE, user=EVIL_USER, summary=EVIL)
    await harness.click(MOD, prompt.confirm_id, message=prompt.message)


async def test_every_message_the_bot_sends_allows_no_mentions(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    await _full_run(harness, wiki)

    sends = [r for r in harness.discord.requests if r.carries_message]
    # denied reply, its log post, preview edit, "Rolling back…", success edit, success log post
    assert len(sends) == 6
    assert [r.allowed_mentions for r in sends] == [NO_MENTIONS_PAYLOAD] * len(sends)


async def test_wiki_text_in_embeds_is_escaped(harness: DiscordHarness, wiki: FakeWiki) -> None:
    await _full_run(harness, wiki)

    embeds = _embeds(harness.discord.requests)
    assert len(embeds) == 5
    texts = [text for embed in embeds for text in _wiki_texts(embed)]
    joined = "\n".join(texts)
    assert not _LIVE_MENTION.search(joined), _LIVE_MENTION.search(joined)
    assert "**bold**" not in joined
    assert "__under__" not in joined
    assert "[x](http://evil)" not in joined
    # Escaped, not dropped: the moderator still sees what the wiki holds.
    assert "\\*\\*bold\\*\\*" in joined
    assert "@\u200beveryone" in joined
    # The requester is shown as a mention on purpose (embeds never ping).
    log = harness.log_posts()[-1].embed
    assert embed_field(log, "Requested by") == f"<@{MOD.user_id}>"


async def test_wiki_error_text_in_the_details_field_is_escaped(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.rollbacks = [WikiAPIError("protectedpage", EVIL)]
    prompt = await harness.open_prompt(MOD)

    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    details = embed_field(click.requests[-1].embed, "Details")
    error = embed_field(harness.log_posts()[-1].embed, "Error")
    for text in (details, error):
        assert not _LIVE_MENTION.search(text)
        assert "**bold**" not in text
        assert "[x](http://evil)" not in text


async def test_unknown_wiki_error_text_in_the_description_is_escaped(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.rollbacks = [WikiAPIError("abusefilter-disallowed", EVIL)]
    prompt = await harness.open_prompt(MOD)

    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    description = click.requests[-1].embed["description"]
    assert not _LIVE_MENTION.search(description)
    assert "**bold**" not in description
    assert "[x](http://evil)" not in description


def _unescaped_brackets(text: str) -> list[int]:
    """Positions of `[` / `]` not escaped by a backslash (an even run of `\\` escapes itself)."""
    bad = []
    for match in re.finditer(r"(\\*)([\[\]])", text):
        if len(match[1]) % 2 == 0:
            bad.append(match.start(2))
    return bad


async def test_escaped_summary_leaves_no_bare_brackets(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD, summary="see [x](http://evil) and [[Talk]]")

    summary = embed_field(prompt.run.edits[-1].embed, "Summary")
    assert _unescaped_brackets(summary) == [], summary


async def test_short_id_mention_syntax_is_defused(harness: DiscordHarness, wiki: FakeWiki) -> None:
    prompt = await harness.open_prompt(MOD, summary="<@&123> <@42> <#7>")

    summary = embed_field(prompt.run.edits[-1].embed, "Summary")
    assert not re.search(r"<(@[!&]?|#)\d+>", summary), summary


async def test_log_embed_title_escapes_the_page_title(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    await harness.slash(NOBODY, page=EVIL_TITLE, user="Vandal")

    title = harness.log_posts()[-1].embed["title"]
    assert "**bold**" not in title, title
