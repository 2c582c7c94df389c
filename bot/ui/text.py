"""Making wiki-controlled text safe to show in Discord."""

from __future__ import annotations

import discord

ELLIPSIS = "…"


def esc(text: str | None) -> str:
    """Escape Markdown and defuse mentions in attacker-controlled text (titles, names, summaries).

    AllowedMentions.none() already stops pings; this also stops `@everyone` or a fake link
    from *looking* like one.
    """
    if not text:
        return ""
    escaped = discord.utils.escape_markdown(text, as_needed=False)
    escaped = escaped.replace("[", "\\[").replace("]", "\\]")
    return discord.utils.escape_mentions(escaped)


def clip(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis, never splitting a backslash escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    if cut.endswith("\\") and not cut.endswith("\\\\"):
        cut = cut[:-1]
    return cut + ELLIPSIS


def link(label: str, url: str, limit: int = 200) -> str:
    """A Markdown link whose label is escaped and whose URL cannot break out of `(...)`."""
    safe_url = url.replace("(", "%28").replace(")", "%29").replace(" ", "_")
    return f"[{clip(esc(label), limit)}]({safe_url})"
