"""The one place that turns error codes into sentences a moderator reads (the bot's own codes
carry their sentence in `BotCode`)."""

from __future__ import annotations

from bot.services.codes import BotCode
from bot.ui.text import esc

_SENTENCES: dict[str, str] = {
    "alreadyrolled": "Someone else has edited or rolled back the page since; nothing was reverted.",
    "notlasteditor": "That user is not the last editor of the page; there is nothing to roll back.",
    "onlyauthor": "That user is the only author of the page; there is no version to go back to.",
    "missingtitle": "That page does not exist on the wiki.",
    "invalidtitle": "That is not a valid page title.",
    "nosuchpageid": "That page does not exist on the wiki.",
    "baduser": "That is not a valid user name or IP address.",
    "invaliduser": "That is not a valid user name or IP address.",
    "nosuchuserid": "The wiki has no account with that user id; please check the number.",
    "permissiondenied": "The bot's wiki account is not allowed to roll back edits (it needs the "
    "rollback right and a BotPassword with the rollback grant).",
    "protectedpage": "The page is protected and the bot's wiki account may not edit it.",
    "cascadeprotected": "The page is protected by cascading protection; the bot may not edit it.",
    "blocked": "The bot's wiki account is blocked from editing.",
    "autoblocked": "The bot's wiki account is affected by an automatic block.",
    "notvisiblerev": "The revision to restore has been hidden; rollback is not possible.",
    "badtags": "The wiki rejected the change tags.",
    "ratelimited": "The wiki's rate limit for rollbacks was reached; wait a minute and try again.",
    "maxlag": "The wiki's database is lagging; try again in a little while.",
    "readonly": "The wiki is in read-only mode (maintenance); try again later.",
    "badtoken": "The wiki refused the bot's session token twice; try again.",
    "assertuserfailed": "The bot's wiki session was lost and logging in again failed.",
    "notloggedin": "The bot's wiki session was lost and logging in again failed.",
    "login": "The bot could not log in to the wiki; the operator should check its BotPassword.",
}


_OWN_CODES = frozenset(code.value for code in BotCode)


# Codes whose recorded message is more precise than the sentence: shown first.
_NAMES_THE_WIKI = frozenset(
    {
        BotCode.WIKIUNAVAILABLE,
        BotCode.WIKINOTALLOWED,
        BotCode.EDITGONE,
        BotCode.HIDDENAUTHOR,
        BotCode.NEWEREDITS,
        BotCode.ALREADYREVERTED,
    }
)


def describe_error(code: str | None, wiki_text: str | None = None) -> str:
    """A polite sentence for `code`; unknown codes fall back to the wiki's own words."""
    if code in _NAMES_THE_WIKI and wiki_text:
        # "wiki fr is unavailable: …" says which wiki, which the general sentence cannot.
        return f"{esc(wiki_text)}\n{BotCode(code).sentence}"
    if code in _OWN_CODES and not (code == BotCode.WIKIERROR and wiki_text):
        return BotCode(code).sentence
    sentence = _SENTENCES.get(code or "")
    if sentence:
        return sentence
    if wiki_text:
        return f"The wiki refused the rollback: {esc(wiki_text)}"
    return f"The rollback failed ({code or 'unknown error'})."
