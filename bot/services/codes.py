"""The bot's own error codes (beside MediaWiki's), each with the sentence a moderator reads."""

from __future__ import annotations

import enum


class BotCode(enum.StrEnum):
    """Codes rollbot records itself. MediaWiki's codes (`alreadyrolled`, …) are kept as the
    wiki sends them; these never collide with them."""

    MISSINGROLE = "missingrole"
    TIMEOUT = "timeout"
    TRANSPORT = "transport"
    UNVERIFIED = "unverified"
    INTERRUPTED = "interrupted"
    INTERNAL = "internal"
    WIKIERROR = "wikierror"
    WIKINOTALLOWED = "wikinotallowed"
    WIKIUNAVAILABLE = "wikiunavailable"
    # "Roll back this edit": why the linked edit cannot be rolled back.
    EDITGONE = "editgone"
    HIDDENAUTHOR = "hiddenauthor"
    NEWEREDITS = "neweredits"
    ALREADYREVERTED = "alreadyreverted"

    @property
    def sentence(self) -> str:
        return _SENTENCES[self]

    @property
    def rechecked(self) -> bool:
        """The wiki's answer was lost: the settle sweep looks at the page history again."""
        return self in _RECHECKED


_SENTENCES: dict[BotCode, str] = {
    BotCode.MISSINGROLE: "You need one of the rollback roles to do this.",
    BotCode.TIMEOUT: "The wiki did not answer in time, and the page history shows the rollback "
    "was not applied.",
    BotCode.TRANSPORT: "The wiki could not be reached or gave a broken answer; nothing was "
    "applied.",
    BotCode.UNVERIFIED: "The wiki did not answer and the bot could not check whether the "
    "rollback happened; look at the page history before trying again.",
    BotCode.INTERRUPTED: "The bot was interrupted while this rollback was in progress; the page "
    "history shows it was not applied.",
    BotCode.INTERNAL: "Something went wrong inside the bot; the request was recorded as failed.",
    BotCode.WIKIERROR: "The wiki refused the request with an error the bot does not know.",
    BotCode.WIKINOTALLOWED: "This server may not use that wiki; the bot's operator decides "
    "which wikis each server may use.",
    BotCode.WIKIUNAVAILABLE: "The bot cannot reach or log in to that wiki right now; try again "
    "later or tell the bot's operator.",
    BotCode.EDITGONE: "The linked edit is not on the wiki any more: the page was deleted (or the "
    "revision was).",
    BotCode.HIDDENAUTHOR: "The author of this edit is hidden, so the bot cannot tell whose edits "
    "to roll back; use /rollback with the user's name.",
    BotCode.NEWEREDITS: "Others have edited the page since this edit, so rolling back its author "
    "would not undo it; look at the page history.",
    BotCode.ALREADYREVERTED: "This edit was already reverted.",
}
_RECHECKED = frozenset({BotCode.TIMEOUT, BotCode.UNVERIFIED, BotCode.INTERRUPTED})
