"""Builds the edit summary a rollback is saved with."""

from __future__ import annotations

from typing import Protocol

from bot.wiki.errors import WikiError

# MediaWiki's own English MediaWiki:Revertpage; the wiki fills in $1/$2.
_MEDIAWIKI_DEFAULT = (
    "Reverted edits by [[Special:Contributions/$2|$2]] ([[User talk:$2|talk]]) "
    "to last revision by $1"
)


class RevertpageSource(Protocol):
    async def default_rollback_summary(self) -> str: ...


async def wiki_default_summary(wiki: RevertpageSource) -> str:
    """The wiki's own default rollback summary, or MediaWiki's if it cannot be read."""
    try:
        return await wiki.default_rollback_summary()
    except WikiError:
        return _MEDIAWIKI_DEFAULT


# MediaWiki's CommentStore limit, in code points.
SUMMARY_LIMIT = 500
# RollbackPage substitutes $1..$6 in custom summaries with strtr() and offers no escape; an
# HTML entity survives that and MediaWiki's comment formatter still shows a literal "$".
_DOLLAR = "&#36;"
_ELLIPSIS = "…"


def _worst_case_args(restored_user: str | None, target_user: str) -> dict[str, str]:
    """What RollbackPage substitutes: $1/$2 are names we know; $3/$5 revision ids and $4/$6
    timestamps in the wiki's language, budgeted generously."""
    return {
        "$1": restored_user or "",
        "$2": target_user,
        "$3": "9" * 12,
        "$4": "x" * 40,
        "$5": "9" * 12,
        "$6": "x" * 40,
    }


def escape_dollars(text: str) -> str:
    return text.replace("$", _DOLLAR)


def attribution(requester_name: str) -> str:
    return f"(requested by {escape_dollars(requester_name)} via Discord)"


def build_summary(
    moderator_text: str | None,
    *,
    requester_name: str,
    default_message: str,
    restored_user: str | None,
    target_user: str,
) -> str:
    """The summary to send: the moderator's text (or the wiki default) plus the attribution.

    The default message keeps its `$1`/`$2` placeholders so MediaWiki fills them in; its
    expanded length is estimated with the names the preview already knows.
    """
    tail = " " + attribution(requester_name)
    text = (moderator_text or "").strip()
    if not text:
        expanded = default_message
        for placeholder, value in _worst_case_args(restored_user, target_user).items():
            expanded = expanded.replace(placeholder, value)
        if len(expanded) + len(tail) <= SUMMARY_LIMIT:
            return default_message.strip() + tail
        # A very long default (a customised MediaWiki:Revertpage) leaves no room: keep the record.
        return attribution(requester_name)[:SUMMARY_LIMIT]
    body = escape_dollars(" ".join(text.split()))
    room = SUMMARY_LIMIT - len(tail)
    if len(body) > room:
        body = body[: room - len(_ELLIPSIS)]
        # Never cut an entity in half: a stray "&#3" would print as garbage.
        cut = body.rfind("&", max(0, len(body) - len(_DOLLAR) + 1))
        if cut != -1 and not body[cut:].endswith(";"):
            body = body[:cut]
        body = body.rstrip() + _ELLIPSIS
    return body + tail
