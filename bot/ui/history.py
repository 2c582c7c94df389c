"""What `/rollback-log` and `/rollbot-config` show: pure render functions, and what the pager's
buttons carry.

Every embed stays within Discord's limits whatever the wiki text (see `bot.ui.embeds`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import discord

from bot.db.history import PAGE_SIZE, Count, Cursor, SearchFilters, SearchPage, Stats
from bot.db.models import ConfigChange, RollbackRequest, RollbackStatus
from bot.services.guild_settings import GuildSettings, Setting, SettingChange
from bot.ui.embeds import (
    DESCRIPTION_LIMIT,
    FIELD_LIMIT,
    STATUS_COLOURS,
    TITLE_LIMIT,
    URL_LIMIT,
    WikiLinks,
    fit_embed,
    safe_link,
)
from bot.ui.sites import WikiSites
from bot.ui.text import clip, esc

log = logging.getLogger(__name__)

STATUS_ICONS: dict[RollbackStatus, str] = {
    RollbackStatus.PENDING: "⏳",
    RollbackStatus.RUNNING: "⏳",
    RollbackStatus.SUCCEEDED: "✅",
    RollbackStatus.FAILED: "❌",
    RollbackStatus.DENIED: "⛔",
    RollbackStatus.CANCELLED: "↩️",
    RollbackStatus.EXPIRED: "⌛",
}
# Ten lines share the description's 4,096 characters.
_LINE_BUDGET = (DESCRIPTION_LIMIT - 200) // PAGE_SIZE


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _when(moment: datetime | None, style: str = "f") -> str:
    return discord.utils.format_dt(moment, style) if moment else "—"  # type: ignore[arg-type]


def _total(count: Count) -> str:
    return f"{count.value:,}+" if count.capped else f"{count.value:,}"


def describe_filters(filters: SearchFilters, moderator_name: str | None = None) -> str:
    parts: list[str] = []
    if filters.target_user is not None:
        parts.append(f"user **{esc(filters.target_user)}**")
    if filters.page_title is not None:
        parts.append(f"page **{esc(filters.page_title)}**")
    if filters.requester_id is not None:
        parts.append(f"moderator <@{filters.requester_id}>")
    if filters.status is not None:
        parts.append(f"status **{filters.status.value}**")
    if filters.wiki is not None:
        parts.append(f"wiki **{esc(filters.wiki)}**")
    if filters.since is not None:
        parts.append(f"since {_when(filters.since)}")
    if filters.until is not None:
        parts.append(f"before {_when(filters.until)}")
    return " · ".join(parts) if parts else "all requests"


def result_line(row: RollbackRequest, links: WikiLinks) -> str:
    """One request in a result list; links dropped if they would take too much room."""
    status = RollbackStatus(row.status)
    head = f"`#{row.id}` {_when(row.created_at, 'g')} {STATUS_ICONS[status]} {status.value}"
    by = f"by <@{row.requester_id}>"
    page_url, user_url = links.page_url(row.page_title), links.contribs_url(row.target_user)
    linked = (
        f"{head} · {safe_link(clip(row.page_title, 80), page_url)} · "
        f"{safe_link(clip(row.target_user, 60), user_url)} {by}"
    )
    if len(linked) <= _LINE_BUDGET:
        return linked
    plain = f"{head} · {esc(clip(row.page_title, 80))} · {esc(clip(row.target_user, 60))} {by}"
    return clip(plain, _LINE_BUDGET)


def search_embed(
    page: SearchPage, total: Count, filters: SearchFilters, sites: WikiSites, *, page_number: int
) -> discord.Embed:
    if page.rows:
        body = "\n".join(result_line(row, sites.links(row.wiki)) for row in page.rows)
    else:
        body = "No request matches." if page_number == 1 else "No more requests."
    embed = discord.Embed(
        title=f"Rollback log: {_total(total)} matching",
        description=clip(f"{describe_filters(filters)}\n\n{body}", DESCRIPTION_LIMIT),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(
        text=f"Page {page_number} · newest first · {PAGE_SIZE} per page · "
        "/rollback-log show id:<n> for details"
    )
    return fit_embed(embed)


def request_embed(
    row: RollbackRequest,
    links: WikiLinks,
    *,
    current_log_channel_id: int | None = None,
    wiki: str | None = None,
) -> discord.Embed:
    """Every recorded fact of one request (`/rollback-log show`).

    `current_log_channel_id`: the guild's log channel now, for the jump link of a row that does
    not record the channel its post went to (rows from before migration 0003).
    """
    status = RollbackStatus(row.status)
    page_url = links.page_url(row.page_title)
    embed = discord.Embed(
        title=clip(f"Request #{row.id}: {status.value} — {esc(row.page_title)}", TITLE_LIMIT),
        url=page_url if len(page_url) <= URL_LIMIT else None,
        colour=STATUS_COLOURS[status],
        timestamp=row.updated_at,
    )

    def add(name: str, value: str | None, *, inline: bool = True) -> None:
        if value:
            embed.add_field(name=name, value=clip(value, FIELD_LIMIT), inline=inline)

    add(
        "Page",
        safe_link(row.page_title, page_url) + (f" (id {row.page_id})" if row.page_id else ""),
    )
    add("Target user", safe_link(row.target_user, links.contribs_url(row.target_user)))
    add("Requested by", f"<@{row.requester_id}> ({esc(row.requester_name)})")
    add("Status", f"{STATUS_ICONS[status]} {status.value}")
    if wiki:
        add("Wiki", wiki)
    add("Requested", _when(row.created_at))
    add("Last change", _when(row.updated_at))
    add("Channel", f"<#{row.channel_id}>" if row.channel_id else None)
    add("Edits to revert", None if row.edits_to_revert is None else str(row.edits_to_revert))
    add("Mark as bot", "yes" if row.markbot else "no")
    add("Summary", esc(row.summary) if row.summary else None, inline=False)
    add(
        "Saved summary",
        esc(row.result_summary) if row.result_summary else None,
        inline=False,
    )
    add("Top revision", str(row.top_revid) if row.top_revid else None)
    add("Restores revision", str(row.restored_revid) if row.restored_revid else None)
    if row.top_revid and row.restored_revid:
        add(
            "Previewed diff",
            safe_link("changes", links.diff_url(row.top_revid, row.restored_revid)),
        )
    add("Prompt expires", _when(row.expires_at) if row.expires_at else None)
    if row.confirmed_by_id:
        add("Confirmed", f"<@{row.confirmed_by_id}> {_when(row.confirmed_at)}")
    add("New revision", str(row.revid) if row.revid else None)
    if row.revid and row.old_revid:
        add("Diff", safe_link("see the change", links.diff_url(row.revid, row.old_revid)))
    add("Previous last revision", str(row.last_revid) if row.last_revid else None)
    if row.error_code or row.error_message:
        add(
            "Error",
            f"`{esc(row.error_code or 'unknown')}` — {esc(row.error_message or '')}",
            inline=False,
        )
    add("Prompt message", str(row.prompt_message_id) if row.prompt_message_id else None)
    if row.log_message_id:
        # The channel the post went to; older rows only have today's (a post from before a
        # channel change then won't open).
        log_channel_id = row.log_channel_id or current_log_channel_id
        add(
            "Log message",
            f"[jump]({jump_url(row.guild_id, log_channel_id, row.log_message_id)})"
            if log_channel_id
            else str(row.log_message_id),
        )
    add("Log post error", esc(row.log_post_error) if row.log_post_error else None)
    add("Wiki", esc(row.wiki_api_url), inline=False)
    embed.set_footer(text=f"Request #{row.id}")
    return fit_embed(embed)


def _lines_field(embed: discord.Embed, name: str, lines: Iterable[str]) -> None:
    """A field of whole lines: the lines that fit in 1,024 characters, then "…"."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > FIELD_LIMIT - 2:
            kept.append("…")
            break
        kept.append(line)
        used += len(line) + 1
    embed.add_field(name=name, value="\n".join(kept) or "—", inline=False)


def stats_embed(
    stats: Stats, links: WikiLinks, *, since: datetime | None, wiki: str | None = None
) -> discord.Embed:
    """`wiki`: the wiki's label where the server can use several (the counts are of it alone)."""
    period = f"since {_when(since)}" if since else "all time"
    if wiki is not None:
        period = f"{wiki}, {period}"
    embed = discord.Embed(
        title=f"Rollback log statistics ({stats.total:,} requests)",
        description=period,
        colour=discord.Colour.blurple(),
    )
    _lines_field(
        embed,
        "By outcome",
        (
            f"{STATUS_ICONS[status]} {status.value}: **{stats.by_status.get(status, 0):,}**"
            for status in RollbackStatus
            if stats.by_status.get(status)
        ),
    )
    _lines_field(
        embed,
        "By moderator (requests, succeeded)",
        (
            f"<@{m.requester_id}> ({esc(clip(m.requester_name, 40))}): "
            f"**{m.requests:,}**, {m.succeeded:,} succeeded"
            for m in stats.by_moderator
        ),
    )
    _lines_field(
        embed,
        "Most reverted users",
        (
            f"{safe_link(clip(user, 60), links.contribs_url(user), 300)}: **{n:,}**"
            for user, n in stats.top_users
        ),
    )
    _lines_field(
        embed,
        "Most reverted pages",
        (
            f"{safe_link(clip(title, 60), links.page_url(title), 300)}: **{n:,}**"
            for title, n in stats.top_pages
        ),
    )
    return fit_embed(embed)


# ---- /rollbot-config -------------------------------------------------------------------------

SETTING_LABELS: dict[Setting, str] = {
    Setting.LOG_CHANNEL: "Log channel",
    Setting.ROLLBACK_ROLES: "Rollback roles",
    Setting.VIEWER_ROLES: "Log-viewer roles",
    Setting.WIKI: "Default wiki",
}


def config_embed(settings: GuildSettings, changes: Sequence[ConfigChange]) -> discord.Embed:
    embed = discord.Embed(
        title="rollbot settings for this server",
        description="“(default)” values come from the bot's `.env`; "
        "`/rollbot-config reset` returns a setting to its default.",
        colour=discord.Colour.blurple(),
    )
    for setting in Setting:
        embed.add_field(
            name=SETTING_LABELS[setting],
            value=clip(settings.describe(setting), FIELD_LIMIT),
            inline=False,
        )
    embed.add_field(
        name="Wikis this server may use (set by the bot's operator)",
        value=clip(", ".join(f"`{key}`" for key in settings.wikis) or "none", FIELD_LIMIT),
        inline=False,
    )
    if not settings.rollback_role_ids:
        embed.add_field(
            name="Warning", value="No role may use /rollback on this server.", inline=False
        )
    _lines_field(
        embed,
        "Recent changes",
        (
            f"{_when(change.created_at, 'R')} <@{change.changed_by_id}> {change.setting}: "
            f"{clip(change.old_value, 200)} → {clip(change.new_value, 200)}"
            for change in changes
        ),
    )
    return fit_embed(embed)


def config_change_embed(change: SettingChange) -> discord.Embed:
    """The log-channel record of one settings change."""
    embed = discord.Embed(
        title="rollbot settings changed",
        description=clip(
            f"<@{change.changed_by.user_id}> ({esc(change.changed_by.display_name)}) changed "
            f"**{SETTING_LABELS[change.setting]}**",
            DESCRIPTION_LIMIT,
        ),
        colour=discord.Colour.gold(),
        timestamp=change.at,
    )
    embed.add_field(name="Before", value=clip(change.old_text, FIELD_LIMIT), inline=False)
    embed.add_field(name="After", value=clip(change.new_text, FIELD_LIMIT), inline=False)
    return fit_embed(embed)


# ---- the pager ---------------------------------------------------------------------------------

PREV_LABEL = "Prev"
NEXT_LABEL = "Next"
PageDirection = Literal["newer", "older"]  # Prev shows newer rows, Next older ones

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MAX_PAGE_NUMBER = 999_999_999
# Where a disabled button without a row to start from points (Discord sends no click).
_NOWHERE = Cursor(_EPOCH, 0)
# rollbot:log:<search id>:<p|n>:<page number>:<row id>:<row created_at, µs since 1970>
PAGE_CUSTOM_ID = re.compile(
    r"rollbot:log:(?P<search_id>[0-9]{1,10}):(?P<direction>[pn]):(?P<page>[0-9]{1,9})"
    r":(?P<row_id>[0-9]{1,10}):(?P<micros>[0-9]{1,16})"
)


@dataclass(frozen=True, slots=True)
class PageClick:
    """What a Prev / Next button asks for: the page of saved search `search_id` just newer or
    older than `cursor`, numbered `page_number`. All of it travels in the custom_id (at most
    62 characters), so a click needs nothing kept in memory."""

    search_id: int
    direction: PageDirection
    cursor: Cursor
    page_number: int

    @property
    def label(self) -> str:
        return PREV_LABEL if self.direction == "newer" else NEXT_LABEL

    @property
    def custom_id(self) -> str:
        # Exact integer microseconds: the cursor must compare equal to the row's created_at.
        micros = (self.cursor.created_at - _EPOCH) // _MICROSECOND
        code = "p" if self.direction == "newer" else "n"
        number = min(self.page_number, _MAX_PAGE_NUMBER)
        return f"rollbot:log:{self.search_id}:{code}:{number}:{self.cursor.id}:{micros}"

    @classmethod
    def from_match(cls, match: re.Match[str]) -> PageClick:
        """The click a custom_id matching `PAGE_CUSTOM_ID` describes (the regex bounds every
        number, so this cannot fail)."""
        created_at = _EPOCH + int(match["micros"]) * _MICROSECOND
        return cls(
            search_id=int(match["search_id"]),
            direction="newer" if match["direction"] == "p" else "older",
            cursor=Cursor(created_at, int(match["row_id"])),
            page_number=max(1, int(match["page"])),
        )


@dataclass(frozen=True, slots=True)
class PagerButton:
    click: PageClick
    enabled: bool


def pager_buttons(
    search_id: int, page: SearchPage, page_number: int, *, came_from: Cursor | None = None
) -> tuple[PagerButton, PagerButton]:
    """Prev and Next under page `page_number` of a saved search.

    `came_from`: for an empty page reached by Next (the rows after it stopped matching, e.g. a
    status changed), the cursor Next started from; Prev then leads back to the page ending
    with that row.
    """
    newer: Cursor | None = page.first
    if newer is None and came_from is not None:
        # "Newer than (t, id - 1)" includes the row (t, id) itself.
        newer = Cursor(came_from.created_at, came_from.id - 1)
    previous = PagerButton(
        PageClick(search_id, "newer", newer or _NOWHERE, max(1, page_number - 1)),
        enabled=page.has_newer and newer is not None,
    )
    following = PagerButton(
        PageClick(search_id, "older", page.last or _NOWHERE, page_number + 1),
        enabled=page.has_older and page.last is not None,
    )
    return previous, following
