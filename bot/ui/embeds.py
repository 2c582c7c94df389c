"""Pure functions from audit rows and wiki results to Discord embeds and texts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import discord

from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.codes import BotCode
from bot.services.log_outbox import FoldedDenials
from bot.ui.messages import describe_error
from bot.ui.text import ELLIPSIS, clip, esc, link
from bot.wiki.results import RollbackPreview, RollbackResult

# Discord's embed limits.
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
FOOTER_LIMIT = 2048
FIELDS_LIMIT = 25
EMBED_TOTAL_LIMIT = 6000
# Discord rejects longer embed and link URLs; 2,000 leaves room.
URL_LIMIT = 2000

STATUS_COLOURS: dict[RollbackStatus, discord.Colour] = {
    RollbackStatus.PENDING: discord.Colour.blurple(),
    RollbackStatus.RUNNING: discord.Colour.blurple(),
    RollbackStatus.SUCCEEDED: discord.Colour.green(),
    RollbackStatus.FAILED: discord.Colour.red(),
    RollbackStatus.DENIED: discord.Colour.dark_orange(),
    RollbackStatus.CANCELLED: discord.Colour.light_grey(),
    RollbackStatus.EXPIRED: discord.Colour.dark_grey(),
}


class WikiLinks(Protocol):
    """URL builders of the wiki client."""

    def page_url(self, title: str) -> str: ...

    def diff_url(self, diff: int, oldid: int) -> str: ...

    def contribs_url(self, user: str) -> str: ...

    def is_temp_account(self, user: str) -> bool: ...


TEMP_ACCOUNT = "temporary account"
SAME_RANGE_SHOWN = 3  # other /64 addresses named in a preview; the rest are counted


def _user_label(user: str, links: WikiLinks, *, temp: bool | None = None) -> str:
    """The user's contributions link, marked when it is a temporary account."""
    linked = safe_link(user, links.contribs_url(user))
    is_temp = links.is_temp_account(user) if temp is None else temp
    return f"{linked} ({TEMP_ACCOUNT})" if is_temp else linked


def same_range_line(ips: Sequence[str]) -> str:
    """One line naming other addresses of the target's IPv6 /64 that edited the page."""
    shown = ", ".join(f"`{ip}`" for ip in ips[:SAME_RANGE_SHOWN])
    more = f" and {len(ips) - SAME_RANGE_SHOWN} more" if len(ips) > SAME_RANGE_SHOWN else ""
    return f"Same /64 also edited this page recently: {shown}{more} (not rolled back)."


def _ts(when: datetime | None) -> str:
    return discord.utils.format_dt(when, "f") if when else "unknown time"


def _field(embed: discord.Embed, name: str, value: str, *, inline: bool = True) -> None:
    embed.add_field(name=name, value=clip(value, FIELD_LIMIT) or "—", inline=inline)


def _wiki_field(embed: discord.Embed, wiki: str | None) -> None:
    """Which wiki, where the server can use several (`wiki`: its escaped, linked label)."""
    if wiki:
        _field(embed, "Wiki", wiki)


def preview_embed(
    request: RollbackRequest,
    preview: RollbackPreview,
    links: WikiLinks,
    *,
    stale: bool = False,
    wiki: str | None = None,
) -> discord.Embed:
    """What the rollback would do, shown to the requester above Confirm / Cancel."""
    count = f"{preview.edits_to_revert}{'+' if preview.edits_capped else ''}"
    plural = "edit" if preview.edits_to_revert == 1 else "edits"
    intro = (
        "**The page changed since the preview.** This is the new state; confirm again.\n\n"
        if stale
        else ""
    )
    description = (
        f"{intro}Roll back **{count}** consecutive {plural} by "
        f"{_user_label(preview.target_user, links, temp=preview.temp_account)} on "
        f"{link(preview.title, links.page_url(preview.title))}?"
    )
    if preview.same_range_ips:
        description += f"\n\n{same_range_line(preview.same_range_ips)}"
    if preview.hidden_edits:
        description += (
            f"\n\nThe author's name is hidden on {preview.hidden_edits} of these edits "
            "(revision deletion). The wiki checks they are this user's: if not, it refuses and "
            "nothing is changed."
        )
    embed = discord.Embed(
        title="Confirm rollback",
        description=clip(description, DESCRIPTION_LIMIT),
        colour=discord.Colour.orange(),
    )
    top, restored = preview.top, preview.restored
    if restored is not None:
        _field(
            embed,
            "Restores revision",
            f"{restored.revid} by {esc(restored.user) or '*(hidden user)*'}\n"
            f"{_ts(restored.timestamp)}",
        )
    if preview.size_change is not None:
        _field(embed, "Size change", f"{preview.size_change:+,d} bytes")
    if top is not None and restored is not None:
        _field(embed, "Diff", link("changes to revert", links.diff_url(top.revid, restored.revid)))
    if request.summary:
        _field(embed, "Summary", esc(request.summary), inline=False)
    if request.markbot:
        _field(embed, "Mark as bot", "yes")
    expiry = discord.utils.format_dt(request.expires_at, "R") if request.expires_at else "soon"
    _field(embed, "Expires", expiry)
    _wiki_field(embed, wiki)
    embed.set_footer(text=f"Request #{request.id}")
    return embed


# Codes whose description already is the message (or whose message is not for moderators).
_NO_DETAILS = frozenset(
    {
        None,
        BotCode.INTERNAL,
        BotCode.WIKIUNAVAILABLE,
        BotCode.WIKINOTALLOWED,
        BotCode.EDITGONE,
        BotCode.HIDDENAUTHOR,
        BotCode.NEWEREDITS,
        BotCode.ALREADYREVERTED,
    }
)


def refused_embed(
    request: RollbackRequest, links: WikiLinks, *, wiki: str | None = None
) -> discord.Embed:
    """Why nothing was (or will be) rolled back."""
    embed = discord.Embed(
        title="Rollback not possible",
        description=clip(
            describe_error(request.error_code, request.error_message), DESCRIPTION_LIMIT
        ),
        colour=STATUS_COLOURS[RollbackStatus.FAILED],
    )
    _common_fields(embed, request, links)
    if request.error_message and request.error_code not in _NO_DETAILS:
        _field(embed, "Details", esc(request.error_message), inline=False)
    _wiki_field(embed, wiki)
    embed.set_footer(text=f"Request #{request.id} · {request.error_code or 'failed'}")
    return embed


def success_embed(
    request: RollbackRequest, result: RollbackResult, links: WikiLinks, *, wiki: str | None = None
) -> discord.Embed:
    count = request.edits_to_revert
    what = f"{count} edit{'s' if count != 1 else ''}" if count else "the edits"
    embed = discord.Embed(
        title="Rolled back",
        description=(
            f"Reverted {what} by {_user_label(request.target_user, links)} on "
            f"{link(result.title, links.page_url(result.title))}."
        ),
        colour=STATUS_COLOURS[RollbackStatus.SUCCEEDED],
    )
    _field(embed, "New revision", str(result.revid))
    _field(embed, "Diff", link("see the change", links.diff_url(result.revid, result.old_revid)))
    _field(embed, "Summary", esc(displayed_summary(result.summary)), inline=False)
    _wiki_field(embed, wiki)
    embed.set_footer(text=f"Request #{request.id}")
    return embed


def displayed_summary(saved: str) -> str:
    """The summary as the wiki displays it. rollbot sends a moderator's `$` as `&#36;` (the
    wiki would substitute `$1`), which the wiki stores as typed and renders as `$`."""
    return saved.replace("&#36;", "$")


def notice_embed(text: str, *, status: RollbackStatus, request_id: int | None) -> discord.Embed:
    """A short answer that replaces a prompt (cancelled, expired, already handled...)."""
    embed = discord.Embed(description=clip(text, DESCRIPTION_LIMIT), colour=STATUS_COLOURS[status])
    if request_id is not None:
        embed.set_footer(text=f"Request #{request_id}")
    return embed


def denied_text(required_role_ids: Collection[int]) -> str:
    roles = ", ".join(f"<@&{role_id}>" for role_id in sorted(required_role_ids))
    if not roles:
        return "Rollback is not enabled for anyone on this server yet; ask an admin to set it up."
    return f"Sorry, you need one of these roles to use /rollback: {roles}."


def log_embed(
    request: RollbackRequest,
    links: WikiLinks,
    *,
    folded: FoldedDenials | None = None,
    wiki: str | None = None,
) -> discord.Embed:
    """The log-channel record of one terminal outcome (compact for the uneventful ones).

    `folded`: for a denial, the same member's denials not posted since their previous one.

    Always within Discord's limits, whatever the wiki text: links too long for a field become
    plain text, long values are cut, and the whole embed is cut to `EMBED_TOTAL_LIMIT`.
    """
    status = RollbackStatus(request.status)
    page_url = links.page_url(request.page_title)
    embed = discord.Embed(
        title=clip(f"{status.value.capitalize()}: {esc(request.page_title)}", TITLE_LIMIT),
        url=page_url if len(page_url) <= URL_LIMIT else None,
        colour=STATUS_COLOURS[status],
        timestamp=request.updated_at,
    )
    _field(embed, "Page", safe_link(request.page_title, page_url))
    _field(embed, "User", _user_label(request.target_user, links))
    # A mention inside an embed never pings, and the log reader can click through to the member.
    _field(embed, "Requested by", f"<@{request.requester_id}>")
    if status in (RollbackStatus.SUCCEEDED, RollbackStatus.FAILED):
        if request.edits_to_revert is not None:
            _field(
                embed,
                "Edits reverted" if status is RollbackStatus.SUCCEEDED else "Edits",
                str(request.edits_to_revert),
            )
        if request.revid and request.old_revid:
            _field(
                embed,
                "Diff",
                safe_link("see the change", links.diff_url(request.revid, request.old_revid)),
            )
        if request.summary:
            _field(embed, "Summary", esc(request.summary), inline=False)
        if status is RollbackStatus.FAILED:
            _field(
                embed,
                "Error",
                f"`{esc(request.error_code or 'unknown')}` — "
                f"{esc(request.error_message or describe_error(request.error_code))}",
                inline=False,
            )
    elif status is RollbackStatus.DENIED:
        if request.error_message:
            _field(embed, "Reason", esc(request.error_message), inline=False)
        if folded is not None and folded.count:
            _field(embed, "Earlier attempts", folded_text(folded), inline=False)
    _wiki_field(embed, wiki)
    embed.set_footer(text=clip(f"Request #{request.id}", FOOTER_LIMIT))
    return fit_embed(embed)


def folded_text(folded: FoldedDenials) -> str:
    attempts = "attempt" if folded.count == 1 else "attempts"
    return f"+ {folded.count} earlier denied {attempts} in the last {_span(folded.span)}"


def _span(span: timedelta) -> str:
    seconds = max(1, round(span.total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}s"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def safe_link(label: str, url: str, limit: int = FIELD_LIMIT) -> str:
    """A Markdown link if it fits in `limit` characters, else the escaped label alone.

    Cutting a link in the middle would show broken Markdown; a percent-encoded title of 255
    non-Latin characters makes a URL of over 2,000 characters.
    """
    markdown = link(label, url)
    if len(markdown) <= limit and len(url) <= URL_LIMIT:
        return markdown
    return clip(esc(label), limit)


def fit_embed(embed: discord.Embed, limit: int = EMBED_TOTAL_LIMIT) -> discord.Embed:
    """Cut the longest field values (then the description) until the embed's total fits."""
    for _ in range(FIELDS_LIMIT + 1):
        excess = len(embed) - limit
        if excess <= 0 or not embed.fields:
            break
        index, field = max(enumerate(embed.fields), key=lambda item: len(item[1].value or ""))
        value = field.value or ""
        embed.set_field_at(
            index,
            name=field.name or "—",
            value=clip(value, max(len(ELLIPSIS), len(value) - excess)),
            inline=bool(field.inline),
        )
    excess = len(embed) - limit
    if excess > 0 and embed.description:
        embed.description = clip(embed.description, max(1, len(embed.description) - excess))
    return embed


def _common_fields(embed: discord.Embed, request: RollbackRequest, links: WikiLinks) -> None:
    _field(embed, "Page", link(request.page_title, links.page_url(request.page_title)))
    _field(embed, "User", _user_label(request.target_user, links))
    # A mention inside an embed never pings, and the log reader can click through to the member.
    _field(embed, "Requested by", f"<@{request.requester_id}>")
