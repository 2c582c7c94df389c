"""Making wiki-controlled text safe to show in Discord."""

from __future__ import annotations

import re

import discord

ELLIPSIS = "…"
# Every character Discord Markdown gives a meaning to, plus `<` (mentions, channels, emoji at
# any id length) and `:` (autolinked URLs). Discord shows a backslash-escaped one literally.
_MARKDOWN_SPECIAL = re.compile(r"([\\*_~`|\[\]()<>#:\-])")


def esc(text: str | None) -> str:
    """Escape Markdown and defuse mentions in attacker-controlled text (titles, names, summaries).

    AllowedMentions.none() already stops pings; this also stops `@everyone` or a fake link
    from *looking* like one.
    """
    if not text:
        return ""
    # One pass, so no escape is itself escaped again.
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return discord.utils.escape_mentions(escaped)


def clip(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis, never splitting a backslash escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    # An odd run of trailing backslashes ends in half an escape; drop that half.
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def link(label: str, url: str, limit: int = 200) -> str:
    """A Markdown link whose label is escaped and whose URL cannot break out of `(...)`."""
    safe_url = url.replace("(", "%28").replace(")", "%29").replace(" ", "_")
    return f"[{clip(esc(label), limit)}]({safe_url})"
