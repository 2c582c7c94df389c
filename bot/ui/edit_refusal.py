"""Why "Roll back this edit" offers no buttons: one sentence about the linked edit, linked."""

from __future__ import annotations

import discord

from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.codes import BotCode
from bot.services.edit_check import EditCheck
from bot.ui.embeds import (
    DESCRIPTION_LIMIT,
    FIELD_LIMIT,
    STATUS_COLOURS,
    WikiLinks,
    fit_embed,
    safe_link,
)
from bot.ui.messages import describe_error
from bot.ui.text import clip, esc


def edit_refusal_text(check: EditCheck, links: WikiLinks) -> str:
    """The moderator's sentence (the issue's words: "N newer edits by others since", "already
    reverted by X at T", "the author of this edit is hidden", "the page was deleted")."""
    code = check.code
    if code is BotCode.EDITGONE:
        return (
            f"Cannot roll back: the page was deleted (or revision {check.revid} was), so the "
            "linked edit is not on the wiki any more."
        )
    if code is BotCode.HIDDENAUTHOR:
        return (
            "Cannot roll back: the author of this edit is hidden, so the bot cannot tell whose "
            "edits to revert. Use /rollback with the user's name if you know it."
        )
    if code is BotCode.ALREADYREVERTED:
        by = check.reverted_by
        if by is None:
            return "Nothing to do: this edit was already reverted."
        who = safe_link(by.user, links.contribs_url(by.user), 600) if by.user else "a hidden user"
        when = f"<t:{int(by.timestamp.timestamp())}:f>"
        diff = safe_link("the revert", links.diff_url(by.revid, by.parentid))
        return f"Nothing to do: this edit was already reverted by {who} at {when} ({diff})."
    if code is BotCode.NEWEREDITS:
        count = f"{check.newer_by_others}{'+' if check.more else ''}"
        return (
            f"Not offered: {count} newer edits by others since this edit, so rolling back its "
            "author would not undo it. Look at the page history."
        )
    return ""


def edit_refused_embed(
    request: RollbackRequest, check: EditCheck | None, links: WikiLinks, *, wiki: str | None
) -> discord.Embed:
    text = edit_refusal_text(check, links) if check is not None else ""
    embed = discord.Embed(
        title="Rollback not possible",
        description=clip(
            text or describe_error(request.error_code, request.error_message), DESCRIPTION_LIMIT
        ),
        colour=STATUS_COLOURS[RollbackStatus.FAILED],
    )
    edit = check.edit if check is not None else None
    if edit is not None:
        embed.add_field(name="Page", value=safe_link(edit.title, links.page_url(edit.title)))
        revision = edit.revision
        if revision.user:
            embed.add_field(
                name="Author", value=safe_link(revision.user, links.contribs_url(revision.user))
            )
        embed.add_field(
            name="Edit",
            value=safe_link(
                f"revision {revision.revid}", links.diff_url(revision.revid, revision.parentid)
            ),
        )
    elif check is not None:
        embed.add_field(name="Edit", value=esc(f"revision {check.revid}"))
    if wiki is not None:
        embed.add_field(name="Wiki", value=clip(wiki, FIELD_LIMIT))
    embed.set_footer(text=f"Request #{request.id} · {request.error_code or 'failed'}")
    return fit_embed(embed)
